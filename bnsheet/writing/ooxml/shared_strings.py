"""The shared-strings part (xl/sharedStrings.xml): every text cell's text, stored once, which
the cells refer to by index (``<c t="s"><v>3</v></c>``) as Excel itself writes them."""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import escape

from .namespaces import DECLARATION, MAIN


class SharedStrings:
    """The texts of a workbook in order of first use, collected while its sheets are written, so
    that the same sheets always give the same table.

    >>> strings = SharedStrings()
    >>> strings.index("x"), strings.index("mean"), strings.index("x")
    (0, 1, 0)
    >>> strings.count, list(strings.part())[1:]
    (3, ['<si><t xml:space="preserve">x</t></si>', '<si><t xml:space="preserve">mean</t></si>', '</sst>'])
    """

    def __init__(self) -> None:
        self._indices: dict[str, int] = {}
        self.count = 0  # how many cells refer to a text

    def index(self, text: str) -> int:
        """The text's index in the table, added at the end if new."""
        self.count += 1
        found = self._indices.get(text)
        if found is None:
            found = self._indices[text] = len(self._indices)
        return found

    def part(self) -> Iterator[str]:
        """xl/sharedStrings.xml, to be written once every sheet is."""
        yield f'{DECLARATION}<sst xmlns="{MAIN}" count="{self.count}" uniqueCount="{len(self._indices)}">'
        for text in self._indices:  # a dict keeps the order of first use
            yield f'<si><t xml:space="preserve">{escape(text)}</t></si>'
        yield "</sst>"
