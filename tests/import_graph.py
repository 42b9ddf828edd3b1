"""The package's import graph and its layers (docs/architecture.md), read from the source with `ast`.

Used by tests/test_layering.py (the rules) and by ``python tests/import_graph.py``
(prints the graph by layer, or writes it as a picture with ``--png FILE``).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "s2sbench_hf"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundations",
        (
            "_version",
            "tasks",
            "protocol",
            "jsonl",
            "files",
            "render",
            "failures",
            "model_identity",
            "audio",
            "hub_repo",
            "real_tokenizers",
            "environment",
        ),
    ),
    ("interface and data", ("", "scoring", "scoring.interface", "data.*")),
    (
        "engine, adapters, options, numbers",
        (
            "scoring.engine",
            "scoring.cache",
            "scoring.checkpoint",
            "scoring.family",
            "scoring.mimi",
            "scoring.registry",
            "scoring.tiny",
            "scoring.coverage",
            "scoring.adapters.*",
            "scoring.vllm_backend",
            "options",
            "model_loading",
            "metrics",
            "tables",
            "plots",
        ),
    ),
    ("runs, sweeps, result folders", ("results", "runner", "sweep", "reference", "testing", "prompts")),
    (
        "reports, validation, Hub, board",
        ("report", "validate", "rerun", "hub", "leaderboard", "evaluate_metric", "metric_module"),
    ),
    ("front doors", ("cli.*", "__main__", "option_docs")),
]
"""Layers, bottom first. A module may import its own layer or lower ones; ``x.*`` covers a subpackage."""

HEAVY = ("torch", "transformers", "accelerate", "datasets", "matplotlib", "evaluate", "gradio", "jiwer")
"""Third-party modules that cost seconds to import (or are optional): imported inside functions where one path
needs them."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    lazy: bool
    """Inside a function (or method), not at module level."""
    line: int
    commented: bool
    """A comment on the import's line or just above it (says why it is lazy)."""


def modules() -> list[str]:
    """Every module of the package, dotted, relative to it ("" is the package itself)."""
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _path(module: str) -> Path:
    base = ROOT.joinpath(*module.split(".")) if module else ROOT
    return base / "__init__.py" if (base / "__init__.py").exists() else base.with_suffix(".py")


def layer_of(module: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and (module + ".").startswith(pattern[:-1])):
                return index
    raise KeyError(f"module {module!r} is in no layer: add it to tests/import_graph.py LAYERS")


def _resolve(name: str, known: set[str]) -> str | None:
    """The package module a dotted import name refers to (its longest known prefix), or None."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    rest = name[len(PACKAGE) + 1 :]
    parts = rest.split(".") if rest else []
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts)


def edges() -> list[Edge]:
    """Every import of a package module by a package module (module level and inside functions)."""
    known = set(modules())
    return [e for module in sorted(known) for e in module_edges(module, _path(module).read_text("utf-8"), known)]


def module_edges(module: str, source: str, known: set[str]) -> list[Edge]:
    """The imports of package modules in ``source``, the text of ``module``; relative imports resolved as Python
    resolves them (from the module's own package), so that ``from .scoring import engine`` counts as an edge."""
    lines = source.splitlines()
    found = []
    for node, lazy in _imports(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [t for a in node.names if (t := _resolve(a.name, known)) is not None]
        else:
            base = _resolve(_absolute(node, module), known)
            if base is not None:
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    targets.append(sub if sub in known else base)
        above = lines[max(0, node.lineno - 3) : node.lineno]
        commented = any("#" in line for line in above)
        found += [Edge(module, t, lazy, node.lineno, commented) for t in dict.fromkeys(targets) if t != module]
    return found


def _absolute(node: ast.ImportFrom, module: str) -> str:
    """The absolute dotted name of a ``from X import ...``, ``X`` relative (``.``, ``..x``) or not."""
    if node.level == 0:
        return node.module or ""
    is_package = module == "" or _path(module).name == "__init__.py"
    package = [PACKAGE, *(module.split(".") if module else [])][: None if is_package else -1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(tree: ast.AST):
    """(import node, inside a function?) for every import statement, skipping ``if TYPE_CHECKING:`` blocks."""

    def walk(node: ast.AST, lazy: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, lazy
            yield from walk(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    yield from walk(tree, False)


def docs_layers() -> list[tuple[str, set[str]]]:
    """The layer table of docs/architecture.md, read back: (layer, the modules of its second column), the modules
    being the names in backticks outside parentheses (the rest describes them); ``s2sbench_hf`` is ``""``."""
    text = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = text.split("| layer | modules |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    table = []
    for row in rows:
        layer, listed = (cell.strip() for cell in row.strip("|").split(" | ")[:2])
        names = re.findall(r"`([^`]+)`", _outside_parentheses(listed))
        table.append((layer, {"" if name == PACKAGE else name for name in names}))
    return table


def _outside_parentheses(text: str) -> str:
    """``text`` without its parenthesized parts (nested ones too)."""
    kept, depth = [], 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if depth == 0 and char != ")":
            kept.append(char)
    return "".join(kept)


def cycles(graph_edges: list[Edge]) -> list[list[str]]:
    """The import cycles (each as a list of modules), counting lazy imports too."""
    graph: dict[str, set[str]] = {}
    for e in graph_edges:
        graph.setdefault(e.source, set()).add(e.target)
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def draw(path: str) -> None:
    """The graph as a picture: one row per layer (bottom layer at the bottom), an arrow per import."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def node(module: str) -> str:  # the model families drawn as one box
        family = module.startswith("scoring.adapters.") and module != "scoring.adapters.base"
        return "scoring.adapters.<family>" if family else module or PACKAGE

    all_edges = {(node(e.source), node(e.target)) for e in edges()} - {("scoring.adapters.<family>",) * 2}
    rows: dict[int, list[str]] = {}
    for module in modules():
        if node(module) not in rows.setdefault(layer_of(module), []):
            rows[layer_of(module)].append(node(module))
    width = max(len(r) for r in rows.values())
    fig = Figure(figsize=(max(12, 1.5 * width), 2.2 * len(LAYERS)))
    ax = fig.add_subplot()
    where = {}
    for index, names in rows.items():
        for j, name in enumerate(names):
            where[name] = ((j + 0.5) * width / len(names), index)
    for source, target in sorted(all_edges):
        (x0, y0), (x1, y1) = where[source], where[target]
        ax.annotate(
            "", (x1, y1 + 0.12), (x0, y0 - 0.12), arrowprops={"arrowstyle": "->", "alpha": 0.25, "color": "tab:blue"}
        )
    for name, (x, y) in where.items():
        ax.text(
            x,
            y,
            name,
            ha="center",
            va="center",
            fontsize=7,
            rotation=20,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.6"},
        )
    for index, (label, _) in enumerate(LAYERS):
        ax.text(-0.5, index, label, ha="right", va="center", fontsize=9, weight="bold")
    ax.set_xlim(-4, width + 0.5)
    ax.set_ylim(-0.6, len(LAYERS) - 0.4)
    ax.axis("off")
    ax.set_title("s2sbench_hf imports: every arrow points to the same or a lower layer; no cycle")
    fig.savefig(path, dpi=80, bbox_inches="tight")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--png":
        draw(sys.argv[2])
    else:
        for index, (label, _) in enumerate(LAYERS):
            print(f"{index} {label}: {', '.join(m or PACKAGE for m in modules() if layer_of(m) == index)}")
        print(f"cycles: {cycles(edges()) or 'none'}")
