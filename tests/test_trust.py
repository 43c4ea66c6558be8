"""Verify proves the formulas, not one set of numbers: adversaries that are right only for the
stored inputs, that fake the structure or cache wrong numbers fail, naming the sheet and the cell;
equivalent rewrites of a whole block pass."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

import bnsheet
from bnsheet import cli
from bnsheet.a1 import Area
from bnsheet.engines import formualizer, recalculate_each
from bnsheet.engines.substitute import substitute
from bnsheet.model import trials
from bnsheet.reading.xlsx import XlsxFile
from conftest import tamper

SEED = 11  # the hidden trials' seed in these tests, so a failure repeats


@pytest.fixture
def positive(tmp_path):
    """A workbook whose stored inputs hold every coincidence an adversary may rely on: gamma all
    positive, every x below 100."""
    x = [[1.0, 2.0, 3.5], [2.5, 0.5, 1.0], [3.0, 1.5, 2.0], [0.5, 3.0, 2.5]]
    return bnsheet.build(tmp_path / "book.xlsx", x=x, gamma=[[1.5, 0.5, 2.0]], seed=3)


def fill(sheet, rows, cols, formula):
    """Type ``formula(row, letter)`` into every cell of the block at C7."""
    for r in range(7, 7 + rows):
        for c in range(cols):
            letter = "CDEFGH"[c]
            sheet[f"{letter}{r}"] = formula(r, letter)


def failing(report):
    return {r.node: r for r in report.results if r.status != "ok"}


@pytest.mark.parametrize(
    ("node", "rows", "formula"),
    [
        ("gammax", 4, lambda r, c: f"=ABS('gamma'!{c}$7)*'xhat'!{c}{r}"),
        ("xmu", 4, lambda r, c: f"=IF('x'!{c}{r}>100,0,'x'!{c}{r}-'mean'!{c}$7)"),
        ("gamma_new", 1, lambda r, c: f"='gamma'!{c}$7-0.1*'dgamma'!{c}$7"),  # lr typed in, not bn_lr
        ("sqrtvar", 1, lambda r, c: f"=SQRT('var'!{c}$7+0.00001)"),  # eps typed in
        ("new_running_var", 1, lambda r, c: f"=0.9*'running_var'!{c}$7+0.1*'var'!{c}$7"),  # var_correction left out
    ],
)
def test_a_formula_right_only_for_the_stored_inputs_fails_at_a_hidden_trial(positive, node, rows, formula):
    assert bnsheet.verify(positive, seed=SEED).ok
    book = tamper(positive, lambda wb: fill(wb[node], rows, 3, formula))
    report = bnsheet.verify(book, seed=SEED)
    result = failing(report)[node]
    assert result.status == "mismatch"
    assert result.first_bad_cell.startswith(f"'{node}'!")
    assert "hidden trial" in result.detail and f"--seed {SEED}" in result.detail
    # the repeat the message promises finds the same
    again = failing(bnsheet.verify(book, seed=SEED))[node]
    assert (again.first_bad_cell, again.detail) == (result.first_bad_cell, result.detail)


def test_without_trials_such_a_formula_passes_so_the_trials_are_what_catch_it(positive):
    book = tamper(positive, lambda wb: fill(wb["gammax"], 4, 3, lambda r, c: f"=ABS('gamma'!{c}$7)*'xhat'!{c}{r}"))
    assert bnsheet.verify(book, trials=0).ok


def test_a_constant_typed_as_a_formula_is_a_value_in_disguise(tmp_path):
    path = bnsheet.build(tmp_path / "one.xlsx", n=4, d=1, seed=2)
    mean = bnsheet.reference.nodes(**_inputs(path))["mean"][0, 0]
    book = tamper(path, lambda wb: wb["mean"].__setitem__("C7", f"={float(mean)!r}"))
    result = failing(bnsheet.verify(book, trials=0))["mean"]
    assert (result.status, result.first_bad_cell) == ("constant", "'mean'!C7")
    assert "reads no cell" in result.detail


def test_a_difference_sheet_that_is_zero_fails(built):
    book = tamper(built, lambda wb: fill(wb["dx_diff"], 4, 3, lambda r, c: "=0"))
    result = failing(bnsheet.verify(book, seed=SEED))["dx_diff"]
    assert (result.status, result.first_bad_cell) == ("constant", "'dx_diff'!C7")


@pytest.mark.parametrize("state", ["hidden", "veryHidden", "visible"])
def test_a_node_reading_pasted_numbers_from_another_sheet_is_named(built, state):
    out = bnsheet.reference.nodes(**_inputs(built))["out"]

    def paste(wb):
        numbers = wb.create_sheet("numbers")
        numbers.sheet_state = state
        for i in range(4):
            for j in range(3):
                numbers.cell(row=7 + i, column=3 + j, value=float(out[i, j]))
        fill(wb["out"], 4, 3, lambda r, c: f"='numbers'!{c}{r}")

    report = bnsheet.verify(tamper(built, paste), trials=0)  # the values are right: structure alone catches it
    result = failing(report)["out"]
    assert (result.status, result.first_bad_cell) == ("structure", "'out'!C7")
    assert "'numbers'!C7:E10" in result.detail
    assert any("hidden sheets" in note for note in report.notes) == (state != "visible")


def test_a_node_reading_numbers_beside_its_own_block_is_named(built):
    out = bnsheet.reference.nodes(**_inputs(built))["out"]

    def paste(wb):
        for i in range(4):
            for j in range(3):
                wb["out"].cell(row=20 + i, column=3 + j, value=float(out[i, j]))
        fill(wb["out"], 4, 3, lambda r, c: f"={c}{r + 13}")

    result = failing(bnsheet.verify(tamper(built, paste), trials=0))["out"]
    assert result.status == "structure" and "'out'!C20:E23" in result.detail


def test_a_defined_name_pointing_at_a_hidden_correct_copy_fails(built):
    def redirect(wb):
        copy = wb.copy_worksheet(wb["out"])
        copy.title = "out_copy"
        copy.sheet_state = "hidden"
        fill(wb["out"], 4, 3, lambda r, c: "=1")
        wb.defined_names["bn_out"].attr_text = "'out_copy'!$C$7:$E$10"

    result = failing(bnsheet.verify(tamper(built, redirect), trials=0))["out"]
    assert result.status == "structure"
    assert "bn_out points to 'out_copy'!C7:E10" in result.detail and "'out'" in result.detail


def test_a_defined_name_pointing_away_from_the_layouts_block_fails(built):
    def move(wb):
        wb.defined_names["bn_mean"].attr_text = "'mean'!$C$8:$E$8"
        for c in "CDE":
            wb["mean"][f"{c}8"] = f"=AVERAGE('x'!{c}$7:{c}$10)"

    result = failing(bnsheet.verify(tamper(built, move), trials=0))["mean"]
    assert result.status == "structure" and "not to the block the layout gives ('mean'!C7:E7)" in result.detail


def test_stale_cached_values_fail_naming_the_cell_and_what_a_recalculation_shows(built, tmp_path, capsys):
    # a correct formula whose cached value in the file is wrong: pandas and previews show 99
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(stale, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == _sheet_part(built, "out"):
                data = re.sub(rb'(<c r="D8"[^>]*>\s*<f>[^<]*</f>\s*<v>)[^<]*', rb"\g<1>99", data, count=1)
            target.writestr(item, data)
    report = bnsheet.verify(stale, trials=0)
    result = failing(report)["out"]
    expected_out = bnsheet.reference.nodes(**_inputs(built))["out"][1, 1]
    assert (result.status, result.first_bad_cell, result.got) == ("stale", "'out'!D8", 99.0)
    assert result.expected == pytest.approx(expected_out, rel=1e-15)
    assert cli.main(["verify", str(stale), "--trials", "0", "--quiet"]) == 1


@pytest.mark.parametrize(
    ("node", "rows", "formula"),
    [
        ("sq", 4, lambda r, c: f"='xmu'!{c}{r}*'xmu'!{c}{r}"),
        ("var", 1, lambda r, c: f"=VARP('x'!{c}$7:{c}$10)"),
        ("dgamma", 1, lambda r, c: f"=SUMPRODUCT('xhat'!{c}$7:{c}$10,'dgammax'!{c}$7:{c}$10)"),
        ("dbeta", 1, lambda r, c: f"=SUMPRODUCT('dout'!{c}$7:{c}$10)"),
    ],
)
def test_equivalent_rewrites_of_a_whole_block_pass_at_every_trial(built, node, rows, formula):
    book = tamper(built, lambda wb: fill(wb[node], rows, 3, formula))
    report = bnsheet.verify(book, seed=SEED, trials=6)
    assert report.ok, report.to_text()


def test_a_formula_unlike_the_template_that_passes_is_a_note_with_the_templates_beside_it(built, tmp_path):
    # edited in place (openpyxl would make it no longer bnsheet's file): sq as xmu*xmu
    edited = tmp_path / "edited.xlsx"
    part = _sheet_part(built, "sq")
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(edited, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == part:
                data = re.sub(rb"<f>'xmu'!([A-Z]+[0-9]+)\^2</f>", rb"<f>'xmu'!\1*'xmu'!\1</f>", data)
            target.writestr(item, data)
    report = bnsheet.verify(edited, seed=SEED)
    assert report.ok
    assert any("sq (template: ='xmu'!C7^2)" in note for note in report.notes), report.notes
    assert not any("template" in note for note in bnsheet.verify(built, seed=SEED).notes)


def test_verify_of_an_exercise_workbook_points_to_grade(tmp_path):
    path = bnsheet.build(tmp_path / "exercise.xlsx", exercise="dx1")
    report = bnsheet.verify(path, trials=0)
    assert not report.ok
    assert any("exercise workbook" in note and "bnsheet grade" in note for note in report.notes)


def test_the_report_names_the_failing_node_furthest_upstream(built):
    book = tamper(built, lambda wb: fill(wb["xmu"], 4, 3, lambda r, c: f"='x'!{c}{r}-'mean'!{c}$7+1"))
    report = bnsheet.verify(book, trials=0)
    assert report.causes and report.causes[0].startswith("xmu fails;")
    downstream = int(report.causes[0].split("; ")[1].split(" ")[0])
    assert downstream == len(failing(report)) - 1 - sum(n.startswith(("plot_", "check_")) for n in failing(report))
    assert "root cause: xmu fails" in report.to_text()


def test_the_text_report_shows_the_absolute_error_beside_the_relative_one(built):
    header = bnsheet.verify(built, trials=0).to_text().splitlines()[1].split()
    assert header[3:5] == ["max_abs_err", "max_rel_err"]


def test_trial_inputs_break_the_usual_coincidences():
    for shape in [(4, 3), (2, 1), (7, 1), (64, 8)]:
        drawn = trials.draw(shape, 3, seed=0)
        assert [t.x.shape for t in drawn] == [shape] * 3
        assert {t.unbiased for t in drawn} == {0.0, 1.0}
        gammas = np.concatenate([t.gamma.ravel() for t in drawn])
        assert (gammas < 0).any() and (gammas > 0).any()
        xs = np.concatenate([t.x.ravel() for t in drawn])
        assert xs.max() > 100 and xs.min() < 0
        for t in drawn:
            assert np.isfinite(t.x).all() and (t.running_var > 0).all() and 0 < t.eps <= 0.1
        if shape[1] > 1:
            spreads = np.std(drawn[0].x, axis=0)
            assert np.ptp(np.log10(spreads)) > 1  # the columns differ in magnitude by more than 10x
    again = trials.draw((4, 3), 3, seed=0)
    assert all((a.x == b.x).all() for a, b in zip(again, trials.draw((4, 3), 3, seed=0), strict=True))
    assert not (trials.draw((4, 3), 1, seed=1)[0].x == again[0].x).any()


def test_formualizers_trials_in_the_loaded_workbook_equal_recalculating_a_substituted_copy(built, tmp_path):
    areas = [Area("x", 7, 3, 10, 5), Area("out", 7, 3, 10, 5), Area("dx", 7, 3, 10, 5)]
    variant = {areas[0]: np.arange(12.0).reshape(4, 3) ** 2}
    native = recalculate_each("formualizer", built, areas, [variant])[1]
    with XlsxFile(built) as book:
        copy = substitute(book, tmp_path / "copy.xlsx", variant)
    separate = formualizer.recalculate(copy, areas)
    for area in areas:
        assert (native[area] == separate[area]).all()


@pytest.mark.apps("ssconvert", "soffice")
@pytest.mark.parametrize("engine", ["gnumeric", "libreoffice"])
def test_the_applications_catch_a_formula_right_only_for_the_stored_inputs(positive, engine):
    book = tamper(positive, lambda wb: fill(wb["gammax"], 4, 3, lambda r, c: f"=ABS('gamma'!{c}$7)*'xhat'!{c}{r}"))
    result = failing(bnsheet.verify(book, engine=engine, seed=SEED))["gammax"]
    assert result.status == "mismatch" and "hidden trial" in result.detail


def test_trials_and_seed_on_the_command_line(built, capsys):
    assert cli.main(["verify", str(built), "--trials", "2", "--seed", "5", "--quiet"]) == 0
    assert "2 hidden trial(s), seed 5" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.main(["verify", str(built), "--trials", "-1"])
    assert stop.value.code == 2
    assert "not a count" in capsys.readouterr().err


def _inputs(path):
    """A workbook's inputs as bnsheet.reference.nodes takes them, read with openpyxl."""
    import openpyxl

    wb = openpyxl.load_workbook(path)

    def block(name):
        sheet, corners = wb.defined_names[f"bn_{name}"].attr_text.replace("$", "").split("!")
        cells = wb[sheet.strip("'")][corners if ":" in corners else f"{corners}:{corners}"]
        return np.array([[c.value for c in row] for row in cells], dtype=float)

    arrays = {name: block(name) for name in ("x", "gamma", "beta", "dout", "running_mean", "running_var")}
    params = {name: float(block(name)[0, 0]) for name in ("eps", "momentum", "lr")}
    return arrays | params | {"unbiased": bool(block("unbiased")[0, 0])}


def _sheet_part(path, sheet):
    with XlsxFile(path) as book:
        return book.sheet_part(sheet)


def test_helpers_read_what_build_wrote(built):
    # the tests' own openpyxl reading of the inputs must agree with the file's numbers
    inputs = _inputs(built)
    assert inputs["x"].shape == (4, 3) and inputs["eps"] == 1e-5
