"""Exercise workbooks: which nodes a learner fills in, the task written above each empty block,
and the defined name that records the exercise in the file so grading needs no argument.

The exercise is stored as a workbook-level name holding a string constant,
``bn_exercise = "dbeta,dgammax,…"``, which Excel, LibreOffice and Gnumeric keep when they save;
its language beside it, ``bn_lang = "ja"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..a1 import Area
from ..errors import InputError, TemplateError
from ..layout import defined_name
from ..model.graph import Block, Graph

NAME = defined_name("exercise")
LANGUAGE = defined_name("lang")  # the language of the workbook's words, "en" or "ja": feedback is written in it
CHOICES = ("backward", "forward", "all")


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


def task(block: Block, graph: Graph, area: Area, shape: str) -> list[str]:
    """The lines written above an exercise block: what to compute (the node's ``task``, a whole
    sentence in the template), its shape, which sheets to read and the local derivative rule; not
    the node's own math line (``dxmu2 = 2 · xmu · dsq``), which would make the task a transcription."""
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
    return [
        graph.word("exercise_title", step=block.step, name=block.name, task=block.task),
        graph.word("exercise_shape", shape=shape, fill=fill),
        read,
        f"{graph.word('rule')}: {block.rule}" if block.rule else "",
    ]
