"""Reads a graph template (templates/*.toml) into a checked Graph of inputs, parameters and nodes."""

from __future__ import annotations

import functools
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import TemplateError

SHAPES = ("NxD", "1xD")
LANGUAGES = ("en", "ja")
KINDS = ("forward", "backward")
# What [formats] may give a number format to: blocks by the kind they are shown as, the parameters,
# a node that is all rounding (error_scale), a block of small numbers, and the plots' bin counts.
FORMAT_KINDS = ("input", "forward", "backward", "param", "rounding", "small", "count", "light")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(col))?\}")
# Excel's unary minus binds tighter than ^: "-{a}^2" is (-a)^2. A minus at the start or after
# an operator or "(" or ",", then one operand, then ^ is refused in templates.
_UNARY_MINUS_POWER = re.compile(r"(?:^|[-+*/^(,=])\s*-\s*(?:\{[^}]*\}|[A-Za-z0-9_.]+)\s*\^")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# A step: its section's prefix, then its number (f1…f9 down the forward pass, b9…b0 back up).
_STEP = re.compile(r"([a-z]+)([0-9]+)")


@dataclass(frozen=True)
class Param:
    """A scalar on the parameters sheet: a value the user may edit, or a formula."""

    name: str
    text: str
    value: float | None = None
    formula: str | None = None


@dataclass(frozen=True)
class Section:
    """A part of the graph (forward, backward, an extra): the prefix of its steps, its colour kind, its title."""

    prefix: str
    kind: str
    title: str


@dataclass(frozen=True)
class Plots:
    """What the plots sheet shows: histograms of ``blocks`` over shared bins per feature, as many
    bins as N asks for (Sturges' rule, plots.bins) and at least ``min_bins``, charted for the first
    ``charted_features`` features."""

    min_bins: int = 3
    blocks: tuple[str, ...] = ()
    charted_features: int = 8


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
    error_scale: str = ""  # a node that is all rounding: compared with this node's tolerance
    task: str = ""  # an exercise's title: what to compute, a whole sentence

    @property
    def is_input(self) -> bool:
        return not self.formula

    @property
    def is_row(self) -> bool:
        return self.shape == "1xD"


@dataclass(frozen=True)
class Graph:
    """A template, checked, in one language: inputs, nodes in evaluation order, parameters, and the
    words the workbook shows."""

    name: str
    title: str
    params: tuple[Param, ...]
    inputs: tuple[Block, ...]
    nodes: tuple[Block, ...]
    sections: tuple[Section, ...] = ()
    plots: Plots = Plots()
    words: dict[str, str] = field(default_factory=dict)
    lang: str = "en"
    formats: dict[str, str] = field(default_factory=dict)  # number formats by FORMAT_KINDS

    def word(self, key: str, **fields: object) -> str:
        """A word or phrase of the workbook in the graph's language, its {fields} filled in."""
        try:
            return self.words[key].format(**fields)
        except KeyError:
            raise TemplateError(f"template {self.name}: no word {key!r} in [words.{self.lang}]") from None

    def section(self, block: Block) -> Section | None:
        """The section a node belongs to by its step's prefix; None for inputs."""
        return next((s for s in self.sections if block.step.startswith(s.prefix)), None)

    def kind(self, block: Block) -> str:
        """input, forward or backward: the colour a block is shown in."""
        section = self.section(block)
        return "input" if block.is_input or section is None else section.kind

    @property
    def blocks(self) -> tuple[Block, ...]:
        return self.inputs + self.nodes

    def upstream(self) -> dict[str, set[str]]:
        """Every node and the blocks it reads, directly or through other nodes (nodes are in
        evaluation order, so one pass closes it).

        >>> sorted(load().upstream()["xmu"])
        ['mean', 'x']
        """
        found: dict[str, set[str]] = {}
        for node in self.nodes:
            found[node.name] = set(node.reads).union(*(found.get(name, set()) for name in node.reads))
        return found

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)


def load(name_or_path: str | Path = "batchnorm", lang: str = "en") -> Graph:
    """Load a template by name (one shipped in templates/, installed as bnsheet.templates) or by path, in a language.

    >>> graph = load("batchnorm")
    >>> graph.nodes[0].name
    'mean'
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("bnsheet.templates") / f"{name_or_path}.toml"
        if not resource.is_file():
            raise TemplateError(f"no template named {name_or_path!r}")
        text = resource.read_text(encoding="utf-8")
    return _parsed(text, lang, str(name_or_path))


@functools.lru_cache(maxsize=8)
def _parsed(text: str, lang: str, name: str) -> Graph:
    """The Graph of a template's text, parsed once per process for each text and language (build,
    verify and grade each load it; a Graph is frozen, so one may be shared)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"template {name}: {exc}") from None
    return parse(data, lang)


def parse(data: dict[str, object], lang: str = "en") -> Graph:
    """Build and check a Graph from a template's parsed TOML, its texts in language ``lang``."""
    if lang not in LANGUAGES:
        raise TemplateError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    meta = _table(data, "graph")
    words_by_lang = data.get("words", {})
    if not isinstance(words_by_lang, dict):
        raise TemplateError("template: [words.<lang>] must be tables")
    words = {str(k): str(v) for k, v in words_by_lang.get(lang, {}).items()}
    if words_by_lang and any(set(t) != set(words) for t in words_by_lang.values()):
        raise TemplateError("template: every [words.<lang>] table must have the same keys")
    sections = tuple(
        Section(prefix=_str(s, "prefix"), kind=_str(s, "kind"), title=_text(s, "title", lang))
        for s in _tables(data, "section")
    )
    plots_table = data.get("plots", {})
    try:
        plots = Plots(**plots_table) if isinstance(plots_table, dict) else Plots()
    except TypeError as exc:
        raise TemplateError(f"template: [plots]: {exc}") from None
    if not all(isinstance(v, int) for v in (plots.min_bins, plots.charted_features)) or isinstance(plots.blocks, str):
        raise TemplateError("template: [plots]: min_bins and charted_features must be whole numbers, blocks a list")
    plots = Plots(plots.min_bins, tuple(plots.blocks), plots.charted_features)
    formats = data.get("formats", {})
    if not isinstance(formats, dict) or not all(k in FORMAT_KINDS and isinstance(v, str) for k, v in formats.items()):
        raise TemplateError(f"template: [formats] gives number formats as text to {', '.join(FORMAT_KINDS)}")
    params = tuple(
        Param(
            name=_str(p, "name"),
            text=_text(p, "text", lang),
            value=_number(p, "value") if "value" in p else None,
            formula=str(p["formula"]) if "formula" in p else None,
        )
        for p in _tables(data, "param")
    )
    inputs = tuple(
        Block(name=_str(i, "name"), shape=_str(i, "shape"), text=_text(i, "text", lang)) for i in _tables(data, "input")
    )
    nodes = tuple(
        Block(
            name=_str(n, "name"),
            shape=_str(n, "shape"),
            text=_text(n, "text", lang),
            step=_str(n, "step"),
            formula=_str(n, "formula"),
            math=_text(n, "math", lang),
            numpy=_str(n, "numpy"),
            rule=_text(n, "rule", lang) if "rule" in n else "",
            error_scale=str(n.get("error_scale", "")),
            task=_text(n, "task", lang) if "task" in n else "",
            reads=tuple(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(_str(n, "formula")))),
        )
        for n in _tables(data, "node")
    )
    graph = Graph(
        _str(meta, "name"), _text(meta, "title", lang), params, inputs, nodes, sections, plots, words, lang, formats
    )
    _check(graph)
    return graph


def _check(graph: Graph) -> None:
    """The template's contract with the stages that use it; a TemplateError names what breaks it."""
    _check_steps(graph)
    seen: dict[str, Block] = {}
    param_names = {p.name for p in graph.params}
    for block in graph.blocks:
        where = f"template {graph.name}, {block.name}"
        if block.name in seen or block.name in param_names:
            raise TemplateError(f"{where}: the name is used twice")
        _check_block(block, where)
        _check_reads(block, where, seen, param_names)
        seen[block.name] = block
    for section in graph.sections:
        if section.kind not in KINDS:
            raise TemplateError(f"template {graph.name}: section {section.prefix}: kind is not one of {KINDS}")
    for name in graph.plots.blocks:
        if name not in seen or seen[name].is_row:
            raise TemplateError(f"template {graph.name}: [plots] block {name!r} is not an NxD block")


def _check_block(block: Block, where: str) -> None:
    """A block's own fields: its shape, a valid sheet name, a formula Excel reads as written."""
    if block.shape not in SHAPES:
        raise TemplateError(f"{where}: shape {block.shape!r} is not one of {SHAPES}")
    if len(block.name) > 31 or _SHEET_NAME_FORBIDDEN.search(block.name):
        raise TemplateError(f"{where}: not a valid sheet name")
    if _UNARY_MINUS_POWER.search(block.formula):
        raise TemplateError(
            f"{where}: unary minus before ^ in {block.formula!r} means (-a)^b in Excel; write -(a^b) or 0-a^b"
        )
    if block.error_scale and block.error_scale not in block.reads:
        raise TemplateError(f"{where}: error_scale {block.error_scale!r} is not a node it reads")


def _check_reads(block: Block, where: str, seen: dict[str, Block], param_names: set[str]) -> None:
    """What a formula reads is defined before it, in a shape the broadcast rule can read (SPEC §2)."""
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


def _check_steps(graph: Graph) -> None:
    """Steps the workbook can place: a section's prefix and a number (the graph sheet puts forward
    step fK and backward step bK on rows by K), one section per prefix."""
    prefixes = [section.prefix for section in graph.sections]
    if len(set(prefixes)) < len(prefixes):
        raise TemplateError(f"template {graph.name}: two [[section]]s have the same prefix")
    for section in graph.sections:
        if not re.fullmatch(r"[a-z]+", section.prefix):
            raise TemplateError(f"template {graph.name}: section prefix {section.prefix!r} must be lower-case letters")
    for node in graph.nodes:
        step = _STEP.fullmatch(node.step)
        if step is None:
            raise TemplateError(
                f"template {graph.name}, {node.name}: step {node.step!r} must be a section's prefix and a number, "
                "like f1 or b9"
            )
        if graph.sections and step.group(1) not in prefixes:
            raise TemplateError(f"template {graph.name}, {node.name}: step {node.step!r} is in no [[section]]")
    # the graph sheet has room for one node per forward step and two per backward step
    for prefix, room in (("f", 1), ("b", 2)):
        steps = Counter(node.step for node in graph.nodes if node.step.rstrip("0123456789") == prefix)
        crowded = sorted(step for step, count in steps.items() if count > room)
        if crowded:
            raise TemplateError(
                f"template {graph.name}: step {crowded[0]} holds {steps[crowded[0]]} nodes; the graph sheet has room "
                f"for {room} per {'forward' if prefix == 'f' else 'backward'} step"
            )


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


def _text(table: dict[str, object], key: str, lang: str) -> str:
    """A text field: one string for every language, or a table with one string per language."""
    value = table.get(key)
    if isinstance(value, dict):
        missing = [code for code in LANGUAGES if not isinstance(value.get(code), str)]
        if missing:
            raise TemplateError(f"template: {table.get('name', '?')}: {key} has no {', '.join(missing)} text")
        return str(value[lang])
    return _str(table, key)


def _number(table: dict[str, object], key: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TemplateError(f"template: {table.get('name', '?')}: {key} must be a number, not {value!r}")
    return float(value)


def _str(table: dict[str, object], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise TemplateError(f"template: {table.get('name', '?')}: missing text field {key!r}")
    return value
