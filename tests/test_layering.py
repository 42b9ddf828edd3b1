"""The architecture holds: imports point down the layers, no cycle, light modules stay light.

The layers and the rules are written in docs/architecture.md; the graph is read
from the source (tests/import_graph.py), so a new import that breaks a rule
fails here with the module and line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import import_graph as graph
import pytest

LIGHT = ("validate", "metrics", "results", "leaderboard", "report", "tables", "protocol", "options", "cli")
"""Modules a user imports without running a model: validating, reporting, the board, the CLI's --help."""


def test_every_module_is_in_a_layer():
    for module in graph.modules():
        graph.layer_of(module)  # raises for a module in no layer


def test_no_module_imports_one_above_it():
    upward = [
        f"{e.source} (line {e.line}) imports {e.target}: layer {graph.layer_of(e.source)} -> {graph.layer_of(e.target)}"
        for e in graph.edges()
        if graph.layer_of(e.target) > graph.layer_of(e.source)
    ]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_cycle_even_through_lazy_imports():
    assert graph.cycles(graph.edges()) == []


def test_imports_inside_functions_say_why():
    """Outside the front doors, a package import inside a function is for start-up time only, and says so."""
    silent = [
        f"{e.source} line {e.line}: import of {e.target} inside a function without a comment saying why"
        for e in graph.edges()
        if e.lazy and not e.commented and graph.layer_of(e.source) < len(graph.LAYERS) - 1
    ]
    assert not silent, "\n".join(silent)


def test_a_relative_upward_import_is_seen_as_the_module_it_names():
    """``from .scoring import engine`` in ``protocol`` is the edge protocol -> scoring.engine, which the layer rule
    refuses (foundations may not import the engine); relative imports are resolved from the module's package."""
    known = set(graph.modules())
    source = "from .scoring import engine\nfrom . import jsonl\n\ndef f():\n    from ..elsewhere import x\n"
    found = graph.module_edges("protocol", source, known)
    assert [(e.target, e.lazy) for e in found] == [("scoring.engine", False), ("jsonl", False)]
    assert graph.layer_of("scoring.engine") > graph.layer_of("protocol")
    inside = graph.module_edges("scoring", "from .interface import Scorer\nfrom .adapters import base\n", known)
    assert [e.target for e in inside] == ["scoring.interface", "scoring.adapters.base"]


def test_the_docs_layer_table_is_this_one():
    """docs/architecture.md's table names, layer by layer, the modules `import_graph.LAYERS` holds: the names in
    backticks outside parentheses (``s2sbench_hf`` is the package itself, ``""`` here)."""
    assert graph.docs_layers() == [(name, set(patterns)) for name, patterns in graph.LAYERS]


def test_the_cycle_check_finds_a_cycle():
    edges = [
        graph.Edge("a", "b", False, 1, False),
        graph.Edge("b", "c", True, 1, True),
        graph.Edge("c", "a", False, 1, False),
    ]
    assert graph.cycles(edges) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_load_no_model_stack(module):
    code = (
        "import sys, time; t = time.perf_counter(); import s2sbench_hf." + module + " as m; "
        "t = time.perf_counter() - t; "
        f"print(__import__('json').dumps([[h for h in {graph.HEAVY!r} if h in sys.modules], t]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, seconds = json.loads(out.stdout)
    assert heavy == [], f"import s2sbench_hf.{module} loads {heavy}"
    print(f"import s2sbench_hf.{module}: {seconds:.3f} s")
