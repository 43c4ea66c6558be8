"""Exercise workbooks: which nodes a learner fills in, the task written above each empty block,
and the defined name that records the exercise in the file so grading needs no argument.

The exercise is stored as a workbook-level name holding a string constant,
``bn_exercise = "dbeta,dgammax,…"``, which Excel, LibreOffice and Gnumeric keep when they save;
so are its language, ``bn_lang = "ja"``, the hints it was built with (``bn_hints = "rule"``) and,
where given, each node's points (``bn_points = "dbeta=1,dxhat=2,…"``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence

from ..a1 import Area
from ..errors import InputError, TemplateError
from ..layout import defined_name
from ..model.graph import Block, Graph

NAME = defined_name("exercise")
POINTS = defined_name("points")
HINTS = defined_name("hints")
LANGUAGE = defined_name("lang")  # the language of the workbook's words, "en" or "ja": feedback is written in it
CHOICES = ("backward", "forward", "all")
# What the sheet of an exercise node gives besides the task (its title, shape and where to type):
# math, its own math line and the rest of rule; rule, the sheets to read and the local derivative
# rule; none, nothing more.
HINT_CHOICES = ("math", "rule", "none")
DEFAULT_HINTS = "rule"
Points = dict[str, int | float]
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def choose(spec: str | Iterable[str], graph: Graph) -> tuple[str, ...]:
    """The exercise nodes, in graph order, for ``backward``, ``forward``, ``all`` or node names.

    >>> from bnsheet.model.graph import load
    >>> choose("dx1,dmu", load())
    ('dx1', 'dmu')
    >>> len(choose("backward", load()))
    14
    """
    if isinstance(spec, str):
        if spec in CHOICES:
            wanted = {
                "backward": [b.name for b in graph.nodes if b.step.startswith("b")],
                "forward": [b.name for b in graph.nodes if b.step.startswith("f")],
                "all": [b.name for b in graph.nodes],
            }[spec]
        else:
            wanted = [name.strip() for name in spec.split(",") if name.strip()]
    else:
        wanted = list(spec)
    nodes = {b.name for b in graph.nodes}
    unknown = [name for name in wanted if name not in nodes]
    if unknown or not wanted:
        raise InputError(
            f"--exercise {','.join(unknown) or '(nothing)'}: choose {', '.join(CHOICES)} or node names such as "
            f"dxhat,dvar (inputs cannot be exercises)"
        )
    return tuple(b.name for b in graph.nodes if b.name in set(wanted))


def stored(nodes: Iterable[str]) -> str:
    """The defined name's formula: a string constant, ``"dx1,dmu"``."""
    return '"' + ",".join(nodes) + '"'


def recorded(names: Mapping[str, str]) -> tuple[str, ...] | None:
    """The exercise nodes a workbook records in its defined names, or None if it is no exercise."""
    text = names.get(NAME)
    if text is None:
        return None
    text = text.strip().removeprefix("=").strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    return tuple(name.strip() for name in text[1:-1].split(",") if name.strip())


def recorded_language(names: Mapping[str, str]) -> str:
    """The language an exercise workbook records (``bn_lang = "ja"``); ``en`` where it records none."""
    text = names.get(LANGUAGE, "").strip().removeprefix("=").strip().strip('"')
    return text or "en"


def upstream_exercises(block: Block, graph: Graph, exercise: Iterable[str]) -> list[str]:
    """The exercise nodes ``block`` reads, directly or through other nodes, in graph order."""
    by_name = {b.name: b for b in graph.blocks}
    seen: set[str] = set()
    pending = list(block.reads)
    while pending:
        name = pending.pop()
        if name not in seen and name in by_name:
            seen.add(name)
            pending += by_name[name].reads
    chosen = set(exercise)
    return [b.name for b in graph.nodes if b.name in seen and b.name in chosen]


def task(block: Block, graph: Graph, area: Area, shape: str, hints: str = DEFAULT_HINTS) -> list[str]:
    """The lines written above an exercise block: what to compute (the node's ``task``, a whole
    sentence in the template) and its shape and where to type; then, by ``hints``, with ``rule``
    the sheets to read and the local derivative rule, with ``math`` also the node's own math line
    (``dxmu2 = 2 · xmu · dsq``), which makes the task a transcription; with ``none`` nothing more."""
    if not block.task:
        raise TemplateError(f"template {graph.name}, {block.name}: no task, which its exercise is titled with")
    params = {p.name for p in graph.params}
    separator = graph.word("list_separator")
    sheets = separator.join(name for name in block.reads if name not in params)
    named = separator.join(defined_name(name) for name in block.reads if name in params)
    first = area.address(0, 0)
    last = area.address(area.shape[0] - 1, area.shape[1] - 1)
    fill = graph.word("exercise_fill" if first != last else "exercise_fill_one", first=first, last=last)
    read = graph.word("exercise_read_params" if named else "exercise_read", sheets=sheets, params=named)
    lines = [
        graph.word("exercise_title", step=block.step, name=block.name, task=block.task),
        graph.word("exercise_shape", shape=shape, fill=fill),
    ]
    if hints == "none":
        return lines
    lines += [read] + ([f"{graph.word('rule')}: {block.rule}"] if block.rule else [])
    return lines + ([block.math] if hints == "math" else [])


def downstream_title(title: str, graph: Graph, upstream: Sequence[str], cells: int) -> str:
    """The title formula of a sheet that reads the exercises ``upstream`` (``cells`` cells in all):
    the title, and "fill in the exercise … first" while any of their cells holds no number, so the
    words go once the learner has filled them in, in any application, live."""
    names = graph.word("list_separator").join(upstream)
    counted = ",".join(defined_name(name) for name in upstream)
    warning = "  (" + graph.word("exercise_downstream", names=names) + ")"
    return f'={_text(title)}&IF(COUNT({counted})<{cells},{_text(warning)},"")'


def _text(text: str) -> str:
    """A string literal in a formula."""
    return '"' + text.replace('"', '""') + '"'


def hints(choice: str) -> str:
    """The hints an exercise gives, checked: ``math``, ``rule`` (the default) or ``none``."""
    if choice not in HINT_CHOICES:
        raise InputError(f"--hints {choice}: choose {', '.join(HINT_CHOICES)}")
    return choice


def points(spec: str | Mapping[str, float] | None, exercise: tuple[str, ...], graph: Graph) -> Points:
    """Each exercise node's points: 1 unless ``spec`` (``"dxhat=2,dvar=3"`` or a dict) says
    otherwise. A node that is none of the graph's or not in the exercise, a number that is not
    positive, and a node given twice are refused, naming it.

    >>> from bnsheet.model.graph import load
    >>> points("dx1=2,dmu=0.5", ("dx1", "dmu", "dx2"), load())
    {'dx1': 2, 'dmu': 0.5, 'dx2': 1}
    """
    given: list[tuple[object, object]]
    if spec is None:
        given = []
    elif isinstance(spec, str):
        given = []
        for part in spec.split(","):
            before, equals, after = part.partition("=")
            if not equals or not before.strip():
                raise InputError(f"--points {part.strip() or '(nothing)'}: write node=points, such as dxhat=2,dvar=3")
            given.append((before.strip(), after.strip()))
    else:
        given = list(spec.items())
    nodes = [b.name for b in graph.nodes]
    found: Points = {}
    for key, value in given:
        name = str(key)
        if name in found:
            raise InputError(f"--points {name}: given twice")
        if name not in nodes:
            close = difflib.get_close_matches(name, nodes, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"--points {name}: no node of that name{hint}")
        if name not in exercise:
            raise InputError(f"--points {name}: not in the exercise ({', '.join(exercise)})")
        found[name] = _positive(name, value)
    return {name: found.get(name, 1) for name in exercise}


def _positive(name: str, value: object) -> int | float:
    """A node's points: a positive number, whole where it is one."""
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise InputError(f"--points {name}={value}: points must be a positive number")
        number: float = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise InputError(f"--points {name}={value}: points must be a positive number")
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"--points {name}={value}: points must be a positive number")
    return int(number) if number.is_integer() else number


def stored_points(given: Points) -> str:
    """The defined name's formula: ``"dx1=2,dmu=1"``."""
    return '"' + ",".join(f"{name}={value:g}" for name, value in given.items()) + '"'


def stored_hints(choice: str) -> str:
    return f'"{choice}"'


def recorded_points(names: Mapping[str, str], exercise: tuple[str, ...]) -> Points:
    """Each exercise node's points as the workbook records them; 1 where it records none."""
    text = _string(names.get(POINTS))
    found: Points = {}
    for part in (text or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() in exercise and _NUMBER.fullmatch(value.strip()) and float(value) > 0:
            number = float(value)
            found[name.strip()] = int(number) if number.is_integer() else number
    return {name: found.get(name, 1) for name in exercise}


def recorded_hints(names: Mapping[str, str]) -> str:
    """The hints a workbook was built with; ``rule`` where it records none (built before hints)."""
    text = _string(names.get(HINTS))
    return text if text in HINT_CHOICES else DEFAULT_HINTS


def _string(formula: str | None) -> str | None:
    """The text of a defined name holding a string constant (``="rule"``), else None."""
    text = (formula or "").strip().removeprefix("=").strip()
    return text[1:-1] if len(text) >= 2 and text[0] == '"' and text[-1] == '"' else None
