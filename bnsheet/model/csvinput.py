"""A CSV file of numbers read strictly: plain decimal numbers or an error naming the file, row and column.

Python's ``float`` takes more than a CSV of numbers should hold: ``1_000``, full-width ``１.５``,
``inf``. Each of these, an empty field, a comma inside a number and a row of another width is
refused with what to write instead, so that no value is misread without a word.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..a1 import MAX_ROWS
from ..errors import InputError
from .reference import Array

# What a number may look like: an optional sign, ASCII digits with at most one point, an optional
# exponent, whitespace around it.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
# Between digits: underscores (Python), spaces and no-break or thin spaces (French, SI), apostrophes (Swiss).
_DIGIT_SEPARATOR = re.compile(r"(?<=[0-9])[_ '\u00a0\u202f\u2009](?=[0-9])")
_INTEGER, _DIGITS = re.compile(r"[+-]?[0-9]+"), re.compile(r"[0-9]+")


@dataclass(frozen=True)
class _Refused:
    """Why a field is not a number: ``text`` follows "row R, column C"; ``number_like`` when the
    field is a number written in a way bnsheet refuses, so that its row is data, not a header."""

    text: str
    number_like: bool


def read_csv(path: Path) -> Array:
    """The numbers of a CSV file, headerless or under one header row.

    The first row is a header only when none of its fields is a number, however written; every
    other row must then hold numbers only. Rows are numbered as in the file, and blank rows are
    allowed only at its end.

    >>> path = Path("output/doctest-x.csv")
    >>> _ = path.write_text("f1,f2\\r\\n1.5, -2e-3\\r\\n+4,.25\\r\\n")
    >>> read_csv(path).tolist()
    [[1.5, -0.002], [4.0, 0.25]]
    """
    rows = _rows(path)
    if not rows:
        raise InputError(f"{path}: no rows of numbers")
    first_line, first = rows[0]
    header = not any(isinstance(parsed, float) or parsed.number_like for parsed in map(_parse, first))
    data = rows[1:] if header else rows
    if not data:
        raise InputError(f"{path}: a header row and no rows of numbers under it")
    for line, fields in rows[1:]:
        if len(fields) != len(first):
            raise InputError(f"{path}: {_ragged(line, fields, first_line, first)}")
    values = np.empty((len(data), len(first)), dtype=np.float64)
    for i, (line, fields) in enumerate(data):
        for j, field in enumerate(fields):
            parsed = _parse(field)
            if isinstance(parsed, _Refused):
                raise InputError(f"{path}: row {line}, column {j + 1}{parsed.text}")
            values[i, j] = parsed
    return values


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """The file's rows with their line numbers, trailing blank rows left out; a blank row before
    a row of fields is refused."""
    rows: list[tuple[int, list[str]]] = []
    blank: int | None = None  # the first blank row since the last row of fields
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            line = 1
            for fields in reader:
                if not any(field.strip() for field in fields):
                    blank = line if blank is None else blank
                elif blank is not None:
                    raise InputError(f"{path}: row {blank} is empty; blank rows may only end the file")
                else:
                    rows.append((line, fields))
                    if len(rows) > MAX_ROWS:
                        raise InputError(f"{path}: more than {MAX_ROWS} rows, more than a sheet holds")
                line = reader.line_num + 1
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a CSV text file ({exc})") from None
    return rows


def _parse(field: str) -> float | _Refused:
    """The number a field holds, or why it holds none."""
    text = field.strip()
    if not text:
        return _Refused(" is empty", number_like=False)
    if _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value
        return _Refused(f": {field!r} is beyond the largest number a spreadsheet holds", number_like=True)
    if _NON_FINITE.fullmatch(text):
        return _Refused(f": {field!r} is not a finite number", number_like=True)
    plain = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()  # full-width forms, minus sign
    if plain != text and _NUMBER.fullmatch(plain):
        return _Refused(f": {field!r} has full-width or other non-ASCII characters; write {plain}", number_like=True)
    if "," in text and _NUMBER.fullmatch(text.replace(",", "", 1)):
        return _Refused(
            f": {field!r} has a comma in the number; write decimals with a point (1.5) and no digit separators",
            number_like=True,
        )
    joined = _DIGIT_SEPARATOR.sub("", text)
    if joined != text and _NUMBER.fullmatch(joined):
        return _Refused(f": {field!r} has digit separators; write {joined}", number_like=True)
    if ";" in text or "\t" in text:
        parts = (part.strip().replace(",", ".", 1) for part in re.split("[;\t]", text))
        return _Refused(
            f": {field!r} is not a number (bnsheet reads values separated by commas)",
            number_like=any(_NUMBER.fullmatch(part) for part in parts),
        )
    return _Refused(f": {field!r} is not a number", number_like=False)


def _ragged(line: int, fields: list[str], first_line: int, first: list[str]) -> str:
    """Why a row of another width than the first is refused; a hint when a decimal comma may
    have split a number in two (``1,5`` in a file of one column)."""
    counted = f"row {line} has {_fields(len(fields))}, row {first_line} has {_fields(len(first))}"
    wider = [field.strip() for field in max(fields, first, key=len)]
    if any(_INTEGER.fullmatch(a) and _DIGITS.fullmatch(b) for a, b in zip(wider, wider[1:], strict=False)):
        counted += "; if a number has a decimal comma (1,5), write it with a point (1.5)"
    return counted


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"
