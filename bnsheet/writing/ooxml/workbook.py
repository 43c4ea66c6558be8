"""The workbook part (xl/workbook.xml): the sheets in order, the defined names, print areas and
print titles, and how applications recalculate."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ...a1 import quote_sheet
from .namespaces import DECLARATION, MAIN, REL
from .worksheet import Sheet


def workbook(sheets: list[Sheet], names: dict[str, str]) -> str:
    """xl/workbook.xml; the i-th sheet is the workbook's relationship rIdi, and ``names`` maps
    defined names to their targets."""
    listed = "".join(
        f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, start=1)
    )
    defined = "".join(f"<definedName name={quoteattr(k)}>{escape(v)}</definedName>" for k, v in names.items())
    for i, s in enumerate(sheets):
        sheet = escape(quote_sheet(s.name))
        if s.print_area:
            defined += f'<definedName name="_xlnm.Print_Area" localSheetId="{i}">{sheet}!{s.print_area}</definedName>'
        if s.print_titles:
            titles = ",".join(f"{sheet}!{part}" for part in s.print_titles)
            defined += f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">{titles}</definedName>'
    return (
        f'{DECLARATION}<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{listed}</sheets>"
        + (f"<definedNames>{defined}</definedNames>" if defined else "")
        # Every application recalculates on open: the file's own cached values are never trusted.
        + '<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>'
    )
