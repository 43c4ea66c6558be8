"""The workbook as a learner meets it: the graph sheet and its links, both languages, the extras
and the plots verified, cached values that readers without a formula engine see, byte-identical
rebuilds."""

from __future__ import annotations

import hashlib

import numpy as np
import openpyxl
import pandas as pd
import pytest

import bnsheet
from bnsheet import engines
from bnsheet.layout import Layout
from bnsheet.model import plots, reference
from bnsheet.model.graph import load
from bnsheet.reading.blocks import locate
from bnsheet.reading.xlsx import XlsxFile
from conftest import tamper


def _links(sheet) -> dict[str, str]:
    """Internal hyperlinks of a sheet: cell → target sheet name."""
    return {
        c.coordinate: c.hyperlink.location.split("!")[0].strip("'")
        for row in sheet.iter_rows()
        for c in row
        if c.hyperlink is not None and c.hyperlink.location
    }


def test_graph_sheet_comes_first_and_links_every_sheet_and_every_sheet_links_back(built):
    graph = load()
    book = openpyxl.load_workbook(built)
    assert book.sheetnames[0] == "graph"
    targets = set(_links(book["graph"]).values())
    assert {b.name for b in graph.blocks} | {"params", "plots"} <= targets
    for name in book.sheetnames[1:]:
        links = _links(book[name])
        assert links.get("A1") == "graph", f"sheet {name} does not link back to graph"
    for node in graph.nodes:
        reads = set(_links(book[node.name]).values()) - {"graph"}
        params = {p.name for p in graph.params}
        assert reads == {"params" if r in params else r for r in node.reads}, node.name


def test_graph_sheet_numbers_the_steps_as_the_spec_does(built):
    sheet = openpyxl.load_workbook(built)["graph"]
    steps = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and len(c.value) == 2]
    forward = [f"f{k}" for k in range(1, 10)]
    backward = [f"b{k}" for k in range(9, -1, -1)]
    assert [s for s in steps if s in forward] == forward
    assert sorted(s for s in steps if s in backward) == sorted(backward)


def test_backward_sheets_carry_their_local_rule_and_inputs_their_colour(built):
    book = openpyxl.load_workbook(built)
    notes = [book["dsqrtvar"].cell(r, 2).value for r in range(1, 6)]
    assert any(n and "d(1/x)/dx = −1/x²" in n for n in notes)
    assert book["x"]["C7"].fill.fgColor.rgb != book["xmu"]["C7"].fill.fgColor.rgb != book["dx"]["C7"].fill.fgColor.rgb
    assert book["xmu"].freeze_panes == "C7"


def test_every_text_exists_in_both_languages_and_is_translated():
    en, ja = load(lang="en"), load(lang="ja")
    assert en.words.keys() == ja.words.keys()
    for a, b in zip(en.blocks, ja.blocks, strict=True):
        assert a.text and b.text and a.text != b.text, a.name
    assert en.title != ja.title


def test_a_japanese_workbook_verifies_and_speaks_japanese(tmp_path):
    path = bnsheet.build(tmp_path / "ja.xlsx", lang="ja", n=5, d=2, seed=4)
    assert bnsheet.verify(path).ok
    book = openpyxl.load_workbook(path)
    assert book["graph"]["B1"].value == load(lang="ja").words["graph_title"]
    assert book["xhat"]["C6"].value == "特徴 1"


def test_an_unknown_language_is_refused(tmp_path):
    with pytest.raises(bnsheet.TemplateError, match="language 'fr'"):
        bnsheet.build(tmp_path / "fr.xlsx", lang="fr")


def test_pandas_reads_the_numbers_without_recalculating(built):
    with XlsxFile(built) as book:
        inputs = {name: _block(book, name) for name in ("x", "gamma", "beta", "dout", "running_mean", "running_var")}
    values = reference.nodes(**inputs)
    for node in ("xhat", "out", "dx", "dx_compact", "new_running_var", "out_inference", "gamma_new"):
        rows = values[node].shape[0]
        frame = pd.read_excel(built, sheet_name=node, header=None, skiprows=6, nrows=rows, usecols="C:E")
        np.testing.assert_allclose(frame.to_numpy(dtype=float), values[node], rtol=1e-12, atol=1e-15, err_msg=node)
    counts = plots.expected(load(), values)["plot_counts_out"]
    with XlsxFile(built) as book:
        area = plots.layout(load(), Layout(4, 3)).block("plot_counts_out").area
        cells = book.cells("plots")
        cached = [[cells[(area.top + i, area.left + j)].value for j in range(3)] for i in range(area.shape[0])]
    assert np.array_equal(np.array(cached), counts)


def test_two_builds_are_byte_identical(tmp_path):
    first = bnsheet.build(tmp_path / "a.xlsx", n=6, d=4, seed=3, lang="ja")
    second = bnsheet.build(tmp_path / "b.xlsx", n=6, d=4, seed=3, lang="ja")
    third = bnsheet.build(tmp_path / "c.xlsx", n=6, d=4, seed=4, lang="ja")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second, third)]
    assert digest[0] == digest[1] != digest[2]


@pytest.mark.parametrize("unbiased", [False, True])
def test_the_extras_verify_with_their_parameters(tmp_path, unbiased):
    path = bnsheet.build(tmp_path / "w.xlsx", n=5, d=3, seed=2, momentum=0.7, unbiased=unbiased, lr=0.5)
    report = bnsheet.verify(path)
    assert report.ok, report.to_text()
    with XlsxFile(path) as book:
        x, running_var = _block(book, "x"), _block(book, "running_var")
        got = _block(book, "new_running_var")
    np.testing.assert_allclose(got, 0.7 * running_var + 0.3 * np.var(x, axis=0, ddof=int(unbiased)), rtol=1e-12)


def _result(report, node):
    return report.table.set_index("node").loc[node]


@pytest.mark.parametrize(
    "sheet, cell, formula, node",
    [
        ("gamma_new", "D7", "='gamma'!D$7+bn_lr*'dgamma'!D$7", "gamma_new"),
        ("dx_compact", "C8", "='dx'!C8", "dx_compact"),
        ("plots", "D30", "=1", "plot_counts_x"),
    ],
)
def test_a_tampered_extra_or_plot_is_caught(built, sheet, cell, formula, node):
    def change(book):
        book[sheet][cell] = formula

    row = _result(bnsheet.verify(tamper(built, change)), node)
    assert row.status in ("mismatch", "not filled") and row.first_bad_cell == f"'{sheet}'!{cell}"


def test_a_wrong_parameter_formula_is_caught(built):
    def change(book):
        book["params"]["C11"] = "=bn_n/(bn_n-1)"  # var_correction ignoring unbiased = 0

    assert _result(bnsheet.verify(tamper(built, change)), "var_correction").status == "mismatch"


@pytest.mark.apps()  # the formulas engine: seconds a workbook
def test_the_formulas_engine_reads_a_double_minus_array_as_zero(tmp_path):
    """formulas (1.3) gives 0 for SUMPRODUCT(--(range>=v)), a common way to count; (range>=v)*1
    gives 3, as every other engine does for both. bnsheet's formulas use neither (the plots sheet
    counts with COUNTIF). When this fails, formulas has fixed the fault."""
    import formulas

    book = openpyxl.Workbook()
    sheet = book.active
    for row, value in enumerate([1.0, 2.5, -3.0, 4.0], start=1):
        sheet.cell(row, 1, value)
    sheet["B1"] = "=SUMPRODUCT(--(A1:A4>=0.5))"
    sheet["B2"] = "=SUMPRODUCT((A1:A4>=0.5)*1)"
    book.save(tmp_path / "t.xlsx")
    solution = formulas.ExcelModel().loads(str(tmp_path / "t.xlsx")).finish().calculate()
    got = {k.split("!")[1]: float(v.value[0, 0]) for k, v in solution.items() if k.split("!")[1] in ("B1", "B2")}
    assert got == {"B1": 0.0, "B2": 3.0}


def _block(book: XlsxFile, name: str) -> np.ndarray:
    from bnsheet.a1 import parse_area

    area = parse_area(book.names[f"bn_{name}"])
    assert area is not None
    cells = book.cells(area.sheet)
    rows, cols = area.shape
    return np.array([[cells[(area.top + i, area.left + j)].value for j in range(cols)] for i in range(rows)])


def _set_number(path, sheet_part: str, ref: str, value: float) -> None:
    """Rewrite one stored number in a sheet's XML, as a learner typing into the cell would."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as package:
        parts = {info: package.read(info.filename) for info in package.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for info, data in parts.items():
            if info.filename == sheet_part:
                data, count = re.subn(
                    rf'(<c r="{ref}"[^>]*><v>)[^<]*(</v>)'.encode(), rb"\g<1>" + repr(value).encode() + rb"\g<2>", data
                )
                assert count == 1
            package.writestr(info, data)


@pytest.mark.apps("soffice")
def test_libreoffice_moves_out_dx_and_the_histograms_when_gamma_changes(tmp_path):
    graph = load()
    path = bnsheet.build(tmp_path / "w.xlsx", n=6, d=3, seed=1)
    with XlsxFile(path) as book:
        sheet_part = f"xl/worksheets/sheet{book.sheet_names.index('gamma') + 1}.xml"
        inputs = {name: _block(book, name) for name in ("x", "gamma", "beta", "dout", "running_mean", "running_var")}
        areas = {name: area for name, area in locate(book, graph).items() if area is not None}
    before = reference.nodes(**inputs)
    before |= plots.expected(graph, before)
    _set_number(path, sheet_part, "D7", -2.5)
    inputs["gamma"][0, 1] = -2.5
    expected = reference.nodes(**inputs)
    expected |= plots.expected(graph, expected)
    got = engines.recalculate("libreoffice", path, list(areas.values()))
    for name in ("out", "dx", "dx_compact", "gamma_new", "plot_counts_out", "plot_mean_out", "plot_var_out"):
        np.testing.assert_allclose(got[areas[name]].astype(float), expected[name], rtol=1e-12, atol=1e-14, err_msg=name)
    for name in ("out", "dx", "plot_counts_out"):
        assert not np.array_equal(expected[name][:, 1], before[name][:, 1]), name


def test_a_count_may_be_off_only_by_the_values_within_rounding_of_its_edges():
    graph = load()
    values = {"x": np.array([[0.0], [1.0], [2.0], [3.0]]), "xhat": np.array([[0.0], [0.5], [1.5], [3.0]])}
    values["out"] = values["x"] + 0.25
    expected = values | plots.expected(graph, values)
    tolerance = {name: np.zeros_like(v) + 1e-12 for name, v in expected.items()} | {
        name: np.full_like(v, 1e-12) for name, v in values.items()
    }
    slack = plots.count_slack(graph, expected, tolerance)
    # N = 4 values make 3 bins (Sturges' rule, at least 3): edges k·3.25/3 = 0, 1.083…, 2.166…, 3.25;
    # values sit only on the lowest and highest edge,
    # which bound no count an engine could get wrong, so no count may move
    assert all(not s.any() for s in slack.values())
    values["x"][1, 0] = float(expected["plot_edges"][2, 0])  # x now has a value on edge 2
    expected = values | plots.expected(graph, values)
    slack = plots.count_slack(graph, expected, tolerance)
    assert slack["plot_counts_x"][:, 0].tolist() == [0, 1, 1]  # bins 2 and 3 share edge 2
    assert not slack["plot_counts_xhat"].any()
