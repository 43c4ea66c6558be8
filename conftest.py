"""Doctests (the package's and README's) run as a user would in a project folder of their own: an
empty temporary folder with an ``output/`` in it, so what they build never lands in this
repository's ``output/`` (tests/test_doctests.py checks it)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _doctests_in_a_folder_of_their_own(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        folder = request.getfixturevalue("tmp_path")
        (folder / "output").mkdir()
        request.getfixturevalue("monkeypatch").chdir(folder)
