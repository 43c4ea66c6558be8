"""bnsheet: the Batch Normalization layer as a live spreadsheet, and a verifier for it.

>>> import bnsheet
>>> path = bnsheet.build("output/batchnorm.xlsx", n=4, d=3, seed=0)   # doctest: +SKIP
>>> bnsheet.verify(path).ok                                            # doctest: +SKIP
True

The build side imports no engine; ``bnsheet.build`` is :func:`bnsheet.writing.build.build` with
formualizer's recalculation handed in for the cached values.
"""

from functools import partial, update_wrapper

from .checking.report import Report
from .checking.verify import verify
from .engines import formualizer as _formualizer
from .errors import BnsheetError, EngineError, InputError, TemplateError, WorkbookError
from .grading.grade import Grade, grade
from .grading.gradebook import Gradebook, grade_all
from .model import reference
from .version import __version__
from .writing import build as _building

build = update_wrapper(partial(_building.build, cached_values=_formualizer.recalculate_bytes), _building.build)
build_class = update_wrapper(
    partial(_building.build_class, cached_values=_formualizer.recalculate_bytes), _building.build_class
)

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
