"""A model family as one file: its facts, read from the file without importing it.

A family's module (``scoring/adapters/<name>.py``, or any module a package
registers under the ``s2sbench.families`` entry-point group) holds everything
about the family:

* ``FAMILY = Family(name=..., scorer=..., model_types=(...), note=..., ...)``: the
  facts that `registry` lists and detects from, and that ``s2sbench families`` and
  docs/models.md print, written with literals only (keywords; ``needs`` as
  ``Requirement(...)`` calls with literal arguments);
* the `Scorer` subclass that ``scorer`` names;
* optionally ``tiny_model(folder, *, seed=0, tokenizer=None, ...)``: the recipe of a
  tiny random model of the family, built offline (`testing.make_tiny_model`); a family
  with one is in the test matrix (tests/test_adapters.py).

The facts are read with `ast` (`read_family`), so that listing the families and
detecting one import neither the adapter modules nor torch: a module is imported
only when a model of its family is loaded. Where the literal form is broken the
error names the file and the field.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from packaging.version import Version

from s2sbench_hf.scoring.interface import AdapterError, Scorer

BUILT_IN = Path(__file__).resolve().parent / "adapters"
"""The folder of the package's own families (every module in it that declares ``FAMILY``)."""

BUILT_IN_PACKAGE = "s2sbench_hf.scoring.adapters"

ENTRY_POINTS = "s2sbench.families"
"""The entry-point group under which another package registers a family module (``name = "pkg.module"``)."""

TINY_RECIPE = "tiny_model"
"""The name of a family module's tiny-model recipe."""


def installed_transformers() -> str:
    """The installed transformers' version, read from its metadata (importing transformers would load torch)."""
    return importlib.metadata.version("transformers")


@dataclass(frozen=True)
class Requirement:
    """A package that a family's transformers classes import and that s2sbench-hf does not install by default: the
    family's extra does (`Family.extra`)."""

    package: str
    """Its import name, which is also its name on PyPI."""
    why: str
    """What needs it, a few words (in the refusal and in ``s2sbench families``)."""
    before_transformers: str | None = None
    """Needed only on a transformers older than this release (None: on every release)."""

    def applies(self, transformers_version: str) -> bool:
        """Whether the family needs it on this transformers release."""
        return self.before_transformers is None or Version(transformers_version) < Version(self.before_transformers)

    def installed(self) -> bool:
        """Whether it can be found (`importlib.util.find_spec`, which does not import it, as transformers asks)."""
        return find_spec(self.package) is not None

    def describe(self) -> str:
        """What it is and why, e.g. ``torchaudio (its feature extractor)``, ``librosa (its feature extractor; on
        transformers<5.23.0)``."""
        before = f"; on transformers<{self.before_transformers}" if self.before_transformers else ""
        return f"{self.package} ({self.why}{before})"


ScorerClass = Callable[..., Scorer]
"""An adapter class (or a user's `Scorer` subclass): ``cls(model_id, **model_options)`` builds the scorer."""


@dataclass(frozen=True)
class Family:
    """One model family: what its module declares as ``FAMILY`` (module docstring), and where it was found."""

    name: str
    """The adapter name (``--adapter NAME``, ``results.json``'s ``model.adapter``)."""
    scorer: str
    """The name of the module's `Scorer` subclass."""
    model_types: tuple[str, ...] = ()
    """Config ``model_type`` values detected as this family (none: chosen by name only, or by `config_marks`)."""
    config_marks: tuple[tuple[str, str], ...] = ()
    """(model type, config key) pairs: a config of that type that holds that key is this family's, whatever family
    serves the type itself. For checkpoints whose model type is a plain one that another family (or ``causal-lm``)
    takes: Llama-Mimi's is ``llama``, with the ``num_quantizers`` its conversion adds and its evaluation reads."""
    note: str = ""
    """Its checkpoints and what to know about them, one line (``s2sbench families``, docs/models.md)."""
    min_transformers: str | None = None
    """The first transformers release this family loads on, where it is newer than the package's floor
    (`registry.TRANSFORMERS_FLOOR`; None: the floor is enough): the release that ships its model classes, or whose
    code the adapter needs."""
    needs: tuple[Requirement, ...] = ()
    """The packages its transformers classes import beyond the package's own dependencies (its `extra` installs
    them)."""
    module: str = field(default="", compare=False)
    """Its module, dotted (set where it is found, never written in the file)."""
    tiny: bool = field(default=False, compare=False)
    """Whether its module has a tiny-model recipe (`TINY_RECIPE`; set where it is found)."""

    @property
    def extra(self) -> str | None:
        """The extra of s2sbench-hf that installs `needs` (``pip install "s2sbench-hf[NAME]"``): the family's name;
        None for a family that needs nothing more. pyproject.toml's extras list the same packages
        (tests/test_packaging.py)."""
        return self.name if self.needs else None

    def marks(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` (as config.json holds it) carries one of `config_marks`."""
        return any(config.get("model_type") == model_type and key in config for model_type, key in self.config_marks)

    def detected_from(self) -> str:
        """What the family is detected from, a few words (``qwen2_audio``, ``llama with num_quantizers``)."""
        marks = [f"{model_type} with {key}" for model_type, key in self.config_marks]
        return ", ".join([*self.model_types, *marks]) or "by name only"

    def missing_packages(self) -> str | None:
        """Why this family cannot load here for want of a package of `needs`, as one line that names its extra; None
        if every package it needs on the installed transformers can be found (no import of transformers)."""
        version = installed_transformers()
        missing = [need for need in self.needs if need.applies(version) and not need.installed()]
        if not missing:
            return None
        return (
            f"family {self.name!r} needs {' and '.join(need.describe() for need in missing)}, not installed: "
            f'pip install "s2sbench-hf[{self.extra}]"'
        )

    def missing_transformers(self) -> str | None:
        """Why this family cannot load on the installed transformers, as one line that names the upgrade; None if
        it can (no import of transformers: the tests skip on it at collection)."""
        if self.min_transformers is None:
            return None
        installed = installed_transformers()
        if Version(installed) >= Version(self.min_transformers):
            return None
        return (
            f"family {self.name!r} needs transformers>={self.min_transformers} (installed: {installed}): "
            f'pip install -U "transformers>={self.min_transformers}"'
        )

    def load_module(self) -> Any:
        """Import the family's module (this is where torch and transformers get imported).

        On a transformers older than `min_transformers` this is an `AdapterError` naming the upgrade, raised
        before the module (which imports the family's classes) is imported.
        """
        missing = self.missing_transformers()
        if missing is not None:
            raise AdapterError(missing)
        return import_module(self.module)

    def load_class(self) -> ScorerClass:
        """The family's `Scorer` subclass (`load_module`; the packages of `needs` are checked by
        `registry.adapter_class`, before a scorer is built: the class itself imports without them)."""
        cls = getattr(self.load_module(), self.scorer)
        if cls.name != self.name:  # pragma: no cover - guarded by tests/test_families.py
            raise AdapterError(f"family {self.name!r} of {self.module} names a scorer called {cls.name!r}")
        return cls

    def load_recipe(self) -> Callable[..., Path]:
        """The family's tiny-model recipe (`TINY_RECIPE`), imported."""
        return getattr(self.load_module(), TINY_RECIPE)


class FamilyFileError(AdapterError):
    """A family module whose ``FAMILY`` cannot be read without running it."""


_FIELDS = {f.name for f in fields(Family)} - {"module", "tiny"}


def read_family(path: Path, module: str) -> Family | None:
    """The ``FAMILY`` that the module at ``path`` (dotted name ``module``) declares, read with `ast`; None where it
    declares none (``base.py``). A declaration that is not literal is a `FamilyFileError` naming the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    declared = [
        node.value for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign) and _names_family(node)
    ]
    if not declared:
        return None
    call = declared[-1]
    where = f"{path}: FAMILY"
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Family"):
        raise FamilyFileError(f"{where} should be written as Family(name=..., scorer=..., ...)")
    if call.args:
        raise FamilyFileError(f"{where}: write every field of Family(...) as a keyword (name=..., scorer=...)")
    if any(kw.arg is None for kw in call.keywords):
        raise FamilyFileError(f"{where}: write each field as a keyword, not **mapping")
    values = {str(kw.arg): _literal(kw.value, f"{where}.{kw.arg}") for kw in call.keywords}
    unknown = sorted(set(values) - _FIELDS)
    if unknown:
        raise FamilyFileError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; known: {sorted(_FIELDS)}")
    try:
        family = Family(**values)
    except TypeError as err:
        raise FamilyFileError(f"{where}: {err}") from None
    recipe = any(isinstance(node, ast.FunctionDef) and node.name == TINY_RECIPE for node in tree.body)
    return replace(
        family,
        model_types=tuple(family.model_types),
        config_marks=tuple((model_type, key) for model_type, key in family.config_marks),
        needs=tuple(family.needs),
        module=module,
        tiny=recipe,
    )


def _names_family(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(target, ast.Name) and target.id == "FAMILY" for target in targets)


def _literal(node: ast.expr, where: str) -> Any:
    """A field's value: a Python literal, or a tuple of ``Requirement(...)`` calls with literal arguments."""
    if isinstance(node, ast.Tuple | ast.List) and any(isinstance(elt, ast.Call) for elt in node.elts):
        return tuple(_literal(elt, where) for elt in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Requirement":
        args = [_literal(arg, where) for arg in node.args]
        return Requirement(*args, **{kw.arg: _literal(kw.value, where) for kw in node.keywords if kw.arg})
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise FamilyFileError(
            f"{where} is not a literal ({ast.unparse(node)!r}): write the value itself, so that the family can be "
            "listed without importing its module"
        ) from None


def built_in_families() -> list[Family]:
    """The package's own families, by name."""
    paths = [path for path in BUILT_IN.glob("*.py") if not path.name.startswith("_")]
    found = [family for path in paths if (family := read_family(path, f"{BUILT_IN_PACKAGE}.{path.stem}"))]
    return sorted(found, key=lambda family: family.name)


def plugin_families() -> list[Family]:
    """The families other installed packages register (`ENTRY_POINTS`), by entry-point name."""
    found = []
    for point in sorted(importlib.metadata.entry_points(group=ENTRY_POINTS), key=lambda point: point.name):
        origin = _module_origin(point.value, point.name)
        family = read_family(origin, point.value)
        if family is None:
            raise FamilyFileError(
                f"entry point {point.name!r} ({ENTRY_POINTS}) names {point.value}, which declares no FAMILY"
            )
        found.append(family)
    return found


def _module_origin(module: str, point: str) -> Path:
    """The source file of ``module`` (found without importing it; its parent packages are imported)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        spec, problem = None, str(err)
    else:
        problem = "no such module"
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise FamilyFileError(f"entry point {point!r} ({ENTRY_POINTS}) names {module}: {problem}")
    return Path(spec.origin)


def discover() -> dict[str, Family]:
    """Every family, the package's first, by name; two families of one name or one model type are a
    `FamilyFileError` that names both modules."""
    families: dict[str, Family] = {}
    claimed: dict[str, Family] = {}
    for family in built_in_families() + plugin_families():
        for other in [families.get(family.name)] + [claimed.get(t) for t in family.model_types]:
            if other is not None:
                raise FamilyFileError(
                    f"families {other.name!r} ({other.module}) and {family.name!r} ({family.module}) clash: each "
                    "family needs its own name and model types"
                )
        families[family.name] = family
        claimed.update(dict.fromkeys(family.model_types, family))
    return families
