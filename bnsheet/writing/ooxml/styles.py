"""The styles part (xl/styles.xml): the fonts, fills and cell formats behind bnsheet's named
cell styles."""

from __future__ import annotations

from .namespaces import DECLARATION, MAIN

# Cell styles by name with their (font, fill) as numbered in styles(); their order is their index
# in styles.xml.
_FORMATS = {
    "default": (0, 0),
    "title": (1, 0),
    "note": (2, 0),
    "label": (3, 0),
    "input": (0, 2),
    "forward": (0, 3),
    "backward": (0, 4),
    "param": (0, 5),
    "link": (4, 0),
    "input_link": (4, 2),
    "forward_link": (4, 3),
    "backward_link": (4, 4),
    "heading": (5, 0),
    "arrow": (6, 0),
}
STYLES = tuple(_FORMATS)
STYLE = {name: i for i, name in enumerate(STYLES)}  # a style's name to its index (the cell's s="…")


def styles() -> str:
    """xl/styles.xml with one cell format per entry of :data:`STYLES`."""
    # fonts: 0 normal, 1 title, 2 note, 3 label, 4 link, 5 heading, 6 arrow
    fonts = (
        '<font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="13"/><name val="Calibri"/></font>'
        '<font><i/><sz val="10"/><color rgb="FF555555"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><color rgb="FF333333"/><name val="Calibri"/></font>'
        '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><color rgb="FF1F4E79"/><name val="Calibri"/></font>'
        '<font><b/><sz val="12"/><color rgb="FF7F7F7F"/><name val="Calibri"/></font>'
    )
    # fills: 0 none, 1 gray125 (both required), 2 input yellow, 3 forward blue, 4 backward orange, 5 param
    fill_colors = ("FFF2CC", "DDEBF7", "FCE4D6", "E2EFDA")
    fills = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>' + "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c}"/><bgColor indexed="64"/></patternFill></fill>'
        for c in fill_colors
    )
    xfs = list(_FORMATS.values())
    centred = {STYLE["arrow"]}
    cell_xfs = "".join(
        f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
        + (' applyFont="1"' if font else "")
        + (' applyFill="1"' if fill else "")
        + (' applyAlignment="1"><alignment horizontal="center"/></xf>' if i in centred else "/>")
        for i, (font, fill) in enumerate(xfs)
    )
    return (
        f'{DECLARATION}<styleSheet xmlns="{MAIN}">'
        f'<fonts count="7">{fonts}</fonts><fills count="{2 + len(fill_colors)}">{fills}</fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{cell_xfs}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )
