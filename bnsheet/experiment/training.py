"""The textbook experiment behind the layer: a 5×100 network trained with and without BN, per weight scale.

1000 training images of scikit-learn's 8×8 digits (shipped inside the package, nothing is
downloaded), batch 100, SGD; the other 797 images are the test set. Every run starts from the
same weights for its scale and sees the batches in the same order, so the only difference
between a BN run and a plain run is the BN layers. Needs the optional extra:
``pip install -e ".[experiment]"`` (scikit-learn, matplotlib, threadpoolctl).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from .. import tables
from ..errors import InputError, MissingExtraError
from ..model.reference import Array
from ..writing.files import replacing
from .network import BNBatch, Diverged, Network, Step, gradient_check

if TYPE_CHECKING:
    import pandas as pd

WIDTH, DEPTH = 100, 5  # hidden units per layer, hidden layers
TRAIN_SIZE, BATCH = 1000, 100
DEFAULT_SCALES = (1.0, 0.1, 0.05, 0.01, 0.001, 0.0001)
DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_TARGET, DEFAULT_SEED = 50, 0.1, 0.9, 0
DEFAULT_FOLDER = Path("output") / "experiment"
# The batch a --from-experiment workbook shows: the last step of this many epochs at this scale.
CAPTURE_SCALE, CAPTURE_EPOCHS = 0.05, 5
WORKBOOK_FEATURES = 8  # 100 samples × 8 features: every real number, and still a sheet one can read
GRADIENT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Digits:
    """The 8×8 digits, pixels scaled to [0, 1], split once by seed into 1000 training and 797 test images."""

    train_x: Array
    train_labels: Array
    test_x: Array
    test_labels: Array

    @classmethod
    def load(cls, seed: int = DEFAULT_SEED) -> Digits:
        datasets = _require("sklearn.datasets")
        digits = datasets.load_digits()
        order = np.random.default_rng(seed).permutation(len(digits.target))
        x, labels = digits.data[order] / 16.0, digits.target[order]
        return cls(x[:TRAIN_SIZE], labels[:TRAIN_SIZE], x[TRAIN_SIZE:], labels[TRAIN_SIZE:])


def train(
    digits: Digits,
    *,
    weight_scale: float,
    batch_norm: bool,
    epochs: int,
    lr: float = DEFAULT_LR,
    seed: int = DEFAULT_SEED,
    eps: float = 1e-5,
    on_step: Callable[[Step], None] = lambda step: None,
) -> tuple[Network, list[dict[str, Any]]]:
    """Train one network; return it and one row per epoch (epoch 0 is before any step).

    ``on_step`` sees every step taken. A run that diverges stops there: its later epochs have no
    accuracy (NaN) and ``diverged`` set.
    """
    sizes = [digits.train_x.shape[1], *[WIDTH] * DEPTH, int(digits.train_labels.max()) + 1]
    net = Network.create(sizes, weight_scale=weight_scale, batch_norm=batch_norm, seed=seed, eps=eps)
    shuffles = np.random.default_rng(seed + 1)
    rows = [_row(net, digits, weight_scale, 0, float("nan"))]
    for epoch in range(1, epochs + 1):
        order = shuffles.permutation(TRAIN_SIZE)
        losses = []
        try:
            for start in range(0, TRAIN_SIZE, BATCH):
                batch = order[start : start + BATCH]
                step = net.train_step(digits.train_x[batch], digits.train_labels[batch], lr)
                losses.append(step.loss)
                on_step(step)
        except Diverged:
            break
        rows.append(_row(net, digits, weight_scale, epoch, float(np.mean(losses))))
    unmeasured = dict.fromkeys(("loss", "train_accuracy", "test_accuracy"), float("nan"))
    rows += [{**rows[0], **unmeasured, "epoch": epoch, "diverged": True} for epoch in range(len(rows), epochs + 1)]
    return net, rows


def _row(net: Network, digits: Digits, weight_scale: float, epoch: int, loss: float) -> dict[str, Any]:
    return {
        "weight_scale": weight_scale,
        "batch_norm": net.batch_norm,
        "epoch": epoch,
        "loss": loss,
        "train_accuracy": net.accuracy(digits.train_x, digits.train_labels),
        "test_accuracy": net.accuracy(digits.test_x, digits.test_labels),
        "diverged": False,
    }


def run(
    scales: Sequence[float] = DEFAULT_SCALES,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
) -> pd.DataFrame:
    """Train with and without BN at every weight scale; one row per (scale, BN, epoch) with columns
    weight_scale, batch_norm, epoch, loss (mean over the epoch's steps), train_accuracy, test_accuracy, diverged."""
    import pandas as pd

    _check_protocol(scales, epochs, lr)
    digits = Digits.load(seed)
    rows: list[dict[str, Any]] = []
    steps_per_run = epochs * (TRAIN_SIZE // BATCH)
    runs = [(scale, batch_norm) for scale in scales for batch_norm in (True, False)]
    bar = tqdm(total=len(runs) * steps_per_run, unit="step", desc="experiment", disable=not progress)
    with _one_blas_thread(), bar:
        for done, (scale, batch_norm) in enumerate(runs, start=1):
            _, history = train(
                digits,
                weight_scale=scale,
                batch_norm=batch_norm,
                epochs=epochs,
                lr=lr,
                seed=seed,
                on_step=lambda step: bar.update(),
            )
            rows += history
            bar.update(done * steps_per_run - bar.n)  # the steps a diverged run skipped
    return pd.DataFrame(rows)


def summary(curves: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """Per weight scale: final and best test accuracy, and the first epoch reaching ``target``, with and without BN."""
    import pandas as pd

    rows = []
    for (scale, batch_norm), run_curve in curves.groupby(["weight_scale", "batch_norm"], sort=False):
        reached = run_curve.loc[run_curve.test_accuracy >= target, "epoch"]
        diverged = run_curve.loc[run_curve.diverged, "epoch"]
        rows.append(
            {
                "weight_scale": scale,
                "batch_norm": "BN" if batch_norm else "plain",
                "final_test_accuracy": run_curve.test_accuracy.iloc[-1],
                "best_test_accuracy": run_curve.test_accuracy.max(),
                f"epochs_to_{target:g}": reached.iloc[0] if len(reached) else pd.NA,
                "diverged_in_epoch": diverged.iloc[0] if len(diverged) else pd.NA,
            }
        )
    return pd.DataFrame(rows).astype({f"epochs_to_{target:g}": "Int64", "diverged_in_epoch": "Int64"})


def summary_text(table: pd.DataFrame) -> str:
    """The summary as a fixed-width table: "never" where a run did not reach the target, "—" where it diverged."""
    import pandas as pd

    shown = table.astype(object)
    target_column = next(c for c in table.columns if c.startswith("epochs_to_"))
    shown[target_column] = ["never" if pd.isna(e) else e for e in table[target_column]]
    for column in ("final_test_accuracy", "best_test_accuracy"):
        shown[column] = ["—" if pd.isna(a) else f"{a:.3f}" for a in table[column]]
    shown["diverged_in_epoch"] = ["" if pd.isna(e) else e for e in table.diverged_in_epoch]
    return tables.frame(shown)


def plot(curves: pd.DataFrame, path: Path) -> Path:
    """Test accuracy per epoch, one panel per weight scale, BN solid and plain dashed, as a PNG."""
    pyplot = _pyplot()
    scales = list(dict.fromkeys(curves.weight_scale))
    columns = min(3, len(scales))
    rows = -(-len(scales) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), sharey=True, squeeze=False)
    for ax, scale in zip(axes.flat, scales, strict=False):
        for batch_norm, style in ((True, "-"), (False, "--")):
            curve = curves[(curves.weight_scale == scale) & (curves.batch_norm == batch_norm)]
            ax.plot(curve.epoch, curve.test_accuracy, style, label="with BN" if batch_norm else "without BN")
        ax.set_title(f"initial weight scale {scale:g}")
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(scales) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    axes.flat[0].legend(loc="lower right")
    figure.suptitle("5×100 ReLU network on 8×8 digits (1000 training images, batch 100, SGD)")
    figure.tight_layout()
    with replacing(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    pyplot.close(figure)
    return path


def write_csv(curves: pd.DataFrame, path: Path) -> Path:
    """The curves as CSV, one row per (scale, BN, epoch), written atomically."""
    with replacing(path) as temporary:
        curves.to_csv(temporary, index=False)
    return path


def check_gradients(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The whole network's gradient check, with and without BN: the real depth, 10 units per layer,
    20 digits; one row per parameter with its relative error and whether it is within tolerance."""
    import pandas as pd

    digits = Digits.load(seed)
    x, labels = digits.train_x[:20], digits.train_labels[:20]
    rows = []
    for batch_norm in (True, False):
        net = Network.create([x.shape[1], *[10] * DEPTH, 10], weight_scale=0.3, batch_norm=batch_norm, seed=seed)
        for name, error in gradient_check(net, x, labels):
            shape = "x".join(map(str, net.params[name].shape))
            rows.append(
                {
                    "network": "BN" if batch_norm else "plain",
                    "parameter": name,
                    "shape": shape,
                    "relative_error": error,
                    "ok": error < GRADIENT_TOLERANCE,
                }
            )
    return pd.DataFrame(rows)


def capture(
    layer: int = 1,
    *,
    weight_scale: float = CAPTURE_SCALE,
    epochs: int = CAPTURE_EPOCHS,
    seed: int = DEFAULT_SEED,
    eps: float = 1e-5,
) -> BNBatch:
    """Train the BN network and return what BN layer ``layer`` (1…5) saw at the last step of the last epoch:
    the batch entering it, its gamma and beta, and the gradient flowing back into it."""
    if not 1 <= layer <= DEPTH:
        raise InputError(f"--layer must be between 1 and {DEPTH} (the BN layers of the network), got {layer}")
    last: dict[str, Step] = {}
    with _one_blas_thread():
        train(
            Digits.load(seed),
            weight_scale=weight_scale,
            batch_norm=True,
            epochs=epochs,
            seed=seed,
            eps=eps,
            on_step=lambda step: last.update(step=step),
        )
    return last["step"].bn_batches[layer - 1]


def workbook_inputs(
    layer: int = 1, features: int = WORKBOOK_FEATURES, *, seed: int = DEFAULT_SEED, eps: float = 1e-5
) -> dict[str, Array]:
    """x, gamma, beta and dout for ``bnsheet build``: BN layer ``layer``'s real batch (see :func:`capture`),
    all 100 samples and its first ``features`` features.

    BN treats each feature on its own, so a slice of features is exactly what the network computed
    for them; a slice of samples would change every batch statistic, so the batch stays whole.
    """
    if not 1 <= features <= WIDTH:
        raise InputError(f"--d must be between 1 and {WIDTH} (the features of a BN layer), got {features}")
    batch = capture(layer, seed=seed, eps=eps)
    return {
        "x": batch.x[:, :features],
        "gamma": batch.gamma[:, :features],
        "beta": batch.beta[:, :features],
        "dout": batch.dout[:, :features],
    }


def _check_protocol(scales: Sequence[float], epochs: int, lr: float) -> None:
    if not scales or any(not (np.isfinite(s) and s > 0) for s in scales):
        raise InputError(f"weight scales must be positive numbers, got {list(scales)}")
    if epochs < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}")
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"the learning rate must be a positive number, got {lr}")


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    # 100×100 products are too small to gain from BLAS threads; on a shared 2-core machine the
    # threads only contend (measured: 10× slower with them). One thread also keeps runs reproducible.
    threadpoolctl = _require("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


def _pyplot() -> Any:
    matplotlib = _require("matplotlib")
    matplotlib.use("Agg")  # files only, never a window
    return _require("matplotlib.pyplot")


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            "the experiment needs scikit-learn, matplotlib and threadpoolctl: pip install -e '.[experiment]'"
        ) from None


def reproduce(
    folder: Path = DEFAULT_FOLDER,
    *,
    scales: Sequence[float] = DEFAULT_SCALES,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    target: float = DEFAULT_TARGET,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> bool:
    """All of ``bnsheet experiment``: the gradient check, then (if it passes) the training runs, the
    CSV and PNG in ``folder`` and the summary table. Returns whether the gradient check passed."""
    _check_protocol(scales, epochs, lr)
    if not 0 < target <= 1:
        raise InputError(f"the target accuracy must be in (0, 1], got {target}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the folder {folder} ({exc.strerror})") from None
    gradients = check_gradients(seed)
    worst = gradients.loc[gradients.relative_error.idxmax()]
    echo(
        f"gradient check of the whole network (5 hidden layers of 10, 20 digits), numerical vs analytic: "
        f"largest relative error {worst.relative_error:.1e} ({worst.network} {worst.parameter}), "
        f"tolerance {GRADIENT_TOLERANCE:g}"
    )
    if not gradients.ok.all():
        echo(tables.frame(gradients))
        echo("gradient check FAILED: the network's backward pass is wrong; not training")
        return False
    curves = run(scales, epochs=epochs, lr=lr, seed=seed, progress=progress)
    csv_path, png_path = write_csv(curves, folder / "experiment.csv"), plot(curves, folder / "experiment.png")
    echo(summary_text(summary(curves, target)))
    echo(f"wrote {csv_path} and {png_path}")
    return True
