"""The examples in the public API's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

import pytest

from s2sbench_hf import Scorer
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.runner import evaluate_model

METRIC_MODULE = Path(__file__).resolve().parent.parent / "metric" / "s2sbench" / "s2sbench.py"


def _run(docstring: str, name: str, globs: dict) -> None:
    test = doctest.DocTestParser().get_doctest(docstring, globs, name, None, 0)
    assert test.examples, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} example(s) of {name} failed (see the output above)"


@pytest.mark.parametrize("obj", [Scorer, load_task, evaluate_model], ids=lambda obj: obj.__name__)
def test_public_api_examples(obj):
    _run(obj.__doc__, obj.__qualname__, {obj.__name__: obj})


def test_the_evaluate_module_example():
    """The module's own usage text: `evaluate.load("s2sbench")` by name (registered by the install line)."""
    import evaluate

    spec = importlib.util.spec_from_file_location("s2sbench_metric_doc", METRIC_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _run(module._KWARGS_DESCRIPTION, "metric/s2sbench", {"evaluate": evaluate})
