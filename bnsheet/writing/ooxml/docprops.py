"""The document properties parts (docProps/core.xml and app.xml), with a fixed timestamp so that
two builds of the same workbook are byte for byte equal."""

from __future__ import annotations

from xml.sax.saxutils import escape

from .namespaces import DECLARATION

APPLICATION = "bnsheet"  # in docProps/app.xml: how bnsheet knows a file it may rebuild freely

_CREATED = "2024-01-01T00:00:00Z"


def core(title: str) -> str:
    """docProps/core.xml: the title, the creator and the fixed creation time."""
    return (
        f"{DECLARATION}"
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>bnsheet</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{_CREATED}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{_CREATED}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def app() -> str:
    """docProps/app.xml: the application that wrote the package (:data:`APPLICATION`)."""
    return (
        f"{DECLARATION}"
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>{APPLICATION}</Application></Properties>"
    )
