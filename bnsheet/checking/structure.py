"""Structure that cannot fake a pass (SPEC §7): where a node's defined name points, what its
formula reads, and, for a workbook bnsheet wrote, whether the formula is the template's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..a1 import Area, quote_sheet, reads, to_r1c1
from ..layout import Layout, defined_name
from ..model.graph import Block, Graph
from ..reading.stored import Fault, Stored
from ..writing.compile import cell_pattern

_STATES = {"hidden": "hidden", "veryHidden": "very hidden"}


def placement_fault(block: Block, area: Area, layout: Layout, hidden: Mapping[str, str]) -> Fault | None:
    """A node's defined name must point at the node's own visible sheet, at the block the layout
    gives: a name pointing at a hidden correct copy leaves the visible sheet unchecked."""
    want = layout.area(block)
    where = f"{defined_name(block.name)} points to {area.text}"
    corner = area.address(0, 0)
    if area.sheet != block.name:
        return "structure", corner, want.text, area.text, f"{where}, not to the node's own sheet '{block.name}'"
    if area.sheet in hidden:
        return "structure", corner, "a visible sheet", area.text, f"{where}, a {_STATES.get(hidden[area.sheet])} sheet"
    if area != want:
        return "structure", corner, want.text, area.text, f"{where}, not to the block the layout gives ({want.text})"
    return None


def reads_fault(
    stored: Stored, known: Iterable[Area], names: Mapping[str, str], allowed_names: set[str],
    computed: Callable[[str, Area], bool] | None = None,
) -> Fault | None:  # fmt: skip
    """A node's formula must read cells, and only cells of the workbook's inputs, parameters and
    nodes (``known``): a formula that reads nothing is a typed value, and one that reads another
    sheet of numbers (hidden or not) computes nothing. Defined names other than the graph's own
    (``allowed_names``) count as what they point to (``names``). With ``computed`` (a mapped
    workbook, whose map may leave intermediate blocks out), cells outside ``known`` may be read
    where ``computed(sheet, cells)`` says every one of them holds a formula."""
    formula = stored.first_formula
    if formula is None:
        return None  # a value stands in the first cell: filled.py calls it a constant
    area = stored.area
    array = formula.startswith("{")
    extents, named = reads(formula.strip("{}"), *((1, 1) if array else area.shape))
    shown = formula if array else "=" + formula
    if not extents and not named:
        return "constant", area.address(0, 0), "a formula that reads cells", shown, "the formula reads no cell"
    known = list(known)
    for extent in extents:
        sheet = extent.sheet if extent.sheet is not None else area.sheet
        outside = Area(sheet, extent.top, extent.left, extent.bottom, extent.right)
        if any(k.sheet == sheet and extent.within(k) for k in known) or (computed and computed(sheet, outside)):
            continue
        cells = extent.text if extent.sheet is not None else f"{quote_sheet(sheet)}!{extent.text}"
        return (
            "structure", area.address(0, 0), "references to inputs, parameters and nodes", shown,
            f"the formula reads {cells}, which is none of the workbook's inputs, parameters or nodes",
        )  # fmt: skip
    for name in named:
        if name.lower() not in allowed_names:
            target = names.get(name) or next((t for n, t in names.items() if n.lower() == name.lower()), None)
            points = f" (it points to {target})" if target else " (the workbook does not define it)"
            return (
                "structure", area.address(0, 0), "references to inputs, parameters and nodes", shown,
                f"the formula reads the name {name}{points}, which is none of the graph's names",
            )  # fmt: skip
    return None


def template_formula(block: Block, graph: Graph, layout: Layout) -> str:
    """The template's formula of the block's first cell, as bnsheet writes it."""
    area = layout.area(block)
    return cell_pattern(block, graph, layout).format(c=area.address(0, 0).rstrip("0123456789"), r=area.top)


def differs_from_template(stored: Stored, template: str) -> bool:
    """Whether the block's first formula is not the template's (quotes and case aside)."""
    if stored.first_formula is None:
        return False
    area = stored.area
    return _plain(stored.first_formula, area) != _plain(template.lstrip("="), area)


def hidden_sheets(hidden: Mapping[str, str]) -> list[str]:
    """A note naming the hidden sheets, which a reader of the workbook does not see."""
    if not hidden:
        return []
    listed = ", ".join(f"{quote_sheet(sheet)} ({_STATES.get(state, state)})" for sheet, state in hidden.items())
    return [f"hidden sheets: {listed}; a reader of the workbook does not see them"]


def _plain(formula: str, area: Area) -> str:
    return to_r1c1(formula, area.top, area.left).replace("'", "").replace(" ", "").upper()
