"""bnsheet: the Batch Normalization layer as a live spreadsheet, and a verifier for it.

>>> import bnsheet
>>> path = bnsheet.build("output/batchnorm.xlsx", n=4, d=3, seed=0)   # doctest: +SKIP
>>> bnsheet.verify(path).ok                                            # doctest: +SKIP
True

The build side imports no engine; ``bnsheet.build`` is :func:`bnsheet.writing.build.build` with
formualizer's recalculation handed in for the cached values of exercise workbooks.

The names below are imported when first used, not with the package: the pytest plugin
(bnsheet.pytest_plugin) is loaded by every pytest run where bnsheet is installed, and must cost
such runs nothing (NumPy, the engines) unless ``--bnsheet`` asks for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import BnsheetError, EngineError, InputError, TemplateError, WorkbookError
from .version import __version__

if TYPE_CHECKING:
    from .checking.report import Report
    from .checking.verify import verify
    from .grading.grade import Grade, grade
    from .grading.gradebook import Gradebook, grade_all
    from .model import reference
    from .writing.build import build, build_class

# name -> (module, attribute); None: the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "Report": ("checking.report", "Report"),
    "verify": ("checking.verify", "verify"),
    "Grade": ("grading.grade", "Grade"),
    "grade": ("grading.grade", "grade"),
    "Gradebook": ("grading.gradebook", "Gradebook"),
    "grade_all": ("grading.gradebook", "grade_all"),
    "reference": ("model.reference", None),
}


def __getattr__(name: str) -> Any:
    if name in ("build", "build_class"):
        value: Any = _build(name)
    elif name in _LAZY:
        module, attribute = _LAZY[name]
        loaded = import_module(f"{__name__}.{module}")
        value = loaded if attribute is None else getattr(loaded, attribute)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _build(name: str) -> Any:
    """build or build_class, with formualizer's recalculation handed in for the cached values."""
    from functools import partial, update_wrapper

    from .engines import formualizer
    from .writing import build as building

    function = getattr(building, name)
    return update_wrapper(partial(function, recalculate=formualizer.recalculate_bytes), function)


__all__ = [
    "__version__",
    "BnsheetError",
    "EngineError",
    "Grade",
    "Gradebook",
    "InputError",
    "Report",
    "TemplateError",
    "WorkbookError",
    "build",
    "build_class",
    "grade",
    "grade_all",
    "reference",
    "verify",
]
