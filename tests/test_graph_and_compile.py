"""The template and the formulas compiled from it, checked against SPEC §1–§3 by hand."""

import pytest

from bnsheet.errors import TemplateError
from bnsheet.layout import Layout
from bnsheet.model.graph import load, parse
from bnsheet.writing.compile import cell_pattern

SPEC_NODES = [
    "mean", "xmu", "sq", "var", "sqrtvar", "ivar", "xhat", "gammax", "out", "dbeta", "dgammax",
    "dgamma", "dxhat", "divar", "dxmu1", "dsqrtvar", "dvar", "dsq", "dxmu2", "dx1", "dmu", "dx2", "dx",
]  # fmt: skip
SPEC_EXTRAS = ["dx_compact", "dx_diff", "new_running_mean", "new_running_var", "out_inference", "gamma_new", "beta_new"]


def test_the_template_has_every_node_of_the_spec_in_order():
    graph = load()
    assert [n.name for n in graph.nodes] == SPEC_NODES + SPEC_EXTRAS
    assert [b.name for b in graph.inputs] == ["x", "gamma", "beta", "dout", "running_mean", "running_var"]


# Cell C8 (row 8, column 3) of each block for N=4, D=3, written from SPEC §1 and §2.
@pytest.mark.parametrize(
    "node, formula",
    [
        ("mean", "=AVERAGE('x'!C$7:C$10)"),
        ("xmu", "='x'!C8-'mean'!C$7"),
        ("xhat", "='xmu'!C8*'ivar'!C$7"),
        ("sqrtvar", "=SQRT('var'!C$7+bn_eps)"),
        ("dgamma", "=SUMPRODUCT('dgammax'!C$7:C$10,'xhat'!C$7:C$10)"),
        ("divar", "=SUMPRODUCT('dxhat'!C$7:C$10,'xmu'!C$7:C$10)"),
        ("dsqrtvar", "=-1/('sqrtvar'!C$7^2)*'divar'!C$7"),
        ("dsq", "=1/bn_n*'dvar'!C$7"),
        ("dmu", "=-SUM('dx1'!C$7:C$10)"),
        ("dx", "='dx1'!C8+'dx2'!C8"),
    ],
)
def test_cell_formulas(node, formula):
    graph = load()
    row = 7 if graph.block(node).is_row else 8
    assert cell_pattern(graph.block(node), graph, Layout(4, 3)).format(c="C", r=row) == formula


def _template(formula, shape="NxD"):
    return {
        "graph": {"name": "t", "title": "t"},
        "param": [{"name": "eps", "value": 1e-5, "text": "e"}],
        "input": [{"name": "x", "shape": "NxD", "text": "x"}, {"name": "g", "shape": "1xD", "text": "g"}],
        "node": [
            {
                "name": "y",
                "step": "f1",
                "shape": shape,
                "formula": formula,
                "math": "",
                "numpy": "",
                "text": "",
            }
        ],
    }


@pytest.mark.parametrize(
    "formula, shape, complaint",
    [
        ("-{x}^2", "NxD", "unary minus"),
        ("1+-{g}^2", "NxD", "unary minus"),
        ("{z}+1", "NxD", "not defined"),
        ("{g:col}", "1xD", "needs an NxD block"),
        ("{x}", "1xD", "use :col"),
        ("{x}", "3xD", "shape"),
    ],
)
def test_bad_templates_are_refused(formula, shape, complaint):
    with pytest.raises(TemplateError, match=complaint):
        parse(_template(formula, shape))


@pytest.mark.parametrize("formula", ["-({x}^2)", "0-{x}^2", "-1/({x}^2)", "-SUM({x:col})+{g}"])
def test_safe_minus_forms_are_accepted(formula):
    shape = "1xD" if "SUM" in formula else "NxD"
    assert parse(_template(formula, shape)).nodes[0].formula == formula


def _with(template, **changes):
    """The template with its node's fields, or whole tables (given as ``table=value``), changed."""
    node = template["node"][0]
    for key, value in changes.items():
        if key in node:
            node[key] = value
        else:
            template[key] = value
    return template


@pytest.mark.parametrize(
    "changes, complaint",
    [
        ({"step": "forward"}, "must be a section's prefix and a number"),
        ({"step": "F1"}, "must be a section's prefix and a number"),
        ({"step": "b"}, "must be a section's prefix and a number"),
        ({"step": "q1", "section": [{"prefix": "f", "kind": "forward", "title": "t"}]}, "is in no"),
        (
            {
                "section": [
                    {"prefix": "f", "kind": "forward", "title": "a"},
                    {"prefix": "f", "kind": "forward", "title": "b"},
                ]
            },
            "same prefix",
        ),
        ({"section": [{"prefix": "F-", "kind": "forward", "title": "a"}]}, "lower-case letters"),
        ({"param": [{"name": "eps", "value": "small", "text": "e"}]}, "must be a number"),
        ({"plots": {"min_bins": "three"}}, "whole numbers"),
        ({"formats": {"outputs": "0.00"}}, r"\[formats\] gives number formats"),
    ],
)
def test_the_contract_the_workbook_relies_on_is_checked_when_a_template_loads(changes, complaint):
    with pytest.raises(TemplateError, match=complaint):
        parse(_with(_template("{x}"), **changes))


def test_steps_the_graph_sheet_has_no_room_for_are_refused():
    template = _template("{x}")
    template["node"] += [dict(template["node"][0], name=f"y{k}", step="b1") for k in range(3)]
    template["node"][0]["step"] = "f1"
    with pytest.raises(TemplateError, match="step b1 holds 3 nodes"):
        parse(template)
    template["node"] = template["node"][:3]  # two at b1 fit
    assert [n.step for n in parse(template).nodes] == ["f1", "b1", "b1"]
