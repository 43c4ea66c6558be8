"""The size limits, in one place: what bnsheet reads (vetting, the readers, formualizer's package
limits) and therefore what it builds. Build refuses a workbook that verify would refuse, before
writing anything (:func:`problem`); the numbers below are the only copy of each limit.

Measured with cached values in every formula cell (benchmarks/scale.py): bnsheet's workbooks
unpack to 90–170 bytes per formula cell, depending on the shape (a tall D = 1 block pays a row
and a label per cell), and compress 5–6×. So a workbook within MAX_UNPACKED_BYTES lies well
within MAX_FILE_BYTES; the unpacked size is the limit that binds, at about 9 M formula cells
(2048×256 unpacks to about 0.8 GB; 1024×1024 and 1048570×1 would unpack to 1.5 and 2.8 GB).
"""

from __future__ import annotations

MAX_FILE_BYTES = 256 << 20  # the file as it lies on disk
MAX_UNPACKED_BYTES = 1 << 30  # declared sizes of all parts together; also formualizer's limit
MAX_PARTS = 10_000  # parts in the zip
MAX_RATIO = 200  # uncompressed / compressed of one large part; bnsheet's sheets ~5×, a bomb ~1000×
RATIO_FLOOR = 1 << 20  # parts smaller than this may compress as they like
MAX_SHEET_CELLS = 1 << 21  # stored cells on one sheet
MAX_WORKBOOK_CELLS = 1 << 25  # stored cells in all
MAX_BLOCK_CELLS = 1 << 20  # N·D of a build: beyond, the unpacked size binds anyway


def problem(unpacked_bytes: int, sheet_cells: int, workbook_cells: int) -> str | None:
    """What verify would refuse in a workbook of these sizes (its largest sheet's cells, the cells
    of all sheets, the parts' unpacked bytes together), in the words of its refusal; None if
    nothing.

    >>> problem(900 << 20, 600_000, 9_000_000) is None
    True
    >>> problem((1 << 30) + 1, 600_000, 9_000_000)
    'it would unpack to 1024 MB, more than bnsheet reads (1024 MB)'
    >>> problem(100 << 20, (1 << 21) + 1, 9_000_000)
    'a sheet would hold 2097153 cells, more than bnsheet reads (2097152)'
    """
    if unpacked_bytes > MAX_UNPACKED_BYTES:
        return f"it would unpack to {unpacked_bytes >> 20} MB, more than bnsheet reads ({MAX_UNPACKED_BYTES >> 20} MB)"
    if sheet_cells > MAX_SHEET_CELLS:
        return f"a sheet would hold {sheet_cells} cells, more than bnsheet reads ({MAX_SHEET_CELLS})"
    if workbook_cells > MAX_WORKBOOK_CELLS:
        return f"the sheets would hold {workbook_cells} cells, more than bnsheet reads ({MAX_WORKBOOK_CELLS})"
    return None
