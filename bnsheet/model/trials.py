"""Fresh input sets for verify's hidden trials: the workbook's own shape, numbers drawn to break
the coincidences a formula that is right only for the stored inputs relies on (SPEC §9).

Each trial gives every column its own magnitude (spreads from 0.1 to about 300, offsets up to 30
times the spread, so some values lie far above 100 and some far below 0), gamma of mixed sign
(negative in every trial for D = 1 but the second), and fresh parameters: eps from 1e-5 to 0.1,
momentum and lr, and unbiased 1, 0, 1, … in turn. The draw depends only on the seed and
the shape, so ``--seed`` repeats it.

>>> first, second = draw((4, 3), count=2, seed=7)
>>> first.x.shape, bool((first.gamma < 0).any() and (first.gamma > 0).any()), first.unbiased
((4, 3), True, 1.0)
>>> bool((draw((4, 3), 2, seed=7)[1].x == second.x).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..a1 import Area
from .graph import Graph
from .inputs import Inputs

DEFAULT_COUNT = 3
LARGE = 300_000  # formula cells
# Offsets stay within 30 spreads: the variance of a column then keeps at least 1/900 of its sum of
# squares, so an equivalent one-pass variance (VARP, E[x²] − E[x]²) is still honest in float64.
MAX_OFFSET = 30.0


def default_count(formula_cells: int) -> int:
    """The trials verify runs by default: DEFAULT_COUNT, and one for workbooks of more than
    LARGE formula cells, where each trial costs a second or more (README says what is covered)."""
    return DEFAULT_COUNT if formula_cells <= LARGE else 1


def draw(shape: tuple[int, int], count: int, seed: int) -> list[Inputs]:
    """``count`` input sets of ``shape`` (N, D); the same seed and shape give the same sets."""
    n, d = shape
    rng = np.random.default_rng([seed, n, d])
    return [_one(n, d, rng, k) for k in range(count)]


def _one(n: int, d: int, rng: np.random.Generator, k: int) -> Inputs:
    # distinct magnitudes per column, in a shuffled order; for D = 1 the trials take turns
    exponents = np.linspace(-1.0, 2.5, d) if d > 1 else np.array([(2.5, -1.0, 1.0)[k % 3]])
    spread = 10.0 ** rng.permutation(exponents + rng.uniform(-0.2, 0.2, d))
    signs = rng.choice([-1.0, 1.0], d)
    signs[int(np.argmax(spread))] = 1.0 if k % 2 == 0 else -1.0  # the widest column far above 100, or below 0
    offset = signs * spread * 10.0 ** rng.uniform(0.0, np.log10(MAX_OFFSET), d)
    x = offset + spread * rng.standard_normal((n, d))
    gamma_signs = rng.choice([-1.0, 1.0], d)
    if d > 1:
        gamma_signs[rng.permutation(d)[:2]] = (-1.0, 1.0)  # always both signs
    else:
        gamma_signs[0] = 1.0 if k == 1 else -1.0
    gamma = gamma_signs * 10.0 ** rng.uniform(-0.5, 1.0, d)
    return Inputs(
        x=x,
        gamma=gamma[None, :],
        beta=rng.normal(0.0, 10.0, (1, d)),
        dout=rng.standard_normal((n, d)) * 10.0 ** rng.uniform(-1.0, 1.5, d),
        running_mean=rng.normal(0.0, 50.0, (1, d)),
        running_var=10.0 ** rng.uniform(-1.0, 3.0, (1, d)),
        eps=float(10.0 ** rng.uniform(-5.0, -1.0)),
        momentum=float(rng.uniform(0.05, 0.95)),
        lr=float(10.0 ** rng.uniform(-3.0, 0.0)),
        unbiased=1.0 if k % 2 == 0 else 0.0,
    )


def variant(graph: Graph, areas: Mapping[str, Area], inputs: Inputs) -> dict[Area, np.ndarray]:
    """An input set's numbers by the areas they go into: the input blocks and the parameters a
    user sets (not those that are formulas), as engines.recalculate_each takes a variant."""
    numbers: dict[str, np.ndarray] = {name: np.asarray(value) for name, value in inputs.arrays().items()}
    numbers |= {name: np.array([[value]]) for name, value in inputs.params().items()}
    settable = [block.name for block in graph.inputs] + [p.name for p in graph.params if p.formula is None]
    return {areas[name]: numbers[name] for name in settable if name in areas and name in numbers}
