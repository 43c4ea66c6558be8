"""Formula engines behind one signature: recalculate a workbook file, return the blocks' values.

An engine never trusts the values cached in the file; it recalculates every formula itself.
Each engine module has ``NAME``, ``installed() -> bool`` and
``recalculate(path, areas) -> dict[Area, numpy object array of CellValue]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import EngineError
from ..refs import Area

# In order of preference: the first installed one is the default.
NAMES = ("formualizer", "formulas")

Values = dict[Area, "np.ndarray"]


def _module(name: str) -> ModuleType:
    if name not in NAMES:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(NAMES)} or all")
    return import_module(f"{__name__}.{name}")


def installed() -> list[str]:
    """Names of the engines that can run here, fastest first."""
    return [name for name in NAMES if _module(name).installed()]


def default() -> str:
    names = installed()
    if not names:
        raise EngineError(f"no formula engine is installed; pip install {NAMES[0]}")
    return names[0]


def require(name: str) -> ModuleType:
    """The engine's module; an EngineError if the name is unknown or the engine is not installed."""
    module = _module(name)
    if not module.installed():
        raise EngineError(f"engine {name} is not installed")
    return module


def recalculate(name: str, path: Path, areas: Sequence[Area]) -> Values:
    """Recalculate ``path`` with engine ``name`` and return the values of ``areas``."""
    values: Values = require(name).recalculate(path, list(areas))
    return values
