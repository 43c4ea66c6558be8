"""Formula engines behind one signature: recalculate a workbook file, return the blocks' values.

An engine never trusts the values cached in the file; it recalculates every formula itself.
Each engine module satisfies :class:`Engine`: ``NAME``, ``installed() -> bool`` and
``recalculate(path, areas, vetted) -> dict[Area, numpy object array of CellValue]``; one that
stores its results with fewer digits than a double also says ``SIGNIFICANT_DIGITS``.
An engine may also provide ``recalculate_variants(path, areas, variants, vetted) -> list[Values]``:
the workbook recalculated as it is and once per variant (given areas holding given numbers), as
:func:`recalculate_each` promises; it does so faster than one private copy per variant would.
``vetted()`` returns once the file may be opened (vetting.vet has passed it, perhaps in another
process meanwhile) and raises if it may not: an engine calls it before anything but a plain copy
of the file's bytes reaches a parser, formualizer or an application.
The spreadsheet applications (libreoffice, gnumeric) run as processes through ``external``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import numpy as np

from ..a1 import Area
from ..errors import EngineError
from ..reading.xlsx import XlsxFile
from ..values import Values
from .substitute import substitute

# Numbers to put in some areas of a workbook: one of verify's hidden trials, say.
Variant = Mapping[Area, np.ndarray]

# In order of preference: the first installed one is the default.
NAMES = ("formualizer", "gnumeric", "libreoffice", "ironcalc", "formulas")
ALL = "all"
# What to do when an engine is chosen but not installed (formulas, with scipy, is an extra: 113 MB).
INSTALL = {
    "formualizer": "pip install formualizer",
    "gnumeric": "install Gnumeric, whose ssconvert it runs (apt-get install gnumeric)",
    "libreoffice": "install LibreOffice, whose soffice it runs (apt-get install libreoffice-calc-nogui)",
    "ironcalc": "pip install 'bnsheet[ironcalc]' (in a checkout: pip install -e '.[ironcalc]')",
    "formulas": "pip install 'bnsheet[formulas]' (in a checkout: pip install -e '.[formulas]')",
}


@runtime_checkable
class Engine(Protocol):
    """What every engine module provides (formualizer.py, libreoffice.py, …)."""

    NAME: str

    def installed(self) -> bool:
        """Whether the engine can run here."""
        ...

    def recalculate(self, path: Path, areas: list[Area], vetted: Callable[[], None]) -> Values:
        """Recalculate every formula of ``path`` and return the values of ``areas``; call ``vetted()``
        before anything but a plain copy of the file's bytes reaches a parser."""
        ...


if TYPE_CHECKING:  # mypy checks that every engine module satisfies Engine
    from . import formualizer, formulas, gnumeric, ironcalc, libreoffice

    _ENGINES: tuple[Engine, ...] = (formualizer, formulas, gnumeric, ironcalc, libreoffice)


def _module(name: str) -> Engine:
    if name not in NAMES:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(NAMES)} or {ALL}")
    return cast(Engine, import_module(f"{__name__}.{name}"))


def installed() -> list[str]:
    """Names of the engines that can run here, fastest first."""
    return [name for name in NAMES if _module(name).installed()]


def default() -> str:
    names = installed()
    if not names:
        raise EngineError(f"no formula engine is installed; {INSTALL[NAMES[0]]}")
    return names[0]


def chosen(name: str | None) -> list[str]:
    """The engines a verify runs: the default for None, every installed one for ``all`` (those not
    installed are left out)."""
    if name == ALL:
        names = installed()
        if not names:
            default()  # raises: nothing is installed
        return names
    name = name or default()
    require(name)
    return [name]


def require(name: str) -> Engine:
    """The engine's module; an EngineError if the name is unknown or the engine is not installed."""
    module = _module(name)
    if not module.installed():
        raise EngineError(f"engine {name} is not installed; {INSTALL[name]}")
    return module


def recalculate(name: str, path: Path, areas: Sequence[Area], vetted: Callable[[], None] = lambda: None) -> Values:
    """Recalculate ``path`` with engine ``name`` and return the values of ``areas``; ``vetted`` as above."""
    return require(name).recalculate(path, list(areas), vetted)


def recalculate_each(
    name: str, path: Path, areas: Sequence[Area], variants: Sequence[Variant], vetted: Callable[[], None] = lambda: None
) -> list[Values]:
    """The values of ``areas`` with ``path`` recalculated as it is, then once per variant: the
    workbook with each of the variant's areas holding its numbers (a private copy; the file is
    only read). ``vetted`` as for :func:`recalculate`."""
    module = require(name)
    native = getattr(module, "recalculate_variants", None)
    if native is not None:
        return native(path, list(areas), variants, vetted)  # type: ignore[no-any-return]
    runs = [module.recalculate(path, list(areas), vetted)]
    if not variants:
        return runs
    with XlsxFile(path) as book, tempfile.TemporaryDirectory(prefix=f"bnsheet-{name}-trials-") as folder:
        for k, variant in enumerate(variants, start=1):
            copy = substitute(book, Path(folder) / f"trial-{k}{path.suffix}", variant)
            runs.append(module.recalculate(copy, list(areas), vetted))
    return runs


class Session(Protocol):
    """One workbook recalculated as often as asked (see :func:`session`)."""

    def run(
        self, areas: list[Area], variants: Sequence[Variant], *, as_is: bool = True, read: list[Area] | None = None
    ) -> list[Values]:
        """The values of ``areas``: with ``as_is`` first as the workbook stands, then per variant
        (of ``read`` at least, where given: what the caller needs there)."""
        ...


def session(name: str, path: Path, vetted: Callable[[], None] = lambda: None) -> Session:
    """``path`` ready to be recalculated with engine ``name`` several times, each run as
    :func:`recalculate_each` promises (the variants of one run do not carry over to the next
    unless they set the same areas). An engine that provides a ``Session`` keeps the workbook
    loaded between runs (formualizer); the others recalculate it afresh each run."""
    native = getattr(require(name), "Session", None)
    return cast(Session, native(path, vetted)) if native is not None else _Afresh(name, path, vetted)


class _Afresh:
    """A session of an engine without one: each run recalculates the file (and copies of it)."""

    def __init__(self, name: str, path: Path, vetted: Callable[[], None]) -> None:
        self.name, self.path, self.vetted = name, path, vetted

    def run(
        self, areas: list[Area], variants: Sequence[Variant], *, as_is: bool = True, read: list[Area] | None = None
    ) -> list[Values]:
        runs = recalculate_each(self.name, self.path, areas, variants, self.vetted)
        return runs if as_is else runs[1:]


def rounding(name: str, value: np.ndarray) -> np.ndarray:
    """Per cell, how far the engine's stored result may be from ``value`` by storing fewer digits.

    LibreOffice keeps 15 significant digits: half a unit in the 15th digit of each value.
    Engines that keep a full double add nothing.

    >>> [f"{v:.3g}" for v in rounding("libreoffice", np.array([1.0, 123.456, 0.0]))]
    ['5.22e-15', '5.14e-13', '0']
    """
    digits: int | None = getattr(_module(name), "SIGNIFICANT_DIGITS", None)
    if digits is None:
        return np.zeros_like(value, dtype=np.float64)
    return half_unit(value, digits)


def half_unit(value: np.ndarray, digits: int) -> np.ndarray:
    """Half a unit in the last of ``digits`` significant digits of each value, plus the one unit in
    the last place of a double that reading the decimal back can add: the most that writing the
    value with that many digits can change it."""
    magnitude = np.abs(value.astype(np.float64))
    exponent = np.floor(np.log10(np.where(magnitude > 0, magnitude, 1.0)))
    return np.where(magnitude > 0, 0.5 * 10.0 ** (exponent - digits + 1) + np.spacing(magnitude), 0.0)
