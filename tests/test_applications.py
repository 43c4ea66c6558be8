"""Verify with the real applications, and verify files the applications (or Excel's form) saved.

Every workbook here is checked with all five engines at once (``--engine all``): built files of
two sizes, their LibreOffice- and Gnumeric-saved copies, an Excel-style shared-formula copy and
one with stale caches; and a tampered copy of each must fail with the sheet and cell named.
LibreOffice takes seconds per run, so each file is recalculated once per module and the checks
share it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sheetxml import as_shared, blocks, set_formula

import bnsheet
from bnsheet import engines
from bnsheet.a1 import parse_area
from bnsheet.checking.report import Report
from bnsheet.cli import main
from bnsheet.engines import gnumeric, libreoffice
from bnsheet.reading.xlsx import XlsxFile

ENGINES = ["formualizer", "gnumeric", "libreoffice", "ironcalc", "formulas"]

pytestmark = pytest.mark.apps("soffice", "ssconvert")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apps")


@pytest.fixture(scope="module")
def built(folder: Path) -> dict[str, Path]:
    """Two sizes: the default 4x3, and 6x5 with full-precision inputs of mixed magnitudes."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (6, 5)) * np.array([1e-3, 1.0, 10.0, 1e3, 1e5])
    return {
        "4x3": bnsheet.build(folder / "b4x3.xlsx"),
        "6x5": bnsheet.build(folder / "b6x5.xlsx", x=x, gamma=rng.normal(1, 0.5, (1, 5)),
                             beta=rng.normal(0, 1, (1, 5)), dout=rng.normal(0, 1e-2, (6, 5)), eps=1e-3),
    }  # fmt: skip


def _cached(path: Path, wrong: bool = False) -> dict[tuple[str, int, int], float | str]:
    """Each formula cell's value as an engine computes it (doubled where ``wrong``), for <v> caches."""
    values = engines.recalculate("formualizer", path, blocks(path))
    cached: dict[tuple[str, int, int], float | str] = {}
    for area, block in values.items():
        for (i, j), value in np.ndenumerate(block):
            cached[(area.sheet, area.top + i, area.left + j)] = value * 2 + 1 if wrong else value
    return cached


@pytest.fixture(scope="module")
def copies(folder: Path, built: dict[str, Path]) -> dict[str, Path]:
    """The 4x3 workbook as LibreOffice and Gnumeric save it, and in Excel's shared-formula form."""
    source = built["4x3"]
    with ThreadPoolExecutor(2) as pool:  # two applications at once, each in its own workspace
        lo = pool.submit(libreoffice.save, source, folder / "saved-by-libreoffice.xlsx")
        gn = pool.submit(gnumeric.save, source, folder / "saved-by-gnumeric.xlsx")
        saved = {"libreoffice": lo.result(), "gnumeric": gn.result()}
    saved["shared"] = as_shared(source, folder / "shared.xlsx", _cached(source))
    saved["stale"] = as_shared(source, folder / "stale.xlsx", _cached(source, wrong=True))
    return saved


@pytest.fixture(scope="module")
def reports(built: dict[str, Path], copies: dict[str, Path]) -> dict[str, Report]:
    """``verify --engine all`` of every workbook, two at a time (each LibreOffice run has its own profile)."""
    files = {**built, **copies}
    with ThreadPoolExecutor(2) as pool:
        futures = {kind: pool.submit(bnsheet.verify, path, engine="all") for kind, path in files.items()}
        return {kind: future.result() for kind, future in futures.items()}


@pytest.mark.parametrize("kind", ["4x3", "6x5", "libreoffice", "gnumeric", "shared"])
def test_every_engine_verifies_clean(reports, kind):
    report = reports[kind]
    assert report.ok, report.to_text()
    table = report.table
    assert [c for c in table.columns if c.startswith("status_")] == [f"status_{e}" for e in ENGINES]
    for engine in ENGINES:
        assert set(table[f"status_{engine}"]) == {"ok"}, engine
    assert len(report.agreement) == 10  # every pair of the five engines


def test_stale_caches_fail_in_every_engine_naming_the_cell_and_what_a_recalculation_shows(reports, copies):
    with XlsxFile(copies["stale"]) as book:  # the caches really are wrong: 2·v + 1
        cached = book.cells("xhat")[(7, 3)].value
    xhat = bnsheet.reference.nodes(*_inputs(copies["stale"]))["xhat"][0, 0]
    assert cached == pytest.approx(2 * xhat + 1)
    table = reports["stale"].table.set_index("node")
    assert set(table["status"]) == {"stale"}
    for engine in ENGINES:
        assert set(table[f"status_{engine}"]) == {"stale"}, engine
    assert table.loc["xhat", "first_bad_cell"] == "'xhat'!C7" and table.loc["xhat", "got"] == cached
    assert table.loc["xhat", "expected"] == pytest.approx(xhat, rel=1e-14)
    assert reports["shared"].notes == [] and reports["4x3"].notes == []


def test_saved_copies_are_in_the_applications_own_form(copies):
    with XlsxFile(copies["shared"]) as book:
        cells = book.cells("xmu")
        assert cells[(7, 3)].shared is False and cells[(10, 5)].shared is True
        assert cells[(10, 5)].formula == "='x'!E10-'mean'!E$7"
    with XlsxFile(copies["libreoffice"]) as book:
        # LibreOffice's own fault, kept visible: it writes the sheet name dx1 unquoted, which is
        # also a cell address (SPEC §3.1). Our reader and the engines take it as the sheet.
        assert book.cells("dx")[(7, 3)].formula == "=dx1!C7+dx2!C7"
    with XlsxFile(copies["gnumeric"]) as book:
        assert book.cells("dx")[(7, 3)].formula == "='dx1'!C7+'dx2'!C7"


# A wrong formula in one cell of each kind of file; inside the shared copy it is a cell with its own
# formula overriding the shared one, on a sheet that reads 'dx1' (formualizer's weak spot).
TAMPERED = {
    "4x3": ("xhat", "D9", "'xmu'!D9*'ivar'!D$7*1.5"),
    "libreoffice": ("dvar", "E7", "0.5/SQRT('var'!E$7+bn_eps)*'dsqrtvar'!E$7*2"),
    "gnumeric": ("dxmu2", "C10", "3*'xmu'!C10*'dsq'!C10"),
    "shared": ("dx", "C8", "'dx1'!C8-'dx2'!C8"),
}


@pytest.fixture(scope="module")
def tampered(folder: Path, built: dict[str, Path], copies: dict[str, Path]) -> dict[str, Report]:
    files = {**built, **copies}
    paths = {
        kind: set_formula(files[kind], folder / f"tampered-{kind}.xlsx", sheet, address, formula)
        for kind, (sheet, address, formula) in TAMPERED.items()
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {kind: pool.submit(bnsheet.verify, path, engine="all") for kind, path in paths.items()}
        return {kind: future.result() for kind, future in futures.items()}


@pytest.mark.parametrize("kind", list(TAMPERED))
def test_a_tampered_copy_fails_with_sheet_and_cell(tampered, kind):
    sheet, address, _ = TAMPERED[kind]
    report = tampered[kind]
    assert not report.ok
    row = report.table.set_index("node").loc[sheet]
    assert row.status == "mismatch" and row.first_bad_cell == f"'{sheet}'!{address}"
    for engine in ENGINES:  # every engine sees it, formualizer inside the shared range too
        assert row[f"status_{engine}"] == "mismatch", engine
    assert f"'{sheet}'!{address}" in report.to_text()


def test_command_line_all_engines_exit_status(built, folder, capsys):
    assert main(["verify", str(built["4x3"]), "--engine", "libreoffice"]) == 0
    assert "engine: libreoffice" in capsys.readouterr().out
    bad = set_formula(built["4x3"], folder / "cli-bad.xlsx", "ivar", "C7", "2/'sqrtvar'!C$7")
    assert main(["verify", str(bad), "--engine", "gnumeric"]) == 1
    assert "'ivar'!C7" in capsys.readouterr().out


def test_verify_leaves_no_application_or_workspace_behind(built, tmp_path, monkeypatch):
    import tempfile

    # A private temporary folder: other LibreOffice runs on the machine must not count.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bnsheet.verify(built["4x3"], engine="libreoffice")
    assert _leftovers_after_exit(tmp_path) == (set(), set())


def _leftovers_after_exit(folder: Path, seconds: float = 10.0) -> tuple[set[str], set[int]]:
    """What is left of LibreOffice runs in ``folder`` once killed helpers have had ``seconds`` to exit:
    verify kills its process group as it returns, and a SIGKILLed process is gone a moment later."""
    deadline = time.monotonic() + seconds
    while (found := _leftovers(folder)) != (set(), set()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _leftovers(folder: Path) -> tuple[set[str], set[int]]:
    workspaces = {p.name for p in folder.glob("bnsheet-libreoffice-*")}
    processes = set()
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"{folder}/bnsheet-libreoffice-".encode() in status.read_bytes():
                processes.add(int(status.parent.name))
        except OSError:
            continue
    return workspaces, processes


def _inputs(path: Path) -> list[np.ndarray]:
    with XlsxFile(path) as book:
        arrays = []
        for name in ("x", "gamma", "beta", "dout"):
            area = parse_area(book.names[f"bn_{name}"])
            assert area is not None
            cells = book.cells(area.sheet)
            arrays.append(np.array([[cells[(r, c)].value for c in range(area.left, area.right + 1)]
                                    for r in range(area.top, area.bottom + 1)]))  # fmt: skip
        return arrays
