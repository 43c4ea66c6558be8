"""Build: inputs and a graph template in, a workbook of live formulas out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError, WorkbookError
from ..layout import Layout
from ..model import graph as graph_module
from ..model import inputs as inputs_module
from ..model import overflow
from ..model.inputs import ArrayLike
from . import exercise as exercise_module
from . import roster, size
from .sheets import Recalculate, write

DEFAULT_PATH = Path("output") / "batchnorm.xlsx"


def build(
    path: str | Path | None = None,
    *,
    n: int | None = None,
    d: int | None = None,
    seed: int = inputs_module.DEFAULT_SEED,
    eps: float = inputs_module.DEFAULT_EPS,
    x: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    beta: ArrayLike | None = None,
    dout: ArrayLike | None = None,
    running_mean: ArrayLike | None = None,
    running_var: ArrayLike | None = None,
    momentum: float = inputs_module.DEFAULT_MOMENTUM,
    unbiased: bool = False,
    lr: float = inputs_module.DEFAULT_LR,
    lang: str = "en",
    progress: bool = False,
    exercise: str | Iterable[str] | None = None,
    force: bool = False,
    cached: bool = True,
    recalculate: Recalculate | None = None,
    student: str | None = None,
    hints: str = exercise_module.DEFAULT_HINTS,
    points: str | Mapping[str, float] | None = None,
) -> Path:
    """Write the staged BatchNorm workbook and return its path. Inputs not given are drawn from
    ``seed``; given ones (NumPy arrays, DataFrames, nested lists or CSV paths) are used bit for bit
    and fix N and D. ``momentum`` and ``unbiased`` set how the running statistics are updated,
    ``lr`` the SGD step; ``lang`` ("en" or "ja") every word shown. ``exercise`` ("backward",
    "forward", "all" or node names) leaves those nodes' blocks empty for a learner, the task written
    above each, with ``hints`` ("rule": the sheets to read and the local derivative rule; "math":
    also the node's math line; "none": the task only) and ``points`` per node (``"dxhat=2,dvar=3"``
    or a dict; 1 where not given) recorded for grading. The file is written atomically; an existing
    file at ``path`` that bnsheet did not write is replaced only with ``force=True``. Every formula
    cell carries a cached value (``cached=False``: none), what readers that do not recalculate show:
    the NumPy reference's, or in an exercise workbook what ``recalculate`` computes from the empty
    blocks (:func:`bnsheet.build` hands in formualizer's). ``student`` (with ``exercise``) draws the
    inputs from the student's own seed instead of ``seed`` and records id and seed in the workbook
    (writing/roster.py). Without ``path`` the workbook goes to ``output/batchnorm.xlsx``, the folder
    made if missing; a folder in a ``path`` given must exist.

    >>> import bnsheet
    >>> bnsheet.build("output/doctest-build.xlsx", n=4, d=3, seed=0).name
    'doctest-build.xlsx'
    """
    graph = graph_module.load(lang=lang)
    chosen = exercise_module.choose(exercise, graph) if exercise is not None else ()
    exercise_module.hints(hints)
    recorded: dict[str, str] = {}
    if points is not None:
        if not chosen:
            raise InputError("--points gives an exercise's nodes their points: give --exercise too")
        recorded[exercise_module.POINTS] = exercise_module.stored_points(exercise_module.points(points, chosen, graph))
    if student is not None:
        if not chosen:
            raise InputError("a student's workbook is an exercise: give --exercise with --roster")
        seed = roster.student_seed(student, chosen)
        recorded |= roster.recorded_names(student, seed)
    values = inputs_module.make(
        n=n,
        d=d,
        seed=seed,
        eps=eps,
        x=x,
        gamma=gamma,
        beta=beta,
        dout=dout,
        running_mean=running_mean,
        running_var=running_var,
        momentum=momentum,
        unbiased=unbiased,
        lr=lr,
    )
    size.check(graph, Layout(values.n, values.d))  # in a moment, before the exact pass over every cell
    overflow.refuse(values, graph)
    if path is None:
        path = DEFAULT_PATH
        _make_folder(path.parent)
    return write(
        Path(path), graph, values, progress=progress, exercise=chosen, force=force, cached=cached,
        recalculate=recalculate, recorded=recorded, hints=hints,
    )  # fmt: skip


def build_class(
    folder: str | Path, roster_path: str | Path, *, exercise: str | Iterable[str], **options: Any
) -> list[Path]:
    """Write one exercise workbook per student of the roster CSV, ``folder/<id>.xlsx``, each with
    the inputs of the student's seed (writing/roster.py); ``options`` as for :func:`build` (N, D,
    the parameters, lang, hints, points, recalculate). Nothing is written when the roster is unusable or any
    of the files exists already.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "roster.csv").write_text("id,name\\n17,Ann\\n18,Bo\\n")
    >>> [p.name for p in build_class(folder / "class", folder / "roster.csv", exercise="dmu")]
    ['17.xlsx', '18.xlsx']
    """
    students = roster.read(roster_path)
    graph = graph_module.load(lang=options.get("lang", "en"))
    chosen = exercise_module.choose(exercise, graph)  # all refused before anything is written
    exercise_module.hints(options.get("hints", exercise_module.DEFAULT_HINTS))
    exercise_module.points(options.get("points"), chosen, graph)
    folder = Path(folder)
    paths = roster.targets(students, folder)
    folder.mkdir(exist_ok=True)
    return [build(path, exercise=exercise, student=student, **options) for student, path in paths.items()]


def _make_folder(folder: Path) -> None:
    """Make the default output folder, once the inputs are known to be usable (a refused build
    leaves nothing behind); a file in its place is left for write() to report."""
    if folder.exists():
        return
    try:
        folder.mkdir()
    except OSError as exc:
        raise WorkbookError(f"cannot make the folder {folder} for the workbook ({exc.strerror})") from None
