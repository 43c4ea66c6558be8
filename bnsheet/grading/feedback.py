"""Feedback for learners: per graded submission, a copy of the learner's own workbook with what
the grader found marked on it, in the workbook's language.

Each wrong, empty or error cell of an exercise block is filled red and carries a comment: what
was expected at the workbook's own inputs, what the cell holds, and the node's diagnosis (numbers
the learner can compute from the sheet anyway). A summary sheet is put first: the score, each
node's status and diagnosis. Hidden trials are named only as "other inputs": their inputs and
expected values never appear. The learner's file is only read; the copies are written atomically
into a folder of their own (``<file stem>.xlsx``), and an existing file there is never replaced.

The copy is the learner's package with parts edited and added (writing/ooxml/annotate.py): one
fill style more, the comments parts and their legacy VML drawings, the summary sheet.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..a1 import Area, quote_sheet
from ..engines import libreoffice
from ..errors import WorkbookError
from ..model.graph import Graph, load
from ..reading import package
from ..reading.blocks import locate
from ..reading.xlsx import XlsxFile
from ..values import CellValue
from ..writing import exercise as exercise_module
from ..writing.files import replacing
from ..writing.ooxml import annotate
from ..writing.ooxml.annotate import Fills, Note
from .grade import Grade, shown
from .gradebook import Gradebook
from .judge import NodeGrade
from .portability import APP_DEPENDENT

MARKED = "FFFFC7CE"  # the light red of Excel's "Bad" cell style
RIGHT = "FFC6EFCE"  # the light green of its "Good"
_STATUS_WORDS = {"correct": "status_correct", "wrong": "status_wrong", "empty": "status_empty",
                 "error": "status_error", APP_DEPENDENT: "status_app"}  # fmt: skip
_MARKED_STATUSES = ("wrong", "empty", "error")
NOTES = 100  # comments on one block at most; the other marked cells are filled only (a drawing holds 1024)
_BOX = (6, 4)  # how far right of and below a block its open comment box reaches (columns, rows)
_REL_COMMENTS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"
_REL_VML = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/vmlDrawing"


def target(folder: Path, path: Path) -> Path:
    """Where a submission's feedback copy goes: ``folder/<file stem>.xlsx``."""
    return folder / f"{path.stem}.xlsx"


def write_all(book: Gradebook, folder: Path) -> list[Path]:
    """Write every graded file's marked copy into ``folder`` (made if missing; its parent must
    exist); refuses, before writing any, a copy that exists already. Unusable files get none."""
    check_folder(folder, [grade.path for grade in book.grades])
    copies = {}
    for grade in book.grades:  # every copy made before any is written
        with _as_xlsx(grade.path) as source:
            copies[target(folder, grade.path)] = marked(grade, source)
    folder.mkdir(exist_ok=True)
    for destination, data in copies.items():
        with replacing(destination) as temporary:
            temporary.write_bytes(data)
    return list(copies)


def check_folder(folder: Path, paths: list[Path]) -> None:
    """Refuse a feedback folder that is a file, has no parent, holds a copy already, or would get
    two submissions' copies under one name."""
    if folder.exists() and not folder.is_dir():
        raise WorkbookError(f"--feedback {folder}: is not a folder")
    if not folder.parent.is_dir():
        raise WorkbookError(f"--feedback {folder}: the folder {folder.parent} does not exist")
    stems: dict[str, Path] = {}
    for path in paths:
        copy = target(folder, path)
        if copy.exists():
            raise WorkbookError(f"--feedback: {copy} exists already; give a new or empty folder")
        if path.stem.lower() in stems:
            raise WorkbookError(f"--feedback: {path} and {stems[path.stem.lower()]} would share the file {copy}")
        stems[path.stem.lower()] = path


@contextlib.contextmanager
def _as_xlsx(path: Path) -> Iterator[Path]:
    """The submission as an .xlsx package: itself, or an .ods converted again as grade did."""
    if path.suffix.lower() != ".ods":
        yield path
        return
    with libreoffice.xlsx_of_ods(path) as converted:
        yield converted


@dataclass
class _Sheet:
    """What goes onto one sheet of the copy: the cells to fill, and their comments."""

    part: str
    notes: list[Note] = field(default_factory=list)


def marked(grade: Grade, source: Path) -> bytes:
    """The marked copy of the workbook ``source`` (the file ``grade`` judged), as the bytes of a
    package. A package whose parts are not as Excel, LibreOffice, Gnumeric or openpyxl write
    them is refused in one line."""
    with XlsxFile(source) as book:
        graph = load(lang=exercise_module.recorded_language(book.names))
        areas = {name: area for name, area in locate(book, graph).items() if area is not None}
        sheets: dict[str, _Sheet] = {}
        for g in grade.nodes:
            area = areas.get(g.node)
            if g.status in _MARKED_STATUSES and area is not None and area.sheet in book.sheet_names:
                marks = sheets.setdefault(area.sheet, _Sheet(book.sheet_part(area.sheet)))
                marks.notes += _notes(g, area, graph)
        every_sheet = [book.sheet_part(name) for name in book.sheet_names]
        name = _free_name(graph.word("feedback_sheet"), book.sheet_names)
    with zipfile.ZipFile(source) as original:
        parts = {info.filename: original.read(info) for info in original.infolist()}
    try:
        edited, added = _edits(parts, grade, graph, areas, list(sheets.values()), every_sheet, name)
    except (KeyError, ValueError) as exc:  # a part missing, or not UTF-8 (UnicodeDecodeError)
        raise WorkbookError(f"{grade.path}: cannot write a feedback copy of it ({exc})") from None
    copy = io.BytesIO()
    package.copy(source, copy, lambda part, data: edited.get(part, data), added=added)
    return copy.getvalue()


def _notes(g: NodeGrade, area: Area, graph: Graph) -> list[Note]:
    """The comments on a node's cells: one per marked cell (the first NOTES of them; the others
    are filled without one); a block with no cell marked (empty, the wrong shape, circular) is
    filled whole with one comment on its first cell."""
    diagnosis = g.diagnosis
    if not g.marks:
        where = graph.word("mark_block", status=graph.word(_STATUS_WORDS[g.status]), where=diagnosis or g.status)
        cells = [area.address(i, j) for i in range(area.shape[0]) for j in range(area.shape[1])]
        return [
            Note(address, where if k == 0 else "", shown=k == 0, beside=area.right + 2)
            for k, address in enumerate(cells)
        ]
    notes = []
    for k, (address, kind, expected, got) in enumerate(g.marks):
        if k >= NOTES:
            notes.append(Note(address, ""))  # filled, without a comment
            continue
        said = _said(graph, kind, expected, got)
        text = f"{said}\n{diagnosis}" if diagnosis else said
        notes.append(Note(address, text, shown=k == 0, beside=area.right + 2 if k == 0 else 0))
    return notes


def _said(graph: Graph, kind: str, expected: float | None, got: CellValue) -> str:
    """The first line of a marked cell's comment; numbers only at the file's own inputs."""
    number = f"{expected:.6g}" if expected is not None else ""
    if kind == "wrong":
        return graph.word("mark_wrong", expected=number, got=shown(got))
    if kind == "empty":
        return graph.word("mark_empty", expected=number)
    if kind == "error":
        return graph.word("mark_error", got=shown(got) if got is not None else "—")
    return graph.word("mark_typed" if kind == "typed" else "mark_trials")


def _free_name(wanted: str, taken: list[str]) -> str:
    lower = {name.lower() for name in taken}
    name, k = wanted, 2
    while name.lower() in lower:
        name, k = f"{wanted} {k}", k + 1
    return name


def _edits(
    parts: dict[str, bytes], grade: Grade, graph: Graph, areas: dict[str, Area], sheets: list[_Sheet],
    every_sheet: list[str], name: str,
) -> tuple[dict[str, bytes], dict[str, bytes]]:  # fmt: skip
    """The parts that change (by name) and the parts added."""
    edit = _Package(parts)
    text = edit.text
    workbook_rels = text["xl/_rels/workbook.xml.rels"]
    styles_part = _target_of(workbook_rels, "styles", "xl")
    if styles_part is None:
        raise KeyError("it has no styles part")
    fills = Fills(text[styles_part], [MARKED, RIGHT])
    vml_blocks = [int(n) for part in parts if part.endswith(".vml")
                  for n in re.findall(rb'<o:idmap[^>]*data="(\d+)', parts[part])]  # fmt: skip
    marked = []
    for k, sheet in enumerate(sheets):
        xml = text[sheet.part]
        if not re.search(r"<sheetData\b", xml) or "</worksheet>" not in xml:
            continue  # a worksheet written with a prefix (<x:worksheet>): left unmarked, the summary says it all
        xml = annotate.restyle(xml, {note.address: lambda s: fills(s, MARKED) for note in sheet.notes})
        edit.put(sheet.part, _commented(edit, sheet, xml, max([0, *vml_blocks]) + 1 + k))
        marked.append(sheet.part)
    for part in every_sheet:
        edit.put(part, annotate.unselect(edit.now(part)))
    summary = edit.free("xl/worksheets/sheet{}.xml")
    strings_part = _target_of(workbook_rels, "sharedStrings", "xl")
    strings = annotate.Strings(text[strings_part]) if strings_part is not None and strings_part in text else None
    edit.put(summary, _summary(grade, graph, areas, fills, strings))
    if strings is not None and strings_part is not None:
        edit.put(strings_part, strings.part())
    edit.put(styles_part, fills.part())
    workbook_rels, (rid,) = annotate.relationships(workbook_rels, [("worksheet", _relative(summary, "xl"))])
    edit.put("xl/_rels/workbook.xml.rels", workbook_rels)
    workbook = text["xl/workbook.xml"]
    for part in marked:  # the box beside each block prints with it
        workbook = annotate.widen_print_area(workbook, every_sheet.index(part), *_BOX)
    edit.put("xl/workbook.xml", annotate.sheet_first(workbook, name, rid))
    overrides = {f"/{summary}": annotate.WORKSHEET_TYPE} | {f"/{p}": annotate.COMMENTS_TYPE for p in edit.comments}
    types = annotate.content_types(text["[Content_Types].xml"], overrides, {"vml": annotate.VML_TYPE})
    edit.put("[Content_Types].xml", types)
    return edit.result()


class _Package:
    """The parts of the copy: the learner's as text, and those edited and added."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        self.parts, self.text = parts, _Texts(parts)
        self.edited: dict[str, str] = {}
        self.added: dict[str, str] = {}
        self.comments: list[str] = []  # comments parts made here, named in [Content_Types].xml

    def put(self, part: str, text: str) -> None:
        (self.edited if part in self.parts else self.added)[part] = text

    def now(self, part: str) -> str:
        """The part as it stands: edited, added or as it was."""
        return self.edited.get(part) or self.added.get(part) or self.text[part]

    def free(self, pattern: str) -> str:
        """The first part name of ``pattern`` (``xl/comments{}.xml``) not taken."""
        taken = {p.lower() for p in self.parts} | {p.lower() for p in self.added}
        k = 1
        while pattern.format(k).lower() in taken:
            k += 1
        return pattern.format(k)

    def result(self) -> tuple[dict[str, bytes], dict[str, bytes]]:
        return {p: t.encode() for p, t in self.edited.items()}, {p: t.encode() for p, t in self.added.items()}


def _commented(edit: _Package, sheet: _Sheet, xml: str, block: int) -> str:
    """Put a sheet's notes into its comments part and VML drawing (its own, or new ones tied to it
    by relationships); the worksheet's XML, pointing at a new drawing where there is one."""
    notes = [note for note in sheet.notes if note.text]
    rels_part = _rels_of(sheet.part)
    rels = edit.text.get(rels_part)
    base = sheet.part.rsplit("/", 1)[0]
    comments_part = _target_of(rels, "comments", base, _REL_COMMENTS)
    vml_part = _target_of(rels, "vmlDrawing", base, _REL_VML)
    new: list[tuple[str, str]] = []
    if comments_part is None:
        comments_part = edit.free("xl/comments{}.xml")
        new.append(("comments", _relative(comments_part, base)))
        edit.comments.append(comments_part)
    edit.put(comments_part, annotate.comments(notes, edit.text.get(comments_part)))
    drawn = vml_part is not None  # the sheet has its <legacyDrawing> already
    if vml_part is None:
        vml_part = edit.free("xl/drawings/vmlDrawing{}.vml")
        new.append(("vmlDrawing", _relative(vml_part, base)))
    old_vml = edit.parts[vml_part].decode("utf-8", "replace") if vml_part in edit.parts else None
    edit.put(vml_part, annotate.vml_drawing(notes, block, old_vml))
    if new:
        rels, ids = annotate.relationships(rels, new)
        edit.put(rels_part, rels)
        if not drawn:
            xml = annotate.with_legacy_drawing(xml, ids[-1])
    return xml


def _summary(grade: Grade, graph: Graph, areas: dict[str, Area], fills: Fills, strings: annotate.Strings | None) -> str:
    """The summary sheet: who, the score, whose inputs, how to read the marks, then a row per node."""
    word = graph.word
    who = word("feedback_student", id=grade.student) if grade.student else grade.path.name
    rows: list[list[tuple[str, int]]] = [
        [(word("feedback_title", who=who), 0)],
        [(word("feedback_score", file=grade.path.name, correct=grade.correct, nodes=len(grade.nodes)), 0)],
    ]
    if grade.inputs == "edited":
        rows.append([(word("feedback_edited"), fills(0, MARKED))])
    elif grade.inputs not in ("", "own"):
        rows.append([(word("feedback_other", verdict=grade.inputs), fills(0, MARKED))])
    rows += [[(word("feedback_marks"), 0)], [(word("feedback_trials"), 0)], []]
    rows.append([(word("node"), 0), (word("feedback_status"), 0), (word("feedback_found"), 0)])
    links = {}
    for g in grade.nodes:
        colour = RIGHT if g.status == "correct" else MARKED
        status = word(_STATUS_WORDS[g.status]) if g.status in _STATUS_WORDS else g.status
        rows.append([(g.node, 0), (status, fills(0, colour)), (g.diagnosis, 0)])
        area = areas.get(g.node)
        if area is not None:
            links[f"A{len(rows)}"] = f"{quote_sheet(area.sheet)}!{area.address(0, 0)}"
    return annotate.summary_sheet(rows, [16, 16, 120], links, strings)


class _Texts(dict[str, str]):
    """The package's parts as text, decoded as they are asked for (UTF-8, as every writer uses)."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        super().__init__()
        self.parts = parts

    def __missing__(self, part: str) -> str:
        self[part] = self.parts[part].decode("utf-8")
        return self[part]

    def get(self, part: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self[part] if part in self.parts else default

    def __contains__(self, part: object) -> bool:
        return part in self.parts


def _rels_of(part: str) -> str:
    folder, name = part.rsplit("/", 1)
    return f"{folder}/_rels/{name}.rels"


def _target_of(rels: str | None, kind: str, base: str, uri: str | None = None) -> str | None:
    """The part a relationships part points at by type (the last word of its URI, or ``uri``)."""
    for m in re.finditer(r"<Relationship\b[^>]*>", rels or ""):
        found = re.search(r'\bType="([^"]+)"', m.group())
        where = re.search(r'\bTarget="([^"]+)"', m.group())
        mode = re.search(r'\bTargetMode="External"', m.group())
        if found and where and not mode and (found.group(1) == uri or found.group(1).endswith(f"/{kind}")):
            return package.part_target(where.group(1), base)
    return None


def _relative(part: str, base: str) -> str:
    """A relationship's target for ``part`` from the folder ``base``."""
    return posixpath.relpath(part, base)
