"""The version of bnsheet: the installed distribution's, or the checkout's pyproject.toml when not installed."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path


def version() -> str:
    """bnsheet's version, as ``pip show bnsheet`` gives it; ``0+unknown`` if neither source has one."""
    try:
        return metadata.version("bnsheet")
    except metadata.PackageNotFoundError:
        pass
    try:
        with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return "0+unknown"
    return str(project["version"]) if project.get("name") == "bnsheet" and "version" in project else "0+unknown"


__version__ = version()
