"""The styles part (xl/styles.xml): the fonts, fills, number formats and cell formats behind
bnsheet's named cell styles, in a typeface chosen per language."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from .namespaces import DECLARATION, MAIN

# Cell styles by name; their order is their index in styles.xml. A cell may add a number format
# to a style's name after a bar, "forward|0.0000": see Styles.
STYLES = (
    "default", "title", "note", "label", "input", "forward", "backward", "param", "link",
    "input_link", "forward_link", "backward_link", "heading", "arrow", "forward_right",
)  # fmt: skip
_FORMAT = "|"
# The number formats every application knows by number (ECMA-376 §18.8.30); others get 164 on.
_BUILT_IN = {"General": 0, "0": 1, "0.00": 2, "0.00E+00": 11}
_FIRST_CUSTOM = 164


@dataclass(frozen=True)
class Typeface:
    """The font every cell is written in. ``charset`` 128 (Shift JIS) tells Excel to take another
    Japanese font where this one is missing; ``script`` (the theme's name of an East Asian script)
    makes it the theme's font for that script too; ``italic`` whether notes are set in italic,
    which kana and kanji have none of."""

    name: str = "Calibri"
    charset: int | None = None
    script: str | None = None
    italic: bool = True


LATIN = Typeface()
JAPANESE = Typeface("Yu Gothic", charset=128, script="Jpan", italic=False)


def styled(style: str, number_format: str | None) -> str:
    """A style's name with a number format, as a cell names it: ``forward|0.0000``."""
    return style if not number_format or number_format == "General" else f"{style}{_FORMAT}{number_format}"


class Styles(dict[str, int]):
    """Cell styles by name to their index (a cell's s="…"): the named styles of STYLES first, then
    each style with a number format in order of first use, so the same sheets give the same part.

    >>> styles = Styles()
    >>> styles["forward"], styles["forward|0.0000"], styles["backward|0.0000"], styles["forward|0.0000"]
    (5, 15, 16, 15)
    """

    def __init__(self) -> None:
        super().__init__((name, i) for i, name in enumerate(STYLES))

    def __missing__(self, name: str) -> int:
        style, _, number_format = name.partition(_FORMAT)
        if style not in STYLES or not number_format:
            raise KeyError(name)
        self[name] = len(self)
        return self[name]

    def part(self, typeface: Typeface = LATIN) -> Iterator[str]:
        """xl/styles.xml, to be written once every sheet is."""
        codes = dict.fromkeys(code for name in self if (code := name.partition(_FORMAT)[2]))
        custom = [code for code in codes if code not in _BUILT_IN]
        ids = _BUILT_IN | {code: _FIRST_CUSTOM + k for k, code in enumerate(custom)}
        yield f'{DECLARATION}<styleSheet xmlns="{MAIN}">'
        if custom:
            yield f'<numFmts count="{len(custom)}">'
            yield "".join(
                f"<numFmt numFmtId={quoteattr(str(ids[code]))} formatCode={quoteattr(code)}/>" for code in custom
            )
            yield "</numFmts>"
        yield _fonts(typeface)
        yield _fills()
        yield '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        yield '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        yield f'<cellXfs count="{len(self)}">'
        for name in self:  # a dict keeps the order of the indices
            style, _, code = name.partition(_FORMAT)
            yield _xf(style, ids[code] if code else 0)
        yield "</cellXfs>"
        yield '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'


# (font, fill) of each entry of STYLES; fonts as in _fonts, fills as in _fills
_XFS = dict(zip(STYLES, [(0, 0), (1, 0), (2, 0), (3, 0), (0, 2), (0, 3), (0, 4), (0, 5), (4, 0),
                         (4, 2), (4, 3), (4, 4), (5, 0), (6, 0), (0, 3)], strict=True))  # fmt: skip
_ALIGNED = {"arrow": "center", "forward_right": "right"}  # text is left-aligned otherwise
_FILL_COLOURS = ("FFF2CC", "DDEBF7", "FCE4D6", "E2EFDA")  # input yellow, forward blue, backward orange, param


def _fonts(typeface: Typeface) -> str:
    """0 normal, 1 title, 2 note, 3 label, 4 link, 5 heading, 6 arrow."""
    name = f'<name val={quoteattr(typeface.name)}/><family val="2"/>'
    if typeface.charset is not None:
        name += f'<charset val="{typeface.charset}"/>'
    italic = "<i/>" if typeface.italic else ""
    fonts = (
        f'<font><sz val="11"/>{name}</font>',
        f'<font><b/><sz val="13"/>{name}</font>',
        f'<font>{italic}<sz val="10"/><color rgb="FF555555"/>{name}</font>',
        f'<font><b/><sz val="11"/><color rgb="FF333333"/>{name}</font>',
        f'<font><u/><sz val="11"/><color rgb="FF0563C1"/>{name}</font>',
        f'<font><b/><sz val="11"/><color rgb="FF1F4E79"/>{name}</font>',
        f'<font><b/><sz val="12"/><color rgb="FF7F7F7F"/>{name}</font>',
    )
    return f'<fonts count="{len(fonts)}">{"".join(fonts)}</fonts>'


def _fills() -> str:
    """0 none, 1 gray125 (both required by the schema), then the colours of _FILL_COLOURS."""
    fills = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    fills += "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c}"/><bgColor indexed="64"/></patternFill></fill>'
        for c in _FILL_COLOURS
    )
    return f'<fills count="{2 + len(_FILL_COLOURS)}">{fills}</fills>'


def _xf(style: str, number_format: int) -> str:
    font, fill = _XFS[style]
    return (
        f'<xf numFmtId="{number_format}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
        + (' applyNumberFormat="1"' if number_format else "")
        + (' applyFont="1"' if font else "")
        + (' applyFill="1"' if fill else "")
        + (f' applyAlignment="1"><alignment horizontal="{_ALIGNED[style]}"/></xf>' if style in _ALIGNED else "/>")
    )
