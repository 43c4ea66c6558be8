"""Feedback for learners: one short HTML page per graded submission, what the grader found per
exercise node, in the learner's terms.

A page shows the score, each node's status and diagnosis, and for a wrong block the first wrong
cells with the expected and the learner's value at the workbook's own inputs (numbers the learner
can compute from the sheet anyway). Hidden trials are named only as "other inputs": their inputs
and expected values never appear. The learner's file is only read; pages are written atomically
into a folder of their own, and an existing page is never replaced.
"""

from __future__ import annotations

import html
from pathlib import Path

from ..errors import WorkbookError
from ..writing.files import replacing
from .grade import Grade, shown
from .gradebook import Gradebook

_STYLE = (
    "body{font-family:sans-serif;max-width:50em;margin:2em auto}table{border-collapse:collapse}"
    "td,th{border:1px solid #999;padding:.3em .6em;text-align:left;vertical-align:top}"
    ".correct{background:#d9f2d9}.wrong,.error{background:#f8d0d0}.empty{background:#eee}"
)


def pages(book: Gradebook, folder: Path) -> dict[Path, str]:
    """The page of each graded file, by where it goes (``folder/<file name>.html``)."""
    return {folder / f"{grade.path.stem}.html": page(grade) for grade in book.grades}


def write_all(book: Gradebook, folder: Path) -> list[Path]:
    """Write every graded file's page into ``folder`` (made if missing; its parent must exist);
    refuses, before writing any, a page that exists already."""
    check_folder(folder, [grade.path for grade in book.grades])
    folder.mkdir(exist_ok=True)
    written = []
    for target, text in pages(book, folder).items():
        with replacing(target) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def check_folder(folder: Path, paths: list[Path]) -> None:
    """Refuse a feedback folder that is a file, has no parent, holds a page already, or would get
    two submissions' pages under one name."""
    if folder.exists() and not folder.is_dir():
        raise WorkbookError(f"--feedback {folder}: is not a folder")
    if not folder.parent.is_dir():
        raise WorkbookError(f"--feedback {folder}: the folder {folder.parent} does not exist")
    stems: dict[str, Path] = {}
    for path in paths:
        target = folder / f"{path.stem}.html"
        if target.exists():
            raise WorkbookError(f"--feedback: {target} exists already; give a new or empty folder")
        if path.stem in stems:
            raise WorkbookError(f"--feedback: {path} and {stems[path.stem]} would share the page {target}")
        stems[path.stem] = path


def page(grade: Grade) -> str:
    """One submission's page."""
    who = f"student {grade.student}" if grade.student else grade.path.name
    rows = []
    for g in grade.nodes:
        cells = "<br>".join(
            f"{html.escape(address)}: expected {expected:.6g}, got {html.escape(shown(got))}"
            for address, expected, got in g.wrong
        )
        rows.append(
            f'<tr class="{g.status}"><td>{html.escape(g.node)}</td><td>{html.escape(g.sheet)}</td>'
            f"<td>{g.status}</td><td>{html.escape(g.diagnosis)}</td><td>{cells}</td></tr>"
        )
    inputs = "" if grade.inputs in ("", "own") else f"<p><b>Inputs:</b> {html.escape(_inputs(grade.inputs))}</p>"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Feedback: {html.escape(who)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>Feedback: {html.escape(who)}</h1>"
        f"<p>File {html.escape(grade.path.name)}: {grade.correct} of {len(grade.nodes)} exercise nodes correct.</p>"
        f"{inputs}<table><tr><th>node</th><th>sheet</th><th>status</th><th>what the grader found</th>"
        f"<th>wrong cells at your inputs</th></tr>{''.join(rows)}</table>"
        "<p>Each block was also checked at other inputs, which are not shown: a formula must follow "
        "when the inputs change.</p></body></html>\n"
    )


def _inputs(verdict: str) -> str:
    if verdict == "edited":
        return "the inputs on the input sheets are not the ones your workbook was given"
    return f"this file carries the inputs of another workbook ({verdict})"
