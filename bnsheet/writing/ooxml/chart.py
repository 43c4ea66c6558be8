"""The drawing parts (xl/drawings/drawingN.xml), which place charts over a sheet's cells, and the
chart parts (xl/charts/chartN.xml): clustered column charts reading their numbers from cells."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .namespaces import CHART, DECLARATION, DRAWING, REL, SPREADSHEET_DRAWING


@dataclass(frozen=True)
class Chart:
    """A clustered column chart: categories (text) and one or more series, each a range of cells."""

    title: str
    categories: str  # a range of text such as 'plots'!$C$17:$C$24
    series: tuple[tuple[str, str, str], ...]  # (name, range of values, colour as RRGGBB)
    anchor: tuple[int, int, int, int]  # top row, left column, bottom row, right column (1-based)
    value_format: str = "General"  # of the value axis' labels
    major_unit: float | None = None  # the step between the value axis' ticks; None: the application's


def drawing(charts: list[Chart]) -> str:
    """The drawing part of a sheet: one frame per chart, anchored to cells; the i-th chart is the
    drawing's relationship rIdi."""
    frames = []
    for i, chart in enumerate(charts, start=1):
        top, left, bottom, right = chart.anchor
        frames.append(
            "<xdr:twoCellAnchor>"
            f"<xdr:from><xdr:col>{left - 1}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{top - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{right - 1}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{bottom - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" name="Chart {i}"/>'
            "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{CHART}"><c:chart xmlns:c="{CHART}" xmlns:r="{REL}" r:id="rId{i}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>"
        )
    return (
        f'{DECLARATION}<xdr:wsDr xmlns:xdr="{SPREADSHEET_DRAWING}" xmlns:a="{DRAWING}">'
        + "".join(frames)
        + "</xdr:wsDr>"
    )


def chart(chart: Chart) -> str:
    """A clustered column chart reading its numbers from cells."""
    series = "".join(
        f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/><c:tx><c:v>{escape(name)}</c:v></c:tx>'
        f'<c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr><c:invertIfNegative val="0"/>'
        f"<c:cat><c:strRef><c:f>{escape(chart.categories)}</c:f></c:strRef></c:cat>"
        f"<c:val><c:numRef><c:f>{escape(values)}</c:f></c:numRef></c:val></c:ser>"
        for i, (name, values, colour) in enumerate(chart.series)
    )
    title = (
        '<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="1100" b="1"/></a:pPr>'
        f'<a:r><a:rPr sz="1100" b="1"/><a:t>{escape(chart.title)}</a:t></a:r></a:p></c:rich></c:tx>'
        '<c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>'
    )
    axes = (
        '<c:catAx><c:axId val="1"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:tickLblPos val="low"/><c:crossAx val="2"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/></c:catAx>'
        '<c:valAx><c:axId val="2"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        f'<c:axPos val="l"/><c:majorGridlines/><c:numFmt formatCode={quoteattr(chart.value_format)} sourceLinked="0"/>'
        '<c:tickLblPos val="nextTo"/><c:crossAx val="1"/><c:crosses val="autoZero"/>'
        '<c:crossBetween val="between"/>'
        + (f'<c:majorUnit val="{chart.major_unit!r}"/>' if chart.major_unit is not None else "")
        + "</c:valAx>"
    )
    return (
        f'{DECLARATION}<c:chartSpace xmlns:c="{CHART}" xmlns:a="{DRAWING}" '
        f'xmlns:r="{REL}"><c:roundedCorners val="0"/><c:chart>{title}<c:plotArea><c:layout/>'
        '<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>'
        f'{series}<c:gapWidth val="60"/><c:axId val="1"/><c:axId val="2"/></c:barChart>{axes}</c:plotArea>'
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        '<c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    )
