"""Address helpers, as input → output tables."""

import pytest

from bnsheet.a1 import (
    Area,
    cell,
    col_letter,
    col_number,
    from_r1c1,
    parse_area,
    quote_sheet,
    references,
    to_r1c1,
)


@pytest.mark.parametrize(
    "col, letters",
    [
        (1, "A"),
        (3, "C"),
        (26, "Z"),
        (27, "AA"),
        (52, "AZ"),
        (53, "BA"),
        (702, "ZZ"),
        (703, "AAA"),
        (16384, "XFD"),
    ],
)
def test_col_letter_and_back(col, letters):
    assert col_letter(col) == letters
    assert col_number(letters) == col


@pytest.mark.parametrize("col", [0, 16385])
def test_col_letter_refuses_columns_excel_does_not_have(col):
    with pytest.raises(ValueError):
        col_letter(col)


@pytest.mark.parametrize(
    "name, quoted",
    [("x", "'x'"), ("dx1", "'dx1'"), ("my sheet", "'my sheet'"), ("it's", "'it''s'")],
)
def test_quote_sheet_always_quotes(name, quoted):
    assert quote_sheet(name) == quoted


@pytest.mark.parametrize(
    "kwargs, address",
    [
        ({}, "C7"),
        ({"pin_row": True}, "C$7"),
        ({"pin_col": True}, "$C7"),
        ({"pin_row": True, "pin_col": True}, "$C$7"),
    ],
)
def test_cell_pins(kwargs, address):
    assert cell(7, 3, **kwargs) == address


@pytest.mark.parametrize(
    "text, area",
    [
        ("'xmu'!$C$7:$E$10", Area("xmu", 7, 3, 10, 5)),
        ("'params'!$C$7", Area("params", 7, 3, 7, 3)),
        ("xmu!C7:E10", Area("xmu", 7, 3, 10, 5)),
        ("'it''s'!$B$2", Area("it's", 2, 2, 2, 2)),
        ("#REF!", None),
        ("'x'!$C$7,'x'!$D$9", None),
    ],
)
def test_parse_area(text, area):
    assert parse_area(text) == area


def test_area_absolute_round_trips():
    area = Area("dx1", 7, 3, 10, 5)
    assert area.absolute() == "'dx1'!$C$7:$E$10"
    assert parse_area(area.absolute()) == area


@pytest.mark.parametrize(
    "formula, row, col, r1c1",
    [
        ("='x'!C7*'y'!C$7", 7, 3, "='x'!R[0]C[0]*'y'!R7C[0]"),
        ("='x'!D8*'y'!D$7", 8, 4, "='x'!R[0]C[0]*'y'!R7C[0]"),
        ("=AVERAGE('x'!C$7:C$10)", 7, 3, "=AVERAGE('x'!R7C[0]:R10C[0])"),
        ("=$A$1+A1", 2, 2, "=R1C1+R[-1]C[-1]"),
        ("=LOG10(C7)", 7, 3, "=LOG10(R[0]C[0])"),  # a function named like a cell
        ("=dx1!C7", 7, 3, "=dx1!R[0]C[0]"),  # an unquoted sheet named like a cell
        ("='dx1'!C7", 7, 3, "='dx1'!R[0]C[0]"),
        ('="C7"&C7', 7, 3, '="C7"&R[0]C[0]'),  # text is text
        ("=bn_eps+SQRT(C7)", 7, 3, "=bn_eps+SQRT(R[0]C[0])"),
    ],
)
def test_to_r1c1(formula, row, col, r1c1):
    assert to_r1c1(formula, row, col) == r1c1


@pytest.mark.parametrize(
    "formula, row, col",
    [("='x'!C7*'y'!C$7", 9, 5), ("=AVERAGE('x'!C$7:C$10)", 7, 28), ("=$A$1+B2", 3, 3), ("='dx1'!C7", 8, 3)],
)
def test_from_r1c1_inverts_to_r1c1(formula, row, col):
    assert from_r1c1(to_r1c1(formula, row, col), row, col) == formula


def test_same_formula_filled_has_one_r1c1_form_and_a_dropped_dollar_does_not():
    filled = {to_r1c1(f"='xmu'!{c}{r}*'ivar'!{c}$7", r, col) for r in (7, 8) for c, col in (("C", 3), ("D", 4))}
    assert len(filled) == 1
    assert to_r1c1("='xmu'!C8*'ivar'!C7", 8, 3) not in filled


@pytest.mark.parametrize(
    "formula, found",
    [
        ("=gamma!C$7*'dout'!C7", [("gamma", "gamma!C$7", "'gamma'!C$7"), ("dout", "'dout'!C7", "'dout'!C$7")]),
        ("=SUM(x!$C7:$C$10)", [("x", "x!$C7:$C$10", "'x'!$C$7:$C$10")]),
        ("='it''s'!B2+A1+bn_eps", [("it's", "'it''s'!B2", "'it''s'!B$2")]),
        ('="a!B2"', []),
    ],
)
def test_references_to_other_sheets(formula, found):
    refs = references(formula)
    assert [(r.sheet, r.text, r.pinned(rows=True)) for r in refs] == found
