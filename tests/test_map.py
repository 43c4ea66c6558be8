"""Verify of a workbook laid out by hand, through a map (SPEC §18): one sheet, forward and backward
blocks side by side under their own labels; the map, its errors, and the map bnsheet proposes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import openpyxl
import pytest
from handmade import SHEET, block_map, handmade, map_toml
from test_cli import run, run_here

import bnsheet
from bnsheet.errors import InputError
from bnsheet.model.graph import load


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    return handmade(tmp_path / "hand.xlsx")


def edited(source: Path, cells: dict[str, object], name: str = "tampered.xlsx") -> Path:
    """A copy of ``source`` with ``cells`` of the one sheet set (a formula is text starting =)."""
    book = openpyxl.load_workbook(source)
    for address, value in cells.items():
        book[SHEET][address] = value
    target = source.with_name(name)
    book.save(target)
    return target


def statuses(report: bnsheet.Report) -> dict[str, str]:
    return dict(zip(report.table["node"], report.table["status"], strict=True))


def test_a_hand_laid_out_workbook_passes_through_its_map(hand):
    report = bnsheet.verify(hand, blocks=block_map(), seed=5)
    assert report.ok, report.to_text()
    found = statuses(report)
    mapped = [name for name in block_map() if name not in ("x", "gamma", "beta", "dout", "eps")]
    assert len(mapped) == 23 and all(found[name] == "ok" for name in mapped)
    left_out = {name for name, status in found.items() if status == "not mapped"}
    assert {"dx_compact", "new_running_var", "plot_counts_x", "n"} <= left_out
    assert left_out.isdisjoint(mapped)
    assert report.to_text().endswith("all 23 mapped nodes match")


def test_a_value_pasted_over_one_formula_fails_naming_the_cell(hand):
    # out's block starts at AT4; AU5 is its second row and column
    tampered = edited(hand, {"AU5": 0.5})
    report = bnsheet.verify(tampered, blocks=block_map(), seed=5)
    assert not report.ok
    row = report.table.set_index("node").loc["out"]
    assert row["status"] in ("constant", "mismatch") and row["first_bad_cell"] == f"'{SHEET}'!AU5"
    assert {name for name, status in statuses(report).items() if status not in ("ok", "not mapped")} == {"out"}


def test_one_formula_changed_is_named_with_the_nodes_downstream(hand):
    # dxhat starts at R11; S12 = dgammax * gamma, here with gamma's row unpinned-by-mistake offset
    tampered = edited(hand, {"S12": "=K12*G4*1.001"})
    report = bnsheet.verify(tampered, blocks=block_map(), seed=5)
    row = report.table.set_index("node").loc["dxhat"]
    assert row["status"] == "mismatch" and row["first_bad_cell"] == f"'{SHEET}'!S12"
    assert "not one formula filled" in row["detail"]
    assert any(cause.startswith("dxhat fails;") for cause in report.causes)


def test_the_command_line_passes_the_map_and_fails_the_tampered_copy(hand, tmp_path):
    (tmp_path / "hand.map.toml").write_text(map_toml(), encoding="utf-8")
    good = run_here("verify", str(hand), "--map", str(tmp_path / "hand.map.toml"), "--seed", "2")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "all 23 mapped nodes match" in good.stdout and "not mapped, not checked (39): dx_compact" in good.stdout
    tampered = edited(hand, {"AU5": 0.5})
    bad = run_here("verify", str(tampered), "--map", str(tmp_path / "hand.map.toml"), "--seed", "2")
    assert bad.returncode == 1 and f"out: mismatch at '{SHEET}'!AU5" in bad.stdout
    assert "a value stands where a formula belongs" in bad.stdout


def right_below_100() -> dict[str, str]:
    """xmu (R4:T7) as one formula filled that is right while x stays below 100, as the stored x
    does; the trials put other numbers into x's mapped range, some far above 100."""
    return {
        f"{xmu}{4 + i}": f"=IF({x}{4 + i}>100,0,{x}{4 + i}-{mean}$4)"
        for i in range(4)
        for x, mean, xmu in zip("BCD", "NOP", "RST", strict=True)
    }


def test_a_formula_right_only_at_the_stored_inputs_fails_at_a_hidden_trial(hand):
    tampered = edited(hand, right_below_100())
    assert bnsheet.verify(tampered, blocks=block_map(), trials=0).ok
    row = bnsheet.verify(tampered, blocks=block_map(), seed=5).table.set_index("node").loc["xmu"]
    assert row["status"] == "mismatch" and "wrong at hidden trial" in row["detail"]
    assert row["first_bad_cell"].startswith(f"'{SHEET}'!")


def test_a_formula_reading_a_number_outside_the_map_is_structure(hand):
    # mean (N4:P4) also reads a number typed far away: a value in disguise, whatever it adds
    tampered = edited(hand, {"ZZ1": 3.0, "N4": "=AVERAGE(B$4:B$7)+$ZZ$1*0", "O4": "=AVERAGE(C$4:C$7)+$ZZ$1*0",
                             "P4": "=AVERAGE(D$4:D$7)+$ZZ$1*0"})  # fmt: skip
    row = bnsheet.verify(tampered, blocks=block_map(), seed=5).table.set_index("node").loc["mean"]
    assert row["status"] == "structure" and "'BN'!ZZ1" in row["detail"]


def test_a_column_read_over_a_label_or_far_down_is_no_value_in_disguise(hand):
    # dbeta (F11:H11) summing dout's columns from its label down (text: no number in disguise), or
    # down to the sheet's last row (dout, then empty cells)
    for first, last in ((10, 14), (11, 1048576)):
        cells = {f"{col}11": f"=SUM({dout}${first}:{dout}${last})" for col, dout in zip("FGH", "BCD", strict=True)}
        report = bnsheet.verify(edited(hand, cells), blocks=block_map(), seed=5)
        assert statuses(report)["dbeta"] == "ok", report.to_text()


def test_a_map_of_a_few_nodes_checks_them_through_the_blocks_it_leaves_out(hand):
    # out reads gammax, which the map leaves out: its cells are formulas, so out is checked
    blocks = {name: block_map()[name] for name in ("x", "gamma", "beta", "eps", "out")}
    report = bnsheet.verify(hand, blocks=blocks, seed=5)
    assert report.ok and statuses(report)["out"] == "ok" and statuses(report)["gammax"] == "not mapped"
    # a number for eps that is not what the workbook uses fails out at every cell
    wrong = bnsheet.verify(hand, blocks=blocks | {"eps": 1e-2}, seed=5)
    assert statuses(wrong)["out"] == "mismatch"


def _map_with(**changes: object) -> dict[str, object]:
    entries: dict[str, object] = dict(block_map())
    for name, value in changes.items():
        if value is None:
            entries.pop(name)
        else:
            entries[name] = value
    return entries


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"out": "BN!AT4:AV6"}, "out = 'BN!AT4:AV6' is 3x3; out is 4x3 (NxD, D from x)"),
        ({"mean": "BN!N4:P5"}, "mean = 'BN!N4:P5' is 2x3; mean is 1x3 (1xD, D from x)"),
        ({"gamma": None}, 'gamma is not mapped, and gammax, out, dxhat, divar, … read it; add gamma = "Sheet1!B3:D3"'),
        ({"eps": None}, "eps is not mapped, and sqrtvar, ivar, xhat, gammax, … read it"),
        ({"x": None}, "x is not mapped; every map needs x"),
        ({"out": "Sheet2!AT4:AV7"}, "out = 'Sheet2!AT4:AV7': the workbook has no sheet 'Sheet2' (its sheets: 'BN')"),
        ({"outt": "BN!AT4:AV7"}, "'outt' is none of the graph's inputs, parameters or nodes (did you mean out?)"),
        ({"out": "AT4:AV7"}, "out = 'AT4:AV7' is not a range; write the sheet and the cells"),
        ({"eps": "BN!B1:B2"}, "eps = 'BN!B1:B2' is 2x1; eps is one cell"),
        ({"out": 3.0}, "out = 3.0: only eps, momentum, unbiased and lr may be numbers"),
        ({"eps": -1.0}, "the map's eps: eps must be a positive number, got -1"),
    ],
)
def test_each_map_error_is_one_line(hand, changes, message):
    with pytest.raises(bnsheet.BnsheetError) as refused:
        bnsheet.verify(hand, blocks=_map_with(**changes), trials=0)
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ('x = "BN!B4:D7\n', "bad.toml: not valid TOML: "),
        ('x = "BN!B4:D7"\n[out]\nrange = "BN!AT4:AV7"\n', "bad.toml: out must be a range such as"),
        ('x = "BN!B4:D7"\n', "bad.toml: maps no node, so there is nothing to check"),
    ],
)
def test_a_map_file_that_is_no_map_exits_2_with_one_line(hand, tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    result = run_here("verify", str(hand), "--map", str(tmp_path / "bad.toml"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"bnsheet: {tmp_path / 'bad.toml'}: "[:9]) and message in result.stderr
    assert result.stderr.count("\n") == 1
    missing = run_here("verify", str(hand), "--map", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and missing.stderr == f"bnsheet: {tmp_path / 'none.toml'}: no such map file\n"


def test_bnsheet_map_proposes_the_map_from_the_labels_and_it_verifies(hand, tmp_path):
    result = run("map", str(hand), "-o", str(tmp_path / "proposed.toml"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "proposed.toml").read_text(encoding="utf-8")
    import tomllib

    proposed = tomllib.loads(text)
    wanted = {name: f"'{SHEET}'!{value.split('!')[1]}" for name, value in block_map().items()}
    assert proposed == wanted
    assert "# not placed (no defined name or label): running_mean, running_var" in text
    assert bnsheet.verify(hand, blocks=tmp_path / "proposed.toml", seed=1).ok
    again = run_here("map", str(hand), "-o", str(tmp_path / "proposed.toml"))
    assert again.returncode == 2 and "exists; the map is not written over it" in again.stderr
    assert (tmp_path / "proposed.toml").read_text(encoding="utf-8") == text


def test_a_label_without_a_block_of_the_right_shape_is_a_comment(hand):
    # dx's block cut short by one row: no 4x3 block below or right of its label
    short = edited(hand, {"BF14": None, "BG14": None, "BH14": None})
    result = run_here("map", str(short))
    assert result.returncode == 0
    assert "# dx: a label at 'BN'!BF10, but no block of the right shape below or right of it" in result.stdout
    assert "\ndx = " not in result.stdout


def test_bnsheet_map_of_a_built_workbook_takes_its_defined_names(built):
    result = run_here("map", str(built))
    import tomllib

    proposed = tomllib.loads(result.stdout)
    assert proposed["x"] == "'x'!C7:E10" and proposed["dx"] == "'dx'!C7:E10" and proposed["eps"] == "'params'!C7"
    names = [b.name for b in load().blocks] + [p.name for p in load().params]
    assert set(names) <= set(proposed)
    report = bnsheet.verify(built, blocks=proposed, seed=1)
    assert report.ok and "not mapped" not in set(statuses(report).values())


def test_junit_report_parses_with_a_testcase_per_block(hand, tmp_path):
    (tmp_path / "m.toml").write_text(map_toml(), encoding="utf-8")
    tampered = edited(hand, {"AU5": 0.5})
    junit = tmp_path / "report.xml"
    junit.write_text("an older report", encoding="utf-8")
    result = run_here("verify", str(tampered), "--map", str(tmp_path / "m.toml"), "--junit", str(junit))
    assert result.returncode == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert len(cases) == 62 and suite.get("tests") == "62" and suite.get("failures") == "1"
    failure = cases["out"].find("failure")
    assert failure is not None and failure.get("type") == "mismatch" and "'BN'!AU5" in (failure.get("message") or "")
    assert cases["xmu"].find("failure") is None and cases["dx_compact"].find("skipped") is not None
    assert suite.get("skipped") == "39"


@pytest.mark.parametrize("name, message", [("report.txt", "the report's name must end in .xml"),
                                           ("book.xlsx", "the report's name must end in .xml"),
                                           ("file/r.xml", "file is not a folder")])  # fmt: skip
def test_junit_refuses_a_name_that_is_no_report(built, tmp_path, name, message):
    (tmp_path / "file").write_text("a file, not a folder")
    result = run_here("verify", str(built), "--junit", name, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_junit_is_not_written_when_verify_cannot_use_the_file(tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    result = run_here("verify", "broken.xlsx", "--junit", "r.xml", cwd=tmp_path)
    assert result.returncode == 2 and not (tmp_path / "r.xml").exists()


def test_junit_makes_its_folder_as_ci_tools_do(built, tmp_path):
    result = run_here("verify", str(built), "--junit", "reports/ci/bn.xml", "--trials", "0", cwd=tmp_path)
    assert result.returncode == 0
    assert ET.parse(tmp_path / "reports" / "ci" / "bn.xml").getroot().get("failures") == "0"


def test_the_pytest_helper_takes_a_map(hand):
    from bnsheet.testing import assert_workbook_matches

    assert_workbook_matches(hand, blocks=block_map())
    with pytest.raises(AssertionError, match=r"out: mismatch at 'BN'!AU5"):
        assert_workbook_matches(edited(hand, {"AU5": 0.5}), blocks=block_map())


def test_map_and_verify_api_take_a_toml_path_too(hand, tmp_path):
    (tmp_path / "m.toml").write_text(map_toml(), encoding="utf-8")
    assert bnsheet.verify(hand, blocks=str(tmp_path / "m.toml"), trials=1, seed=3).ok
    with pytest.raises(InputError):
        bnsheet.verify(hand, blocks={"x": "BN!B4:D7", "out": 1.0})


@pytest.mark.apps("soffice")
def test_a_stale_cached_value_in_a_mapped_workbook_fails(hand, tmp_path):
    import re
    import zipfile

    from bnsheet.engines import libreoffice

    saved = libreoffice.save(hand, tmp_path / "saved.xlsx")  # LibreOffice caches every formula's value
    assert bnsheet.verify(saved, blocks=block_map(), seed=2, trials=0).ok
    stale = tmp_path / "stale.xlsx"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'(<c r="AU5"[^>]*>(?:(?!</c>).)*?<v>)[^<]*(</v>)', rb"\g<1>123.5\g<2>", data)
                assert count == 1
            target.writestr(info, data)
    row = bnsheet.verify(stale, blocks=block_map(), seed=2, trials=0).table.set_index("node").loc["out"]
    assert row["status"] == "stale" and row["first_bad_cell"] == f"'{SHEET}'!AU5" and row["got"] == 123.5


@pytest.mark.apps("soffice", "ssconvert")
@pytest.mark.apps()  # every installed engine, the applications too
def test_every_engine_puts_the_trials_into_the_mapped_ranges(hand):
    assert bnsheet.verify(hand, engine="all", blocks=block_map(), seed=1).ok
    report = bnsheet.verify(edited(hand, right_below_100()), engine="all", blocks=block_map(), seed=5)
    table = report.table.set_index("node")
    engines = [column for column in table.columns if column.startswith("status_")]
    assert len(engines) >= 3 and all(table.loc["xmu", column] == "mismatch" for column in engines)
