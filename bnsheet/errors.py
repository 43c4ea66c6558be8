"""The errors a user can meet; each carries a one-line message that says what to do."""


class BnsheetError(Exception):
    """Base of every error bnsheet reports to a user (exit status 2 on the command line)."""


class InputError(BnsheetError):
    """An input (array, CSV file, size, parameter) cannot be used."""


class TemplateError(BnsheetError):
    """A graph template is malformed."""


class WorkbookError(BnsheetError):
    """A workbook cannot be read or written."""


class EngineError(BnsheetError):
    """A formula engine is missing or failed."""


class MissingExtraError(BnsheetError):
    """An optional extra (e.g. ``pip install -e '.[experiment]'``) is not installed."""
