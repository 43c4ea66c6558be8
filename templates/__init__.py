"""The graph templates bnsheet ships: TOML files, installed as the package bnsheet.templates."""
