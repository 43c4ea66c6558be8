"""The workbook as a textbook (issue 17): numbers shown in formats that read well while the values
stay exact, each block's formula printed beside its math, print setup that gives one page per
sheet, Japanese set in a Japanese font with Japanese words, and plots that read well at any N."""

from __future__ import annotations

import math
import re
import subprocess
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import bnsheet
from bnsheet.model import plots
from bnsheet.model.graph import load
from bnsheet.reading.xlsx import XlsxFile


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("en") / "en.xlsx")


@pytest.fixture(scope="module")
def japanese(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("ja") / "ja.xlsx", lang="ja")


@pytest.mark.parametrize(
    "sheet, address, shown",
    [
        ("x", "C7", "0.00##"),  # inputs of two decimals show as typed, longer ones to four
        ("xhat", "C7", "0.0000"),
        ("dx", "E10", "0.0000"),
        ("mean", "D7", "0.0000"),
        ("dx_diff", "C7", "0.00E+00"),  # staged − compact is all rounding: its size is what counts
        ("params", "C7", "General"),
        ("plots", "C5", "0.0000"),  # the mean of x
    ],
)
def test_each_kind_of_block_has_its_number_format(english, sheet, address, shown):
    assert openpyxl.load_workbook(english)[sheet][address].number_format == shown


def test_a_block_of_small_numbers_is_shown_in_scientific_notation(tmp_path):
    # a real network's gradients are ~1e-4: four decimals would show 0.0001 or 0.0000
    rng = np.random.default_rng(5)
    path = bnsheet.build(tmp_path / "w.xlsx", x=rng.normal(0, 1, (6, 3)), dout=rng.normal(0, 1e-4, (6, 3)))
    book = openpyxl.load_workbook(path)
    assert {book[name]["C7"].number_format for name in ("dout", "dx", "dbeta", "dxhat")} == {"0.000E+00"}
    assert {book[name]["C7"].number_format for name in ("xhat", "out", "var")} == {"0.0000"}


def test_a_number_format_changes_what_is_shown_not_the_value(english):
    # what a cell holds is still the double at full precision (repr), not the four decimals shown
    for sheet, address in (("x", "C7"), ("xhat", "C7"), ("dx_diff", "D7")):
        pattern = rf'<c r="{address}" s="\d+">(?:<f>[^<]*</f>)?<v>([^<]*)</v>'.encode()
        stored = re.search(pattern, _sheet_xml(english, sheet))
        assert stored is not None, (sheet, address)
        assert stored.group(1).decode() == repr(float(stored.group(1)))
    assert len(stored.group(1)) > 8  # dx_diff's rounding, all of it


def test_bin_counts_are_whole_numbers(english):
    area = plots.layout(load(), bnsheet.layout.Layout(4, 3)).block("plot_counts_x").area
    assert openpyxl.load_workbook(english)["plots"].cell(area.top, area.left).number_format == "0"


def test_every_node_sheet_prints_its_first_formula_beside_the_math_and_numpy(english, japanese):
    for path, lang, filled in ((english, "en", "in C7, filled over C7:E10"), (japanese, "ja", "C7 に入力")):
        book = openpyxl.load_workbook(path)
        for node in load(lang=lang).nodes:
            sheet = book[node.name]
            notes = [sheet.cell(row, 2).value or "" for row in range(1, 5)]
            line = next(n for n in notes if n.startswith("Excel:  "))
            assert line.startswith(f"Excel:  {sheet['C7'].value}  "), (node.name, line)
            assert any("NumPy:  " in n for n in notes) and node.math in notes[1]
            assert filled in line if not node.is_row else "C7:E7" in line


def test_an_exercise_does_not_print_the_formula_it_asks_for(tmp_path):
    book = openpyxl.load_workbook(bnsheet.build(tmp_path / "e.xlsx", exercise="dx1"))
    notes = [book["dx1"].cell(row, 2).value or "" for row in range(1, 6)]
    assert not any("Excel" in n or "'dxmu1'!C7" in n for n in notes)
    assert any(n.startswith("Excel:  ") for n in (book["dmu"].cell(row, 2).value or "" for row in range(1, 5)))


def test_every_sheet_prints_landscape_one_page_wide_with_titles_and_text_rows(english):
    book = openpyxl.load_workbook(english)
    for sheet in book:
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        pages_tall = 1 if sheet.title in ("graph", "params") else 0  # 0: as many as it takes
        assert (int(setup.fitToWidth), int(setup.fitToHeight)) == (1, pages_tall)
        assert sheet.print_area.split("!")[1].startswith("$A$1:"), sheet.title
    assert book["xmu"].print_title_rows == "$6:$6" and book["xmu"].print_title_cols == "$B:$B"
    # the print area of a node sheet reaches as far as its widest note (the Excel line of dx_compact)
    right = book["dx_compact"].print_area.split(":")[-1].strip("$0123456789")
    assert openpyxl.utils.column_index_from_string(right) > 5


@pytest.mark.apps("soffice")
@pytest.mark.parametrize("options", [{}, {"lang": "ja"}], ids=["en", "ja"])
def test_libreoffice_prints_the_default_workbook_one_page_per_sheet(tmp_path, options):
    path = bnsheet.build(tmp_path / "book.xlsx", **options)
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir",
         str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    pdf = (tmp_path / "book.pdf").read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    with XlsxFile(path) as book:
        assert pages == len(book.sheet_names)  # every sheet prints, none on more than one page


@pytest.mark.apps("soffice")
def test_libreoffice_by_default_shows_the_cached_values_of_an_xlsx(tmp_path):
    # README tells learners how to make LibreOffice recalculate on load, because by default it does
    # not for Excel 2007+ files: a cached value that is not what its formula computes survives a
    # load and a save in a fresh profile. When this test fails, LibreOffice's default has changed:
    # README's advice (Tools > Options > ... > Recalculation on File Load) may go.
    path = bnsheet.build(tmp_path / "book.xlsx")
    with XlsxFile(path) as book:
        computed = book.cells("out")[(7, 3)].value
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if b"<f>'gammax'!C7+'beta'!C$7</f>" in data:  # the out sheet
                data = re.sub(rb'(<c r="C7"[^>]*>(?:(?!</c>).)*?<v>)[^<]*(</v>)', rb"\g<1>999\g<2>", data, count=1)
            target.writestr(item, data)
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx", "--outdir",
         str(tmp_path / "saved"), str(stale)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    saved = openpyxl.load_workbook(tmp_path / "saved" / "stale.xlsx", data_only=True)
    assert computed != 999 and saved["out"]["C7"].value == 999


def _width_needed(text: str) -> int:
    """Characters of text as wide as digits: kana and kanji are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_japanese_is_set_in_a_japanese_font_without_italics(english, japanese):
    en, ja = openpyxl.load_workbook(english), openpyxl.load_workbook(japanese)
    assert en["xhat"]["B2"].font.name == "Calibri" and en["xhat"]["B2"].font.i
    for cell in (ja["xhat"]["B1"], ja["xhat"]["B2"], ja["xhat"]["C7"]):
        assert cell.font.name == "Yu Gothic" and cell.font.charset == 128 and not cell.font.i


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_label_columns_are_wide_enough_for_their_longest_label(tmp_path, lang):
    book = openpyxl.load_workbook(bnsheet.build(tmp_path / "w.xlsx", lang=lang, n=12))
    for sheet in book:
        for row in sheet.iter_rows():
            for c in row:
                if not (isinstance(c.value, str) and (c.font.b or c.font.u)):
                    continue
                if c.font.sz > 11 or sheet.cell(c.row, c.column + 1).value is None:
                    continue  # a title or heading, or text with room beside it to run on into
                width = sheet.column_dimensions[c.column_letter].width
                assert width >= _width_needed(c.value), (sheet.title, c.coordinate, c.value, width)


def test_japanese_words_are_japanese(tmp_path, japanese):
    texts = _texts(japanese) | _texts(bnsheet.build(tmp_path / "e.xlsx", lang="ja", exercise="all"))
    assert "◀ 計算グラフ" in texts and "形状" in texts
    joined = "\n".join(texts)
    for english in ("if unbiased else", "(staged)", "(compact)", "◀ グラフ", "形 "):
        assert english not in joined, english
    assert not [t for t in texts if t.startswith("参照するシート") and ", " in t]  # lists take 「、」


def test_exercise_titles_are_whole_sentences_from_the_template(tmp_path):
    for lang in ("en", "ja"):
        graph = load(lang=lang)
        book = openpyxl.load_workbook(bnsheet.build(tmp_path / f"{lang}.xlsx", lang=lang, exercise="all"))
        for node in graph.nodes:
            title = book[node.name]["B1"].value
            assert node.task and title.endswith(f"{node.name}: {node.task}"), title
            for glued in ("the the", "compute the xhat", "するを計算する", "残らないを計算する"):
                assert glued not in title, title


def test_a_template_node_without_a_task_cannot_be_an_exercise(tmp_path):
    from bnsheet.writing import exercise

    graph = load()
    node = graph.block("dx1")
    with pytest.raises(bnsheet.TemplateError, match="dx1: no task"):
        exercise.task(type(node)(**{**node.__dict__, "task": ""}), graph, bnsheet.layout.Layout(4, 3).area(node), "")


@pytest.mark.parametrize("n", [2, 4, 5, 9, 64, 100, 300])
def test_histograms_have_as_many_bins_as_sturges_rule_gives_and_at_least_three(tmp_path, n):
    expected = max(3, math.ceil(math.log2(n)) + 1)
    area = plots.layout(load(), bnsheet.layout.Layout(n, 2)).block("plot_counts_x").area
    assert area.shape == (expected, 2)
    if n in (4, 64):
        assert bnsheet.verify(bnsheet.build(tmp_path / "w.xlsx", n=n, d=2)).ok


def test_up_to_eight_features_are_charted_with_whole_count_ticks_and_interval_labels(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx", n=6, d=10)
    with XlsxFile(path) as book:
        cells = book.cells("plots")
        labels = plots.layout(load(), bnsheet.layout.Layout(6, 10)).block("plot_bin_labels").area
        edges = plots.layout(load(), bnsheet.layout.Layout(6, 10)).block("plot_edges").area
        for k in range(labels.shape[0]):
            lower, upper = (cells[(edges.top + k + i, labels.left)].value for i in (0, 1))
            close = "]" if k == labels.shape[0] - 1 else ")"
            assert cells[(labels.top + k, labels.left)].value == f"[{lower:.2f}, {upper:.2f}{close}"
    with zipfile.ZipFile(path) as package:
        charts = [n for n in package.namelist() if n.startswith("xl/charts/")]
        histograms = [package.read(n) for n in charts if b"histogram" in package.read(n)]
    assert len(charts) == 2 + 8 and len(histograms) == 8
    assert all(b'<c:majorUnit val="1"/>' in h and b'formatCode="0"' in h for h in histograms)


def _texts(path: Path) -> set[str]:
    with XlsxFile(path) as book:
        return {c.value for s in book.sheet_names for c in book.cells(s).values() if isinstance(c.value, str)}


def _sheet_xml(path: Path, name: str) -> bytes:
    with XlsxFile(path) as book, zipfile.ZipFile(path) as package:
        return package.read(book.sheet_part(name))
