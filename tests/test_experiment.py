"""`bnsheet experiment` and `bnsheet build --from-experiment`, run for real on a few epochs."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest

import bnsheet
from bnsheet import cli
from bnsheet.errors import InputError
from bnsheet.experiment import training
from bnsheet.reading.xlsx import XlsxFile

needs_extra = pytest.mark.skipif(
    not all(find_spec(m) for m in ("sklearn", "matplotlib", "threadpoolctl")),
    reason="the experiment extra is not installed (pip install -e '.[experiment]')",
)


@pytest.mark.apps()  # trains two networks for three epochs
@needs_extra
def test_experiment_command_writes_curves_plot_and_summary(tmp_path, capsys):
    assert cli.main(["experiment", "--epochs", "3", "--scales", "0.05", "-o", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "gradient check of the whole network" in printed and "largest relative error" in printed
    assert "epochs_to_0.9" in printed and "wrote" in printed

    curves = pd.read_csv(tmp_path / "run" / "experiment.csv")
    assert list(curves.columns) == [
        "weight_scale", "batch_norm", "epoch", "loss", "train_accuracy", "test_accuracy", "diverged"
    ]  # fmt: skip
    assert len(curves) == 2 * 4  # BN and plain, epochs 0..3
    bn = curves[curves.batch_norm].set_index("epoch").test_accuracy
    plain = curves[~curves.batch_norm].set_index("epoch").test_accuracy
    # the textbook's point at a small weight scale: with BN it learns, without it stays at chance
    assert bn[3] > 0.4 and plain[3] < 0.2

    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["experiment.csv", "experiment.png"]
    png = (tmp_path / "run" / "experiment.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (400, 320)  # one panel, 4×3.2 inches at 100 dpi


def test_summary_counts_epochs_to_target_and_notes_divergence():
    curves = pd.DataFrame(
        [(0.1, True, e, a, False) for e, a in enumerate([0.1, 0.5, 0.92, 0.95])]
        + [(0.1, False, e, a, e >= 2) for e, a in enumerate([0.1, 0.3, np.nan, np.nan])],
        columns=["weight_scale", "batch_norm", "epoch", "test_accuracy", "diverged"],
    )
    table = training.summary(curves, target=0.9)
    assert table.batch_norm.tolist() == ["BN", "plain"]
    assert table.final_test_accuracy[0] == 0.95 and np.isnan(table.final_test_accuracy[1])
    assert table.best_test_accuracy.tolist() == [0.95, 0.3]
    assert table["epochs_to_0.9"][0] == 2 and table["epochs_to_0.9"].isna()[1]
    assert table.diverged_in_epoch.isna()[0] and table.diverged_in_epoch[1] == 2
    lines = training.summary_text(table).splitlines()
    assert lines[1].split() == ["0.1", "BN", "0.950", "0.950", "2"]
    assert lines[2].split() == ["0.1", "plain", "—", "0.300", "never", "2"]


def test_a_diverging_run_stops_and_is_marked():
    rng = np.random.default_rng(0)
    digits = training.Digits(rng.random((1000, 4)), rng.integers(0, 3, 1000), rng.random((10, 4)), np.zeros(10, int))
    _, rows = training.train(digits, weight_scale=1e200, batch_norm=False, epochs=2)
    assert [r["diverged"] for r in rows] == [False, True, True]
    assert rows[0]["test_accuracy"] == 0.0  # scores that overflow count as wrong, not as class 0
    assert np.isnan(rows[1]["test_accuracy"]) and np.isnan(rows[2]["loss"])


@pytest.mark.apps()  # trains the network to capture its batch
@needs_extra
def test_from_experiment_workbook_holds_the_real_batch_and_verifies(tmp_path):
    batch = training.capture(2)
    inputs = training.workbook_inputs(2, features=3)
    path = bnsheet.build(tmp_path / "real.xlsx", **inputs)
    assert bnsheet.verify(path, engine="formualizer").ok
    with XlsxFile(path) as book:
        x = book.cells("x")
        assert max(row for row, _ in x) == 7 + training.BATCH - 1  # the whole batch of 100
        for i, j in [(0, 0), (57, 2), (99, 1)]:
            assert x[(7 + i, 3 + j)].value == batch.x[i, j]  # bit for bit
        assert book.cells("dout")[(7 + 99, 3)].value == batch.dout[99, 0]
    # the network really trained that layer: gamma and beta moved away from 1 and 0
    assert not np.allclose(batch.gamma, 1) and not np.allclose(batch.beta, 0)


@needs_extra
@pytest.mark.apps()  # trains the network to capture its batch
def test_build_from_experiment_on_the_command_line_then_verify(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "bnsheet", *args], capture_output=True, text=True, cwd=tmp_path)

    built = run("build", "--from-experiment", "--layer", "5", "--d", "2", "-o", "w.xlsx", "--quiet")
    assert built.returncode == 0, built.stderr
    assert "BN layer 5" in built.stdout and "features 1-2 of 100" in built.stdout
    checked = run("verify", "w.xlsx")
    assert checked.returncode == 0 and "all 62 nodes match" in checked.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["build", "--layer", "2"], "--layer goes with --from-experiment"),
        (["build", "--from-experiment", "--n", "8"], "--from-experiment takes the batch from the network; drop --n"),
        (["build", "--from-experiment", "--x", "x.csv"], "drop --x"),
        (["build", "--from-experiment", "--layer", "6"], "--layer must be between 1 and 5"),
        (["build", "--from-experiment", "--d", "101"], "--d must be between 1 and 100"),
        (["experiment", "--scales", "0.1,big"], "not a comma-separated list of numbers: '0.1,big'"),
        (["experiment", "--scales", "0.1,-1"], "weight scales must be positive numbers"),
        (["experiment", "--epochs", "0"], "epochs must be at least 1"),
        (["experiment", "--lr", "0"], "the learning rate must be a positive number"),
        (["experiment", "--target", "1.5"], "the target accuracy must be in (0, 1]"),
        (["experiment", "-o", "a_file/run"], "cannot make the folder a_file/run"),
    ],
)
def test_unusable_arguments_exit_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    try:
        status = cli.main(args)
    except SystemExit as exited:  # argparse's own errors
        status = exited.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_extra_is_a_one_line_error(tmp_path):
    code = "import sys; sys.modules['sklearn'] = None; from bnsheet.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, "experiment", "-o", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bnsheet: the experiment needs scikit-learn, matplotlib and threadpoolctl: pip install -e '.[experiment]'"
    )


def test_capture_refuses_a_layer_the_network_does_not_have():
    with pytest.raises(InputError, match="between 1 and 5"):
        training.capture(0)
