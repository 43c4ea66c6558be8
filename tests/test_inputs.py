"""Inputs from a seed, arrays, DataFrames and CSV files."""

import numpy as np
import pandas as pd
import pytest

from bnsheet.errors import InputError
from bnsheet.inputs import make, read_csv


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
        ({"n": 3, "x": np.ones((4, 2))}, "x is 4x2 but --n/--d ask for 3x"),
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


def test_read_csv_keeps_every_bit(tmp_path):
    value = 0.1 + 0.2
    (tmp_path / "a.csv").write_text(f"{value!r},1\n2,3\n")
    assert read_csv(tmp_path / "a.csv")[0, 0] == value
