"""The front sheet, ``graph``: the forward pass down the left, the backward pass up the right beside
the forward step it undoes, then the inputs, the extras and the plots — every name a link; and how
every other sheet links to a sheet."""

from __future__ import annotations

from collections.abc import Collection

from ..a1 import cell, quote_sheet
from ..layout import PARAMS_SHEET
from ..model import checks, plots
from ..model.graph import Block, Graph
from . import ooxml
from .widths import fitted, reach, text_width

GRAPH_SHEET = "graph"
TAB = {"input": "FFD966", "forward": "5B9BD5", "backward": "ED7D31", "param": "70AD47", "graph": "404040"}
EXERCISE_MARK = "✎"  # before an exercise's name: the sheet the learner fills in
_TOP = 6  # the row of the first input; step k of both passes sits at _TOP + 2k
# the least widths of the columns: A and F are margins; the others are widened to fit their texts
_WIDTHS = {1: 2.0, 2: 4.0, 3: 8.0, 4: 4.0, 5: 30.0, 6: 3.0, 7: 4.0, 8: 8.0, 9: 8.0, 10: 30.0}
_SPILLING = ("title", "heading")  # styles of texts that run on to the right, over empty cells


def shape_name(block: Block) -> str:
    """``N×D`` or ``1×D``."""
    return block.shape.replace("x", "×")


def link(name: str) -> str:
    """Where a link to sheet ``name`` goes: its first cell."""
    return f"{quote_sheet(name)}!A1"


def graph_sheet(graph: Graph, exercise: Collection[str] = ()) -> ooxml.Sheet:
    """The front sheet of ``graph``'s workbook; an ``exercise`` node shows its task, not its math."""
    front = _Front(graph, exercise)
    front.passes()
    row = front.backward(front.forward())
    row = front.inputs(row)
    row = front.extras(row)
    front.more(row)
    ordered = [(r, sorted(cells)) for r, cells in sorted(front.rows.items())]
    # a text runs on to the right over the empty cells beside it: a title, a heading, and the
    # last text of a row; every other text is shown whole by its column's width
    spilling = [(row, col, str(text), style) for row, cells in ordered for col, text, style in cells
                if style in _SPILLING or col == cells[-1][0]]  # fmt: skip
    fitting = {(row, col) for row, col, _, _ in spilling}
    widths = {
        col: fitted(
            [
                (str(text), style)
                for row, cells in ordered
                for c, text, style in cells
                if c == col and (row, c) not in fitting
            ],
            least=least,
        )  # fmt: skip
        for col, least in _WIDTHS.items()
    }
    right = max([max(widths), *(reach(col, text_width(text, style), widths) for _, col, text, style in spilling)])
    print_area = f"$A$1:{cell(max(front.rows), right, pin_row=True, pin_col=True)}"
    return ooxml.Sheet(
        GRAPH_SHEET, ordered, widths=widths, links=front.links, tab_color=TAB["graph"], print_area=print_area,
        one_page=True,
    )  # fmt: skip


class _Front:
    """The front sheet's cells as they are put, row by row, and its links."""

    def __init__(self, graph: Graph, exercise: Collection[str]) -> None:
        self.graph, self.exercise = graph, set(exercise)
        self.rows: dict[int, list[tuple[int, ooxml.Value, str]]] = {}
        self.links: list[tuple[str, str]] = []

    def math(self, block: Block) -> str:
        """A node's math line; for an exercise, its task instead (the math is the answer)."""
        if block.name in self.exercise:
            return self.graph.word("exercise_title", step=block.step, name=block.name, task=block.task)
        return block.math

    def put(self, row: int, col: int, value: ooxml.Value, style: str, target: str | None = None) -> None:
        self.rows.setdefault(row, []).append((col, value, style))
        if target is not None:
            self.links.append((cell(row, col), link(target)))

    def node(self, row: int, col: int, block: Block) -> None:
        """A node's name, a link to its sheet; an exercise's marked ``✎ dxhat`` (a sheet to fill in)."""
        shown = f"{EXERCISE_MARK} {block.name}" if block.name in self.exercise else block.name
        self.put(row, col, shown, f"{self.graph.kind(block)}_link", block.name)

    def described(self, row: int, block: Block, what: str) -> None:
        """A node in the left column with its shape and ``what`` it is."""
        self.node(row, 3, block)
        self.put(row, 4, shape_name(block), "note")
        self.put(row, 5, what, "note")

    def passes(self) -> None:
        """The title and the headings of both passes."""
        graph, put = self.graph, self.put
        put(1, 2, graph.word("graph_title"), "title")
        put(2, 2, graph.word("graph_intro"), "note")
        links = graph.word("graph_links")
        if self.exercise:
            links = f"{links}  {graph.word('graph_exercise', mark=EXERCISE_MARK)}"
        put(3, 2, links, "note")
        sections = {s.prefix: s for s in graph.sections}
        put(4, 2, sections["f"].title if "f" in sections else "", "heading")
        put(4, 7, sections["b"].title if "b" in sections else "", "heading")
        for col, key in ((2, "step"), (3, "node"), (4, "shape"), (5, "what"), (7, "step"), (8, "node"), (10, "what")):
            put(5, col, graph.word(key), "label")

    def forward(self) -> int:
        """The first input, then the forward steps down the left; returns how many there are."""
        forward = [n for n in self.graph.nodes if n.step.startswith("f")]
        first_input = self.graph.inputs[0]
        self.described(_TOP, first_input, first_input.text)
        for k in range(1, len(forward) + 1):
            self.put(_TOP + 2 * k - 1, 3, "↓", "arrow")
        for block in forward:
            row = _TOP + 2 * int(block.step[1:])
            self.put(row, 2, block.step, "label")
            self.described(row, block, self.math(block))
        return len(forward)

    def backward(self, forward_steps: int) -> int:
        """The backward steps up the right, each beside the forward step it undoes, the incoming
        gradient below them; returns the row below."""
        steps: dict[int, list[Block]] = {}
        for block in self.graph.nodes:
            if block.step.startswith("b"):
                steps.setdefault(int(block.step[1:]), []).append(block)
        for k, blocks in steps.items():
            row = _TOP + 2 * k
            self.put(row, 7, blocks[0].step, "label")
            for col, block in enumerate(blocks, start=8):  # the template allows two per step
                self.node(row, col, block)
            self.put(row, 10, ";  ".join(self.math(b) for b in blocks), "note")
            if k < max(steps):
                self.put(row + 1, 8, "↑", "arrow")
        row = _TOP + 2 * (max(steps, default=forward_steps) + 1)
        self.put(row - 1, 8, "↑", "arrow")
        gradient_in = next((b for b in self.graph.inputs if b.name == "dout"), None)
        if gradient_in is not None:
            self.node(row, 8, gradient_in)
            self.put(row, 10, gradient_in.text, "note")
        return row + 2

    def inputs(self, row: int) -> int:
        self.put(row, 2, self.graph.word("graph_inputs"), "heading")
        for block in self.graph.inputs:
            row += 1
            self.described(row, block, block.text)
        return row

    def extras(self, row: int) -> int:
        """Each section beyond the two passes (compact backward, running statistics, SGD)."""
        for section in self.graph.sections:
            extras = [n for n in self.graph.nodes if n.step.startswith(section.prefix)]
            if section.prefix in ("f", "b") or not extras:
                continue
            row += 2
            self.put(row, 2, section.title, "heading")
            for block in extras:
                row += 1
                self.put(row, 2, block.step, "label")
                self.described(row, block, self.math(block))
        return row

    def more(self, row: int) -> None:
        """The parameters, plots and checks sheets."""
        graph, put = self.graph, self.put
        row += 2
        put(row, 2, graph.word("graph_more"), "heading")
        put(row + 1, 3, PARAMS_SHEET, "link", PARAMS_SHEET)
        put(row + 1, 5, graph.word("params_note"), "note")
        put(row + 2, 3, plots.PLOTS_SHEET, "link", plots.PLOTS_SHEET)
        put(row + 2, 5, graph.word("plots_title"), "note")
        if checks.applies(graph):
            put(row + 3, 3, checks.CHECKS_SHEET, "link", checks.CHECKS_SHEET)
            put(row + 3, 5, graph.word("checks_title"), "note")
