"""Inputs from a seed, arrays, DataFrames and CSV files."""

import numpy as np
import pandas as pd
import pytest

from bnsheet.errors import InputError
from bnsheet.model.inputs import make, read_csv


def test_seeded_inputs_are_deterministic_and_shaped():
    a, b = make(n=4, d=3, seed=7), make(n=4, d=3, seed=7)
    assert a.x.shape == (4, 3) and a.gamma.shape == (1, 3) and a.dout.shape == (4, 3)
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, make(n=4, d=3, seed=8).x)


def test_given_x_fixes_n_and_d_and_vectors_become_rows():
    inputs = make(x=pd.DataFrame(np.arange(10.0).reshape(5, 2)), gamma=[1.0, 2.0], beta=np.array([[0.5], [0.25]]))
    assert (inputs.n, inputs.d) == (5, 2)
    assert inputs.gamma.tolist() == [[1.0, 2.0]] and inputs.beta.tolist() == [[0.5, 0.25]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x": [[1.0, np.nan], [2.0, 3.0]]}, "row 1, column 2 is nan"),
        ({"x": [[1.0, np.inf], [2.0, 3.0]]}, "not a finite number"),
        ({"x": [[1.0, 2.0]]}, "N must be at least 2"),
        ({"n": 3, "x": np.ones((4, 2))}, "x is 4x2 but --n asks for 3 rows; x alone can set N and D"),
        ({"n": 3, "d": 5, "x": np.ones((4, 2))}, "x is 4x2 but --n asks for 3 rows and --d asks for 5 columns"),
        ({"n": 4, "d": 2, "x": np.ones((4, 3))}, "x is 4x3 but --d asks for 2 columns;"),
        ({"momentum": 1.5}, "momentum must be a number from 0 to 1, got 1.5"),
        ({"lr": float("inf")}, "lr must be a finite number, got inf"),
        ({"eps": "1e-5"}, "eps must be a positive number, got '1e-5'"),
        ({"n": 3, "d": 2, "dout": np.ones((2, 3))}, "dout must be 3x2, got 2x3"),
        ({"x": pd.DataFrame({"a": ["p", "q"]})}, "not numbers"),
        ({"n": 2_000_000, "d": 1}, "does not fit on a sheet"),
        ({"eps": -1.0}, "eps must be a positive number"),
    ],
)
def test_bad_inputs_are_refused_with_a_message(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        make(**kwargs)


def test_read_csv_headerless_and_with_header(tmp_path):
    (tmp_path / "a.csv").write_text("1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("u,v\n1,2\n3,4\n\n")
    assert read_csv(tmp_path / "a.csv").tolist() == read_csv(tmp_path / "b.csv").tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("1.5,2\n3,4\n", [[1.5, 2], [3, 4]]),
        ("1e-3,2E+2\n-1.5e0,+.5\n", [[0.001, 200], [-1.5, 0.5]]),
        (" 1 , 2 \n3,\t4.\n", [[1, 2], [3, 4]]),
        ("1,2\r\n3,4\r\n", [[1, 2], [3, 4]]),
        ("\ufeffa,b\r\n1,2\r\n3,4\r\n", [[1, 2], [3, 4]]),
        ('"1","2"\n3,4\n', [[1, 2], [3, 4]]),
        ("1,2\n3,4\n\n,\n \n", [[1, 2], [3, 4]]),
        ("x\n-1\n2\n", [[-1], [2]]),
    ],
)
def test_read_csv_takes_plain_numbers_a_header_crlf_and_a_bom(tmp_path, text, numbers):
    (tmp_path / "a.csv").write_bytes(text.encode("utf-8"))
    assert read_csv(tmp_path / "a.csv").tolist() == numbers


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.5,2,3o\n4,5,6\n7,8,9\n", "row 1, column 3: '3o' is not a number"),
        ("x,1\n2,3\n", "row 1, column 1: 'x' is not a number"),
        ("a,b\n1,abc\n", "row 2, column 2: 'abc' is not a number"),
        ("1,2\n3,4\n5,x\n", "row 3, column 2: 'x' is not a number"),
        ("0x10,1\n2,3\n", "row 1, column 1: '0x10' is not a number"),
        (
            "1,5\n2\n3\n",
            "row 2 has 1 field, row 1 has 2 fields; if a number has a decimal comma (1,5), write it with a point",
        ),
        ("1\n2,5\n3\n", "row 2 has 2 fields, row 1 has 1 field; if a number has a decimal comma"),
        ("1,2\n3\n", "row 2 has 1 field, row 1 has 2 fields"),
        ("a,b,c\n1.5,2.5\n", "row 2 has 2 fields, row 1 has 3 fields"),
        ('"1,5"\n2\n', "row 1, column 1: '1,5' has a comma in the number; write decimals with a point"),
        ("1;5\n2;5\n", "row 1, column 1: '1;5' is not a number (bnsheet reads values separated by commas)"),
        ("1_000,2\n3,4\n", "row 1, column 1: '1_000' has digit separators; write 1000"),
        ("2,1 000\n3,4\n", "row 1, column 2: '1 000' has digit separators; write 1000"),
        ("1'000.5,2\n3,4\n", "has digit separators; write 1000.5"),
        ("\uff11.\uff15,2\n3,4\n", "row 1, column 1: '１.５' has full-width or other non-ASCII characters; write 1.5"),
        ("\u22121,2\n3,4\n", "has full-width or other non-ASCII characters; write -1"),
        ("1,,3\n4,5,6\n", "row 1, column 2 is empty"),
        ("1,2,\n4,5,\n", "row 1, column 3 is empty"),
        ("inf,1\n2,3\n", "row 1, column 1: 'inf' is not a finite number"),
        ("1,2\n-NaN,3\n", "row 2, column 1: '-NaN' is not a finite number"),
        ("1e999,1\n2,3\n", "row 1, column 1: '1e999' is beyond the largest number a spreadsheet holds"),
        ("1,2\n\n3,4\n", "row 2 is empty; blank rows may only end the file"),
        ("\n1,2\n3,4\n", "row 1 is empty"),
        ("a,b\n", "a header row and no rows of numbers under it"),
        ("\n\n", "no rows of numbers"),
    ],
)
def test_read_csv_refuses_what_it_would_misread_naming_row_and_column(tmp_path, text, message):
    (tmp_path / "a.csv").write_bytes(text.encode("utf-8"))
    with pytest.raises(InputError) as refused:
        read_csv(tmp_path / "a.csv")
    assert str(refused.value).startswith(f"{tmp_path / 'a.csv'}: ") and message in str(refused.value)


def test_read_csv_keeps_every_bit(tmp_path):
    value = 0.1 + 0.2
    (tmp_path / "a.csv").write_text(f"{value!r},1\n2,3\n")
    assert read_csv(tmp_path / "a.csv")[0, 0] == value


@pytest.mark.parametrize(
    "n, d, fits",
    [(1_048_570, 1, True), (1_048_571, 1, False), (2, 16_382, True), (2, 16_383, False), (1024, 1024, True),
     (1025, 1024, False)],
)  # fmt: skip
def test_sizes_at_the_limits_count_the_rows_and_columns_above_and_left_of_the_block(n, d, fits):
    from bnsheet.model.inputs import check_size

    if fits:
        check_size(n, d)
    else:
        with pytest.raises(InputError, match=f"{n}x{d}"):
            check_size(n, d)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--x", "nan.csv"], "nan.csv: row 3, column 2: 'nan' is not a finite number"),
        (["--x", "inf.csv"], "inf.csv: row 1, column 1: '-inf' is not a finite number"),
        (["--x", "absent.csv"], "absent.csv: cannot read (No such file or directory)"),
        (["--x", "."], ".: cannot read (Is a directory)"),
        (["--x", "binary.csv"], "binary.csv: not a CSV text file"),
        (["--x", "empty.csv"], "empty.csv: no rows of numbers"),
        (["--x", "good.csv", "--dout", "gamma3.csv"], "dout (gamma3.csv) must be 3x2, got 1x3"),
        (["--x", "good.csv", "--d", "3"], "x is 3x2 but --d asks for 3 columns;"),
        (["--gamma", "good.csv"], "gamma (good.csv) must be 1x3, got 3x2"),
        (["--eps", "nan"], "eps must be a positive number, got nan"),
        (["--eps=-1e-9"], "eps must be a positive number"),
        (["--seed", "-1"], "seed must be 0 or more, got -1"),
        (["--n", "2000000"], "2000000x3 does not fit on a sheet"),
        (["--d", "16383"], "4x16383 does not fit on a sheet"),
        (["--n", "2048", "--d", "1024"], "bnsheet builds up to 1048576"),
        (["-o", "w.csv"], "w.csv: the workbook's name must end in .xlsx"),
        (["-o", "good.csv/w.xlsx"], "the folder good.csv is not a folder"),
        (["-o", "missing/w.xlsx"], "the folder missing does not exist"),
        (["-o", "."], "the workbook's name must end in .xlsx"),
    ],
)
def test_the_command_line_refuses_bad_input_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    from bnsheet import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "nan.csv").write_text("a,b\n1,2\n3,nan\n")
    (tmp_path / "inf.csv").write_text("-inf,2\n3,4\n")
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    (tmp_path / "empty.csv").write_text("\n\n")
    (tmp_path / "good.csv").write_text("1,2\n3,4\n5,7\n")
    (tmp_path / "gamma3.csv").write_text("1,2,3\n")
    assert cli.main(["build", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["nan.csv", "inf.csv", "binary.csv", "empty.csv", "good.csv", "gamma3.csv"]
    )  # nothing written
