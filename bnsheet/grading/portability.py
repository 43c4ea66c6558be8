"""Formulas whose value depends on the application that computes them (status ``app-dependent``):
range arithmetic outside an array formula, which Excel 365 computes as an array and LibreOffice,
Gnumeric and older Excel by implicit intersection; and functions an engine lacks though the
applications have them. Each finder returns the note for the learner, or None."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

APP_DEPENDENT = "app-dependent"  # a status: the value depends on the application that computes it
# Functions an engine does not know (#NAME?) though Excel, LibreOffice and Gnumeric do
# (tests/test_engine_faults.py keeps each visible).
LACKS = {"formualizer": {"MMULT", "MINVERSE", "MDETERM"}}
_FUNCTION = re.compile(r"([A-Za-z][A-Za-z0-9.]*)\s*\(")
_PAREN = re.compile(r"([A-Za-z][A-Za-z0-9.]*)?\s*\(|\)")
_STRINGS = re.compile(r'"(?:[^"]|"")*"')
_RANGE = re.compile(
    r"(?:(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?\$?[A-Za-z]{1,3}\$?[0-9]+:\$?[A-Za-z]{1,3}\$?[0-9]+"
    r"|(?<![A-Za-z0-9_.!])bn_[A-Za-z0-9_]+\b(?!\s*\()"
)
_OPERATORS = set("+-*/^&<>=")


def lacked(engine: str, formulas: Iterable[str]) -> str | None:
    """The note for formulas calling a function ``engine`` lacks (formualizer: MMULT), whose #NAME?
    is the engine's and not the learner's: the learner's screen is right."""
    called = {m.group(1).upper() for formula in formulas for m in _FUNCTION.finditer(formula)}
    missing = sorted(called & LACKS.get(engine, set()))
    if not missing:
        return None
    return (
        f"{engine} cannot compute {', '.join(missing)} (Excel, LibreOffice, Gnumeric and ironcalc can): "
        "grade this file with --engine ironcalc or --engine libreoffice"
    )


def intersection(formulas: Iterable[str], names: frozenset[str]) -> str | None:
    """The note for range arithmetic outside an array formula (=SUM(a!C7:C10*b!C7:C10) typed with
    Enter; ``formulas`` are the block's formulas that are no array formula): Excel 365 and
    formualizer compute it as an array, but LibreOffice, Gnumeric and Excel 2019 or older take one
    cell of each range (implicit intersection), so the learner's screen may differ."""
    found = next(((f, r) for f in formulas if (r := range_arithmetic(f, names))), None)
    if found is None:
        return None
    formula, reference = found
    return (
        f"{formula} computes with the range {reference} outside an array formula: Excel 365 computes it as an "
        "array, but LibreOffice, Gnumeric and Excel 2019 or older take one cell of the range (implicit "
        "intersection) and show other numbers; use SUMPRODUCT (=SUMPRODUCT(a,b) for SUM(a*b)) or enter it as an "
        "array formula (Ctrl+Shift+Enter)"
    )


@lru_cache(maxsize=4096)  # a class's files hold the same formulas, judged again in each round
def range_arithmetic(formula: str, names: frozenset[str] = frozenset()) -> str | None:
    """The first multi-cell range (A1 or one of the defined ``names``, lower case) an operator
    applies to outside SUMPRODUCT, or None.

    >>> range_arithmetic("=SUM(dgammax!C7:C10*xhat!C7:C10)")
    'dgammax!C7:C10'
    >>> range_arithmetic("=SUMPRODUCT(dgammax!C7:C10*xhat!C7:C10)"), range_arithmetic("=-SUM(dx1!C$7:C$10)")
    (None, None)
    """
    text = _STRINGS.sub('""', formula)
    for match in _RANGE.finditer(text):
        if ":" not in match.group() and match.group().lower() not in names:
            continue  # a defined name of one cell (bn_eps)
        before, after = text[: match.start()].rstrip(), text[match.end() :].lstrip()
        operated = (before[-1:] in _OPERATORS and before != "=") or after[:1] in _OPERATORS
        if operated and "SUMPRODUCT" not in _enclosing(text, match.start()):
            return match.group()
    return None


def _enclosing(text: str, at: int) -> list[str]:
    """The names of the function calls open at position ``at`` (an empty name for a parenthesis)."""
    stack: list[str] = []
    for m in _PAREN.finditer(text, 0, at):
        if m.group() == ")":
            if stack:
                stack.pop()
        else:
            stack.append((m.group(1) or "").upper())
    return stack
