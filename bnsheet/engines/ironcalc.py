"""The IronCalc engine: a Rust spreadsheet engine, loaded in-process and made to recalculate."""

from __future__ import annotations

import os
import re
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from ..a1 import Area
from ..errors import EngineError, WorkbookError
from ..reading import package
from ..values import CellValue, ErrorValue

NAME = "ironcalc"

# IronCalc's own names for errors Excel has no value for, in the texts the other engines give.
_ERRORS = {"#CIRC!": "#CIRCULAR!"}

# ironcalc (0.9) holds the GIL while it loads and evaluates, so running one at a time costs nothing;
# it also keeps two of them from redirecting the one file descriptor 1 of the process at once.
_ONE_AT_A_TIME = threading.Lock()


def installed() -> bool:
    return find_spec("ironcalc") is not None


def recalculate(path: Path, areas: list[Area], vetted: Callable[[], None] = lambda: None) -> dict[Area, np.ndarray]:
    """The copy (see _prepared) is made while the file is being vetted; it is loaded after."""
    with tempfile.TemporaryDirectory(prefix="bnsheet-ironcalc-") as folder:
        copy = Path(folder) / "book.xlsx"
        try:
            package.copy(path, copy, _prepared, compression=zipfile.ZIP_STORED)
        except (WorkbookError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            vetted()  # a file that vet refuses gets vet's word on why
            raise EngineError(f"ironcalc could not read {path}: {exc}") from None
        vetted()
        with _ONE_AT_A_TIME:
            return _read(_evaluated(copy, path), areas)


_CELL_STYLES = re.compile(rb"<(?:\w+:)?cellStyles\b")
_NORMAL = b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'


# A variance function of one range, in a formula: ironcalc computes each as Σx² − (Σx)²/n (below).
_SPREAD = re.compile(
    rb"(?<![A-Za-z0-9_.])(?:_xlfn\.)?(DEVSQ|VARP|VAR\.P|VAR\.S|VAR|STDEVP|STDEV\.P|STDEV\.S|STDEV)\(([^(),<]+)\)"
)
# What each means, written with the deviations from the mean ({r} is the range).
_TWO_PASS = {
    b"DEVSQ": b"SUMPRODUCT(({r}-AVERAGE({r}))^2)",
    b"VARP": b"SUMPRODUCT(({r}-AVERAGE({r}))^2)/COUNT({r})",
    b"VAR.P": b"SUMPRODUCT(({r}-AVERAGE({r}))^2)/COUNT({r})",
    b"VAR": b"SUMPRODUCT(({r}-AVERAGE({r}))^2)/(COUNT({r})-1)",
    b"VAR.S": b"SUMPRODUCT(({r}-AVERAGE({r}))^2)/(COUNT({r})-1)",
    b"STDEVP": b"SQRT(SUMPRODUCT(({r}-AVERAGE({r}))^2)/COUNT({r}))",
    b"STDEV.P": b"SQRT(SUMPRODUCT(({r}-AVERAGE({r}))^2)/COUNT({r}))",
    b"STDEV": b"SQRT(SUMPRODUCT(({r}-AVERAGE({r}))^2)/(COUNT({r})-1))",
    b"STDEV.S": b"SQRT(SUMPRODUCT(({r}-AVERAGE({r}))^2)/(COUNT({r})-1))",
}


# An empty cell written with the number type, as openpyxl writes a styled empty cell: <c r="D7" s="5" t="n"></c>.
_EMPTY_NUMBER = re.compile(rb'<c\b([^>]*?)\s+t="n"([^>]*?)(?:/>|>\s*</c>)')


def _prepared(name: str, data: bytes) -> bytes:
    """The package as ironcalc can compute it right; the three faults of ironcalc 0.9 worked around
    (tests/test_engine_faults.py keeps each visible):

    - a stylesheet without its list of cell styles is given one, with the style every workbook
      has: ironcalc panics while loading a stylesheet without the optional ``<cellStyles>``, as
      Gnumeric writes it; styles change no value;
    - ``DEVSQ(r)`` becomes ``SUMPRODUCT((r-AVERAGE(r))^2)``, what DEVSQ means, and VARP, VAR,
      STDEVP, STDEV (and their .P/.S forms) of one range the same with the division (and the
      root): ironcalc computes each in one pass, Σx² − (Σx)²/n, which loses every digit to a large
      mean (the plots' variances; a learner's or user's ``=VARP('x'!C$7:C$10)``);
    - an empty cell typed as a number (``t="n"`` and no value, as openpyxl saves a styled empty
      cell) loses its type: ironcalc counts it as a number, so COUNT and AVERAGE over a block
      with empty cells differ from every other application's.

    The package is read as bytes only (reading.package.copy), so this may run before the file is
    vetted.
    """
    if name.startswith("xl/worksheets/"):
        if b't="n"' in data:
            data = _EMPTY_NUMBER.sub(lambda m: b"<c" + m[1] + m[2] + b"/>", data)
        if b"DEV" in data or b"VAR" in data:
            data = _SPREAD.sub(lambda m: _TWO_PASS[m[1]].replace(b"{r}", m[2]), data)
        return data
    if name != "xl/styles.xml" or _CELL_STYLES.search(data):
        return data
    end = data.rfind(b"</")  # the stylesheet's own closing tag
    return data[:end] + _NORMAL + data[end:] if end >= 0 else data


def _evaluated(copy: Path, path: Path) -> Any:
    """IronCalc's model of ``copy``, every formula evaluated.

    Loading alone is not enough: until ``evaluate()`` runs, each formula cell holds the value
    cached in the file (tests/test_ironcalc.py gives it a workbook whose caches are wrong). While
    it loads a file without cached values, IronCalc prints a line per formula cell to its
    standard output (tests/test_engine_faults.py shows it), so file descriptor 1 is pointed
    elsewhere meanwhile: a million lines would bury a report, or break ``verify --json``.
    """
    import ironcalc as ic

    try:
        with _stdout_discarded():
            model = ic.load_from_xlsx(str(copy), "en", "UTC")
            model.evaluate()
    except BaseException as exc:  # WorkbookError, or a Rust panic (PanicException is a BaseException)
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise EngineError(f"ironcalc could not evaluate {path}: {exc}") from None
    return model


@contextmanager
def _stdout_discarded() -> Iterator[None]:
    """File descriptor 1 sent to the null device for the block, put back afterwards whatever happens.
    What Python holds in sys.stdout's buffer stays there and is written after."""
    saved = os.dup(1)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _read(model: Any, areas: list[Area]) -> dict[Area, np.ndarray]:
    import ironcalc as ic

    sheets = {sheet["name"]: index for index, sheet in enumerate(model.get_worksheets_properties())}
    error = ic.CellType.ErrorValue
    values: dict[Area, np.ndarray] = {}
    for area in areas:
        block = np.full(area.shape, None, dtype=object)
        index = sheets.get(area.sheet)
        if index is not None:
            for i, row in enumerate(range(area.top, area.bottom + 1)):
                for j, col in enumerate(range(area.left, area.right + 1)):
                    value = model.get_cell_value(index, row, col)
                    if type(value) is not float:
                        value = _value(value, model.get_cell_type(index, row, col) == error)
                    block[i, j] = value
        values[area] = block
    return values


def _value(value: object, is_error: bool) -> CellValue:
    if is_error:
        text = str(value)
        return ErrorValue(_ERRORS.get(text, text))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)
