"""The formualizer engine: a Rust spreadsheet engine, loaded in-process."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib.util import find_spec
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from ..a1 import Area, looks_like_cell, split_address
from ..errors import EngineError, WorkbookError
from ..limits import MAX_PARTS, MAX_UNPACKED_BYTES
from ..reading import package
from ..reading.xlsx import XlsxFile
from ..values import CellValue, ErrorValue

NAME = "formualizer"

_ERRORS = {
    "Div": "#DIV/0!",
    "Num": "#NUM!",
    "Value": "#VALUE!",
    "Ref": "#REF!",
    "Name": "#NAME?",
    "Na": "#N/A",
    "NA": "#N/A",
    "Null": "#NULL!",
    "Circ": "#CIRCULAR!",
    "Spill": "#SPILL!",
    "Calc": "#CALC!",
}


def installed() -> bool:
    return find_spec("formualizer") is not None


def recalculate(path: Path, areas: list[Area], vetted: Callable[[], None] = lambda: None) -> dict[Area, np.ndarray]:
    """The quote-free copy (see below) is made while the file is being vetted; it is loaded after."""
    return recalculate_variants(path, areas, (), vetted)[0]


def recalculate_variants(
    path: Path, areas: list[Area], variants: Sequence[Mapping[Area, np.ndarray]], vetted: Callable[[], None]
) -> list[dict[Area, np.ndarray]]:
    """The workbook as it is, then with each variant's numbers set in the loaded workbook and the
    workbook evaluated again: loading, the larger part of the cost, happens once."""
    return Session(path, vetted).run(areas, variants)


class Session:
    """A workbook loaded once and recalculated as often as asked, each time with some areas
    holding given numbers (grade asks again with the expected values of wrong blocks in place):
    loading and the quote-free copy are made once.

    Every run sets all of its variant's areas, so what an earlier run set is overwritten wherever
    the later run sets the same areas (grade's runs set the inputs and a growing set of blocks)."""

    def __init__(self, path: Path, vetted: Callable[[], None] = lambda: None) -> None:
        self.path = path
        try:
            package, shared = _needless_quotes_removed(path)
        except (EngineError, WorkbookError):
            vetted()  # a file that vet refuses gets vet's word on why
            raise
        vetted()
        try:
            self.book = _load(package)
            self.book.set_changelog_enabled(False)  # nothing is undone; with it, setting inputs takes twice as long
            del package  # the engine holds what it read; the copy's bytes (93 MB at 512x128) may go
            for sheet, r, c, formula in _shared_formulas_to_expand(path) if shared else []:
                self.book.sheet(sheet).set_formula(r, c, formula)
        except Exception as exc:  # the engine's own exception types vary by version
            raise EngineError(f"formualizer could not evaluate {path}: {exc}") from None

    def run(
        self,
        areas: list[Area],
        variants: Sequence[Mapping[Area, np.ndarray]],
        *,
        as_is: bool = True,
        read: list[Area] | None = None,
    ) -> list[dict[Area, np.ndarray]]:
        """The values of ``areas``: with ``as_is`` first as the workbook stands, then per variant
        those of ``read`` where given (grade judges only the exercise blocks at the trials)."""
        book = self.book
        runs = []
        try:
            if as_is:
                book.evaluate_all()
                runs.append(_read(book, areas))
            for variant in variants:
                for area, numbers in variant.items():
                    book.set_values_batch(area.sheet, area.top, area.left, numbers.astype(float).tolist())
                book.evaluate_all()
                runs.append(_read(book, areas if read is None else read))
        except Exception as exc:  # the engine's own exception types vary by version
            raise EngineError(f"formualizer could not evaluate {self.path}: {exc}") from None
        return runs


def recalculate_bytes(data: bytes, areas: list[Area]) -> dict[Area, np.ndarray]:
    """Like :func:`recalculate`, for a workbook held in memory (the builder's cached values)."""

    try:
        book = _load(_needless_quotes_removed(data)[0])
        book.evaluate_all()
    except Exception as exc:  # the engine's own exception types vary by version
        raise EngineError(f"formualizer could not evaluate the workbook: {exc}") from None
    return _read(book, areas)


def _load(package: bytes) -> Any:
    """formualizer's workbook of an uncompressed package. Its own package limits are bnsheet's
    (limits.py): by default it stops at 256 MiB unpacked, about 4 M formula cells, below what
    vetting passes and build writes; its limit on input bytes is meant for the compressed file, so
    it is this package's size."""
    import formualizer as fz

    limits = {
        "max_input_bytes": len(package),
        "max_expanded_bytes": MAX_UNPACKED_BYTES,
        "max_part_bytes": MAX_UNPACKED_BYTES,
        "max_entries": MAX_PARTS,
    }
    # One thread: evaluating on two (its default) was no faster at 512x128, where verify's reader
    # takes the other core, held 40 MB more, and took twice as long to recalculate a small
    # workbook (a grading run's cost; its workers take a core each).
    serial = fz.EvaluationConfig()
    serial.enable_parallel = False
    return fz.Workbook.from_bytes(package, load_limits=limits, config=fz.WorkbookConfig(eval_config=serial))


def _read(book: Any, areas: list[Area]) -> dict[Area, np.ndarray]:
    import formualizer as fz

    sheets = set(book.sheet_names)
    values: dict[Area, np.ndarray] = {}
    for area in areas:
        block = np.full(area.shape, None, dtype=object)
        if area.sheet in sheets:
            rows = book.sheet(area.sheet).get_values(
                fz.RangeAddress(area.sheet, area.top, area.left, area.bottom, area.right)
            )
            cells = list(chain.from_iterable(rows))
            if len(rows) == area.shape[0] and len(cells) == block.size and {*map(type, cells)} <= {float}:
                block.ravel()[:] = cells  # the common case: every cell a number, no call per cell
            else:
                for i, row in enumerate(rows):
                    block[i, :] = [_value(value) for value in row]
        values[area] = block
    return values


# A sheet name in quotes that may need none, not the end of a name holding a quote ('a''b'!).
_QUOTED_NAME = rb"'(?<!'')([A-Za-z_][A-Za-z0-9_]{0,30})'!"
# Those that do need them: like a cell (dx1) or R1C1 address, or a boolean.
_NEEDS_QUOTES = re.compile(rb"[A-Za-z]{1,3}[0-9]+|[RrCc][0-9]*|[Rr][0-9]*[Cc][0-9]*|(?i:true|false)")
# A string literal or an entity in a formula; possessive (*+), so that a formula without one is
# passed over once rather than backtracked through (4x faster at 512x128).
_TEXT_IN_FORMULA = re.compile(rb'<f>[^<"&]*+["&]')
_TEXT_IN_FORMULA_WITH_ATTRIBUTES = re.compile(rb'<f [^>]*+>[^<"&]*+["&]')


def _needless_quotes_removed(workbook: Path | bytes) -> tuple[bytes, bool]:
    """The package with ``'xmu'!C7`` written ``xmu!C7`` in formulas where the quotes are not
    needed, and whether any sheet holds shared formulas.

    formualizer 0.13 evaluates a block of copied formulas together only when their sheet names are
    quoted as it would quote them itself; ``'xmu'!C7`` (SPEC §3.1 quotes every name) sends each
    cell down a slow path, 4x slower on a 512x128 workbook (benchmarks/scale.py shows both). The
    formulas mean the same either way; the file itself is never changed. Parts whose formulas hold
    text in quotes are left as they are. It reads the package as bytes only, no more of them than
    the zip declares (checked first, as package.check_sizes does for every reader), so it may run
    before the file is vetted.
    """
    packed, shared = io.BytesIO(), False

    def unquoted(name: str, data: bytes) -> bytes:
        nonlocal shared
        if name.startswith("xl/worksheets/"):
            shared = shared or b'"shared"' in data
            if b'"array"' in data:
                data = _array_values_removed(data)
            if not _TEXT_IN_FORMULA.search(data) and not (
                b"<f " in data and _TEXT_IN_FORMULA_WITH_ATTRIBUTES.search(data)
            ):
                data = _names_unquoted(data)
        return data

    try:
        package.copy(workbook, packed, unquoted, compression=zipfile.ZIP_STORED)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise EngineError(
            f"formualizer could not read {'the workbook' if isinstance(workbook, bytes) else workbook}: {exc}"
        ) from None
    return packed.getvalue(), shared


def _names_unquoted(data: bytes) -> bytes:
    """``data`` with every ``'name'!`` written ``name!`` where the name needs no quotes.

    Each name is found once and all its places replaced at once (a part names a few sheets a
    hundred thousand times); a name that keeps its quotes is passed over from then on.

    >>> _names_unquoted(b"<f>'x'!C7-'dx1'!C7+'x'!D7*'a''x'!C7</f>")
    b"<f>x!C7-'dx1'!C7+x!D7*'a''x'!C7</f>"
    """
    kept: frozenset[bytes] = frozenset()
    start, doubled = 0, b"''" in data  # a quote in a name ('a''x'!): its end is no name of its own
    while (found := _quoted_name(kept).search(data, start)) is not None:
        quoted = found.group(1)
        if _NEEDS_QUOTES.fullmatch(quoted):
            kept |= {quoted}
        elif doubled:
            data = re.sub(b"(?<!')'" + re.escape(quoted) + b"'!", quoted + b"!", data)
        else:  # no place before this one holds a name still to unquote: search on from here
            data = data.replace(b"'" + quoted + b"'!", quoted + b"!")
        start = found.start()
    return data


@lru_cache(maxsize=64)
def _quoted_name(kept: frozenset[bytes]) -> re.Pattern[bytes]:
    """A quoted sheet name other than those in ``kept``."""
    if not kept:
        return re.compile(_QUOTED_NAME)
    others = b"(?!(?:" + b"|".join(re.escape(name) for name in sorted(kept)) + b")'!)"
    return re.compile(_QUOTED_NAME.replace(b"'(?<!'')", b"'(?<!'')" + others, 1))


_ARRAY_RANGE = re.compile(rb'<f\b[^>]*\bt="array"[^>]*\bref="([A-Za-z]{1,3}[0-9]+):([A-Za-z]{1,3}[0-9]+)"')
_ARRAY_RANGE_REF_FIRST = re.compile(rb'<f\b[^>]*\bref="([A-Za-z]{1,3}[0-9]+):([A-Za-z]{1,3}[0-9]+)"[^>]*\bt="array"')
_VALUE_CELL = re.compile(rb'<c\b([^>]*?)\br="([A-Za-z]{1,3}[0-9]+)"([^>]*?)(?<!/)>(?:(?!<f\b).)*?</c>', re.S)
_CELL_TYPE = re.compile(rb'\s+t="[^"]*"')


def _array_values_removed(data: bytes) -> bytes:
    """A sheet's XML without the values stored in the cells an array formula covers (its first
    cell keeps its formula).

    Excel and LibreOffice save an array formula entered over a range (Ctrl+Shift+Enter) as the
    formula in its first cell and the results as plain values in the others; formualizer 0.13
    takes those values for cells in the way and gives #SPILL! (tests/test_engine_faults.py). They
    are results, not input, so the copy formualizer loads leaves them empty.
    """
    spans = []
    for pattern in (_ARRAY_RANGE, _ARRAY_RANGE_REF_FIRST):
        for first, last in pattern.findall(data):
            (top, left), (bottom, right) = split_address(first.decode()), split_address(last.decode())
            spans.append((top, left, bottom, right))
    if not spans:
        return data

    def emptied(match: re.Match[bytes]) -> bytes:
        row, col = split_address(match.group(2).decode())
        if any(t <= row <= b and le <= col <= r and (row, col) != (t, le) for t, le, b, r in spans):
            return b"<c" + _CELL_TYPE.sub(b"", match.group(1) + b'r="' + match.group(2) + b'"' + match.group(3)) + b"/>"
        return match.group()

    return _VALUE_CELL.sub(emptied, data)


def _shared_formulas_to_expand(path: Path) -> list[tuple[str, int, int, str]]:
    """Shared-formula cells that formualizer would fill in wrongly, with their correct formulas.

    formualizer 0.13 shifts a sheet name that looks like a cell address as if it were a relative
    reference when it fills a shared formula over its range: ``-SUM('dx1'!C$7:C$10)`` in C7 becomes
    ``-SUM(DY1!D$7:D$10)`` in D7 (tests/test_engine_faults.py shows it). Such cells get the formula
    that bnsheet's reader fills in, before evaluation.
    """
    with XlsxFile(path) as book:
        if not any(looks_like_cell(name) for name in book.sheet_names):
            return []
        return [
            (sheet, c.row, c.col, c.formula)
            for sheet in book.sheet_names
            for c in book.cells(sheet).values()
            if c.shared and c.formula is not None
        ]


def _value(value: object) -> CellValue:
    if isinstance(value, dict) and value.get("type") == "Error":
        kind = str(value.get("kind"))
        return ErrorValue(_ERRORS.get(kind, f"#{kind.upper()}!"))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)
