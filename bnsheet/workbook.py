"""Lays out the sheets of a graph — one per input and node, and the parameters — and writes the
.xlsx atomically, with a defined name for every block (SPEC §4)."""

from __future__ import annotations

import glob
import os
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from . import exercise as exercise_module
from . import ooxml
from .compile import cell_pattern
from .errors import WorkbookError
from .graph import Block, Graph
from .inputs import Inputs
from .layout import BLOCK_LEFT, BLOCK_TOP, HEADER_ROW, LABEL_COL, PARAMS_SHEET, Layout, defined_name
from .refs import col_letter

Row = tuple[int, list[tuple[int, ooxml.Value, str]]]

_TAB = {"input": "FFD966", "forward": "5B9BD5", "backward": "ED7D31", "param": "70AD47"}


def write(
    path: Path,
    graph: Graph,
    inputs: Inputs,
    *,
    progress: bool = False,
    exercise: tuple[str, ...] = (),
    force: bool = False,
) -> Path:
    """Write the workbook to ``path`` atomically (a temporary file in the same folder, renamed).

    An interrupted write leaves whatever was at ``path`` before untouched; a file at ``path`` that
    bnsheet did not write is replaced only with ``force``. The ``exercise`` nodes' blocks are left
    empty, with the task written above them.
    """
    path = Path(path)
    check_target(path, force=force)
    layout = Layout(inputs.n, inputs.d)
    total = sum(layout.rows(b) * layout.d for b in graph.blocks)
    with tqdm(total=total, unit="cell", disable=not progress, desc="build", leave=False) as bar:
        sheets = [_params_sheet(graph, inputs)]
        sheets += [_block_sheet(graph, block, inputs, layout, bar, block.name in exercise) for block in graph.blocks]
        names = {defined_name(b.name): layout.area(b).absolute() for b in graph.blocks}
        names |= {defined_name(p.name): layout.param_area(graph, p.name).absolute() for p in graph.params}
        if exercise:
            names[exercise_module.NAME] = exercise_module.stored(exercise)
        return _save_atomically(path, sheets, names, graph.title)


def _params_sheet(graph: Graph, inputs: Inputs) -> ooxml.Sheet:
    values = {"eps": inputs.eps}

    def rows() -> Iterator[Row]:
        yield 1, [(LABEL_COL, "parameters", "title")]
        yield 2, [(LABEL_COL, graph.title, "note")]
        for i, param in enumerate(graph.params):
            value = "=" + param.formula if param.formula else values.get(param.name, param.value)
            style = "forward" if param.formula else "param"
            yield BLOCK_TOP + i, [(LABEL_COL, param.name, "label"), (BLOCK_LEFT, value, style),
                                  (BLOCK_LEFT + 1, param.text, "note")]  # fmt: skip

    widths = {LABEL_COL: 12.0, BLOCK_LEFT: 14.0, BLOCK_LEFT + 1: 48.0}
    return ooxml.Sheet(PARAMS_SHEET, rows(), widths=widths, tab_color=_TAB["param"])


def _block_sheet(graph: Graph, block: Block, inputs: Inputs, layout: Layout, bar: tqdm, exercise: bool) -> ooxml.Sheet:
    kind = "input" if block.is_input else ("backward" if block.step.startswith("b") else "forward")
    widths = {LABEL_COL: 11.0} | {BLOCK_LEFT + j: 12.0 for j in range(layout.d)}
    return ooxml.Sheet(
        block.name,
        _block_rows(graph, block, inputs, layout, kind, bar, exercise),
        widths=widths,
        freeze=(BLOCK_TOP, BLOCK_LEFT),
        tab_color=_TAB[kind],
    )


def _block_rows(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, kind: str, bar: tqdm, exercise: bool
) -> Iterator[Row]:
    """The rows of one block sheet: notes above, feature labels, then the block itself."""
    shape = f"{'1' if block.is_row else 'N'}xD = {layout.rows(block)}x{layout.d}"
    if exercise:
        notes = exercise_module.task(block, graph, layout.area(block), shape)
    elif block.is_input:
        notes = [f"input {block.name}: {block.text}", f"shape {shape}; edit these numbers"]
    else:
        notes = [
            f"{block.step}  {block.name}: {block.text}",
            block.math,
            f"numpy: {block.numpy}",
            f"shape {shape}; reads {', '.join(block.reads)}",
            f"local rule: {block.rule}" if block.rule else "",
        ]
    for i, note in enumerate(notes):
        if note:
            yield 1 + i, [(LABEL_COL, note, "title" if i == 0 else "note")]
    yield HEADER_ROW, [(BLOCK_LEFT + j, f"feature {j + 1}", "label") for j in range(layout.d)]
    columns = [(BLOCK_LEFT + j, col_letter(BLOCK_LEFT + j)) for j in range(layout.d)]
    rows = layout.rows(block)
    labels = [block.name] if block.is_row else [f"sample {i + 1}" for i in range(rows)]
    values = inputs.arrays()[block.name] if block.is_input else None
    pattern = "" if block.is_input else cell_pattern(block, graph, layout)
    for i in range(rows):
        r = BLOCK_TOP + i
        label = (LABEL_COL, labels[i], "label")
        if values is not None:
            yield r, [label, *[(c, float(values[i, j]), kind) for j, (c, _) in enumerate(columns)]]
        elif exercise:
            yield r, [label, *[(c, None, kind) for c, _ in columns]]
        else:
            yield r, [label, *[(c, pattern.format(c=letters, r=r), kind) for c, letters in columns]]
        bar.update(layout.d)


def check_target(path: Path, *, force: bool = False) -> None:
    """Refuse, before any work, to write where the workbook could not go or would replace a
    file bnsheet did not make (unless ``force``)."""
    folder = path.parent
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path}: the workbook's name must end in .xlsx")
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise WorkbookError(f"{path}: the folder {folder} {state}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkbookError(f"{path}: cannot write in {folder} (permission denied)")
    if path.is_dir():
        raise WorkbookError(f"{path}: is a folder")
    if path.exists() and not force and not made_by_bnsheet(path):
        raise WorkbookError(f"{path}: exists and was not written by bnsheet; use --force to replace it")


def made_by_bnsheet(path: Path) -> bool:
    """Whether ``path`` is a workbook bnsheet wrote (its docProps/app.xml names bnsheet)."""
    try:
        with zipfile.ZipFile(path) as package, package.open("docProps/app.xml") as part:
            app = part.read(1 << 16)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return f"<Application>{ooxml.APPLICATION}</Application>".encode() in app


def _save_atomically(path: Path, sheets: list[ooxml.Sheet], names: dict[str, str], title: str) -> Path:
    """Write to a hidden temporary file beside ``path``, flush it to disk, then rename it over
    ``path``: a reader sees the old file or the new one, never half of one."""
    folder = path.parent
    _remove_stale_temps(path)
    temp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 gives the file the mode the user's umask asks for, as open() would.
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            ooxml.write(stream, sheets, names, title)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
        _sync_folder(folder)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:  # also on Ctrl-C: no partial file is left behind
        temp.unlink(missing_ok=True)
    return path


def _remove_stale_temps(path: Path) -> None:
    """Temporary files of earlier builds of ``path`` whose process died (killed, power lost)."""
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = temp.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            temp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the system lets a folder be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
