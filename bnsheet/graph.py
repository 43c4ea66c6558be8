"""Reads a graph template (templates/*.toml) into a checked Graph of inputs, parameters and nodes."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import TemplateError

SHAPES = ("NxD", "1xD")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(col))?\}")
# Excel's unary minus binds tighter than ^: "-{a}^2" is (-a)^2. A minus at the start or after
# an operator or "(" or ",", then one operand, then ^ is refused in templates.
_UNARY_MINUS_POWER = re.compile(r"(?:^|[-+*/^(,=])\s*-\s*(?:\{[^}]*\}|[A-Za-z0-9_.]+)\s*\^")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Param:
    """A scalar on the parameters sheet: a value the user may edit, or a formula."""

    name: str
    text: str
    value: float | None = None
    formula: str | None = None


@dataclass(frozen=True)
class Block:
    """An input or a node: one sheet holding one N×D or 1×D block."""

    name: str
    shape: str
    text: str
    step: str = ""
    formula: str = ""
    math: str = ""
    numpy: str = ""
    rule: str = ""
    reads: tuple[str, ...] = field(default=())

    @property
    def is_input(self) -> bool:
        return not self.formula

    @property
    def is_row(self) -> bool:
        return self.shape == "1xD"


@dataclass(frozen=True)
class Graph:
    """A template, checked: inputs, then nodes in evaluation order, and the parameters."""

    name: str
    title: str
    params: tuple[Param, ...]
    inputs: tuple[Block, ...]
    nodes: tuple[Block, ...]

    @property
    def blocks(self) -> tuple[Block, ...]:
        return self.inputs + self.nodes

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)


def load(name_or_path: str | Path = "batchnorm") -> Graph:
    """Load a template by name (one shipped in bnsheet/templates) or by path.

    >>> graph = load("batchnorm")
    >>> graph.nodes[0].name
    'mean'
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("bnsheet") / "templates" / f"{name_or_path}.toml"
        if not resource.is_file():
            raise TemplateError(f"no template named {name_or_path!r}")
        text = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"template {name_or_path}: {exc}") from None
    return parse(data)


def parse(data: dict[str, object]) -> Graph:
    """Build and check a Graph from a template's parsed TOML."""
    meta = _table(data, "graph")
    params = tuple(
        Param(
            name=_str(p, "name"),
            text=_str(p, "text"),
            value=float(p["value"]) if "value" in p else None,  # type: ignore[arg-type]
            formula=str(p["formula"]) if "formula" in p else None,
        )
        for p in _tables(data, "param")
    )
    inputs = tuple(
        Block(name=_str(i, "name"), shape=_str(i, "shape"), text=_str(i, "text")) for i in _tables(data, "input")
    )
    nodes = tuple(
        Block(
            name=_str(n, "name"),
            shape=_str(n, "shape"),
            text=_str(n, "text"),
            step=_str(n, "step"),
            formula=_str(n, "formula"),
            math=_str(n, "math"),
            numpy=_str(n, "numpy"),
            rule=str(n.get("rule", "")),
            reads=tuple(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(_str(n, "formula")))),
        )
        for n in _tables(data, "node")
    )
    graph = Graph(_str(meta, "name"), _str(meta, "title"), params, inputs, nodes)
    _check(graph)
    return graph


def _check(graph: Graph) -> None:
    seen: dict[str, Block] = {}
    param_names = {p.name for p in graph.params}
    for block in graph.blocks:
        where = f"template {graph.name}, {block.name}"
        if block.name in seen or block.name in param_names:
            raise TemplateError(f"{where}: the name is used twice")
        if block.shape not in SHAPES:
            raise TemplateError(f"{where}: shape {block.shape!r} is not one of {SHAPES}")
        if len(block.name) > 31 or _SHEET_NAME_FORBIDDEN.search(block.name):
            raise TemplateError(f"{where}: not a valid sheet name")
        if _UNARY_MINUS_POWER.search(block.formula):
            raise TemplateError(
                f"{where}: unary minus before ^ in {block.formula!r} means (-a)^b in Excel; write -(a^b) or 0-a^b"
            )
        for match in PLACEHOLDER.finditer(block.formula):
            ref, col = match.group(1), match.group(2)
            if ref in param_names:
                if col:
                    raise TemplateError(f"{where}: parameter {ref} has no column")
                continue
            if ref not in seen:
                raise TemplateError(f"{where}: reads {ref!r}, which is not defined before it")
            if col and seen[ref].is_row:
                raise TemplateError(f"{where}: {{{ref}:col}} needs an NxD block, {ref} is 1xD")
            if not col and block.is_row and not seen[ref].is_row:
                raise TemplateError(f"{where}: a 1xD node reads NxD {ref} cell by cell; use :col")
        seen[block.name] = block


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise TemplateError(f"template: missing [{key}] table")
    return value


def _tables(data: dict[str, object], key: str) -> list[dict[str, object]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise TemplateError(f"template: [[{key}]] must be an array of tables")
    return value


def _str(table: dict[str, object], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise TemplateError(f"template: {table.get('name', '?')}: missing text field {key!r}")
    return value
