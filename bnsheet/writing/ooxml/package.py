"""The package's own parts: [Content_Types].xml, which names the type of every part, and the
relationship parts (``_rels/*.rels``), which tie each part to the parts it uses."""

from __future__ import annotations

from .namespaces import DECLARATION, PKG_REL, REL

_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_OFFICE = "application/vnd.openxmlformats-officedocument"


def content_types(sheets: int, drawings: int = 0, charts: int = 0) -> str:
    """[Content_Types].xml for a package of so many worksheets, drawings and charts."""
    parts = [
        ("/xl/workbook.xml", f"{_OFFICE}.spreadsheetml.sheet.main+xml"),
        ("/xl/styles.xml", f"{_OFFICE}.spreadsheetml.styles+xml"),
        ("/xl/theme/theme1.xml", f"{_OFFICE}.theme+xml"),
        ("/xl/sharedStrings.xml", f"{_OFFICE}.spreadsheetml.sharedStrings+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", f"{_OFFICE}.extended-properties+xml"),
    ]
    parts += [(f"/xl/worksheets/sheet{i}.xml", f"{_OFFICE}.spreadsheetml.worksheet+xml") for i in range(1, sheets + 1)]
    parts += [(f"/xl/drawings/drawing{i}.xml", f"{_OFFICE}.drawing+xml") for i in range(1, drawings + 1)]
    parts += [(f"/xl/charts/chart{i}.xml", f"{_OFFICE}.drawingml.chart+xml") for i in range(1, charts + 1)]
    overrides = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in parts)
    return (
        f'{DECLARATION}<Types xmlns="{_TYPES}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>'
    )


def relationships(targets: list[tuple[str, str]]) -> str:
    """A part's relationships: (type, target) as rId1, rId2, …; a type is the last word of its
    URI, such as ``worksheet``."""
    listed = "".join(
        f'<Relationship Id="rId{i}" Type="{REL}/{kind}" Target="{target}"/>'
        for i, (kind, target) in enumerate(targets, start=1)
    )
    return f'{DECLARATION}<Relationships xmlns="{PKG_REL}">{listed}</Relationships>'


def root_relationships() -> str:
    """_rels/.rels: the workbook and the two document properties parts."""
    return (
        f'{DECLARATION}<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{REL}/extended-properties" Target="docProps/app.xml"/></Relationships>'
    )


def workbook_relationships(sheets: int) -> str:
    """xl/_rels/workbook.xml.rels: the worksheets as rId1…rIdN, then the workbook-wide parts."""
    targets = [("worksheet", f"worksheets/sheet{i}.xml") for i in range(1, sheets + 1)]
    return relationships(
        [*targets, ("theme", "theme/theme1.xml"), ("styles", "styles.xml"), ("sharedStrings", "sharedStrings.xml")]
    )
