"""The theme part (xl/theme/theme1.xml), which Excel requires of every workbook: bnsheet's own
colours and the cells' typeface (which charts take their text from), with the plainest formatting
scheme the schema allows."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .namespaces import DECLARATION, DRAWING
from .styles import LATIN, Typeface

# The theme's colour slots, in the order the schema fixes; the accents are bnsheet's sheet-tab and
# chart colours (forward blue, backward orange, parameter green, input yellow, purple, gold).
_COLOURS = (
    ("dk1", "000000"), ("lt1", "FFFFFF"), ("dk2", "1F4E79"), ("lt2", "F2F2F2"),
    ("accent1", "5B9BD5"), ("accent2", "ED7D31"), ("accent3", "70AD47"), ("accent4", "FFD966"),
    ("accent5", "7030A0"), ("accent6", "BF9000"), ("hlink", "0563C1"), ("folHlink", "7F7F7F"),
)  # fmt: skip


def theme(typeface: Typeface = LATIN) -> str:
    """xl/theme/theme1.xml, its fonts ``typeface``; an East Asian one
    also the font of its script."""
    colours = "".join(f'<a:{slot}><a:srgbClr val="{rgb}"/></a:{slot}>' for slot, rgb in _COLOURS)
    name = quoteattr(typeface.name)
    east_asian = name if typeface.script else '""'
    fonts = f'<a:latin typeface={name}/><a:ea typeface={east_asian}/><a:cs typeface=""/>'
    if typeface.script:
        fonts += f'<a:font script="{typeface.script}" typeface={name}/>'
    # The schema asks for three of each style (subtle, moderate, intense); plain ones in the
    # placeholder colour (phClr) that a shape fills in with its own.
    fill = '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>'
    line = f'<a:ln w="9525">{fill}</a:ln>'
    effect = "<a:effectStyle><a:effectLst/></a:effectStyle>"
    return (
        f'{DECLARATION}<a:theme xmlns:a="{DRAWING}" name="bnsheet"><a:themeElements>'
        f'<a:clrScheme name="bnsheet">{colours}</a:clrScheme>'
        f'<a:fontScheme name="bnsheet"><a:majorFont>{fonts}</a:majorFont><a:minorFont>{fonts}</a:minorFont>'
        '</a:fontScheme><a:fmtScheme name="bnsheet">'
        f"<a:fillStyleLst>{fill * 3}</a:fillStyleLst><a:lnStyleLst>{line * 3}</a:lnStyleLst>"
        f"<a:effectStyleLst>{effect * 3}</a:effectStyleLst><a:bgFillStyleLst>{fill * 3}</a:bgFillStyleLst>"
        "</a:fmtScheme></a:themeElements><a:objectDefaults/><a:extraClrSchemeLst/></a:theme>"
    )
