"""``bnsheet map``: a first map of a workbook laid out by hand, from a vetted file (SPEC §18)."""

from __future__ import annotations

from pathlib import Path

from ..engines import libreoffice
from ..model.graph import Graph, load
from ..reading import vetting
from ..reading.propose import propose
from ..reading.xlsx import XlsxFile


def propose_map(path: str | Path, graph: Graph | None = None) -> str:
    """A first map of a workbook laid out by hand, as TOML for the user to check: the file is
    vetted (an .ods converted as verify converts it), then its defined names and labels say where
    each block seems to sit (reading/propose.py)."""
    path = Path(path)
    if path.suffix.lower() == ".ods":
        with libreoffice.xlsx_of_ods(path) as converted:
            return propose_map(converted, graph).replace(converted.name, path.name)
    vetting.vet(path)
    with XlsxFile(path) as book:
        return propose(book, graph or load())
