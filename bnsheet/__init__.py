"""bnsheet: the Batch Normalization layer as a live spreadsheet, and a verifier for it.

>>> import bnsheet
>>> path = bnsheet.build("output/batchnorm.xlsx", n=4, d=3, seed=0)   # doctest: +SKIP
>>> bnsheet.verify(path).ok                                            # doctest: +SKIP
True
"""

from . import reference
from .builder import build
from .errors import BnsheetError, EngineError, InputError, TemplateError, WorkbookError
from .gradebook import Gradebook, grade_all
from .grader import Grade, grade
from .report import Report
from .verifier import verify
from .version import __version__

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
    "grade",
    "grade_all",
    "reference",
    "verify",
]
