"""`cli_helpers.run_argv`: the ``s2sbench run`` command line that tests build from option names."""

from __future__ import annotations

import cli_helpers
import pytest


def test_keywords_become_the_flags_the_code_declares():
    argv = cli_helpers.run_argv(
        "m",
        "out",
        tasks=["sstorycloze", "scmmlu"],
        limit=2,
        n_bootstrap=10,  # a field whose flag is not its name
        framing_preset="reference-as-shipped",
        chat_template=True,
        trust_remote_code=False,
        revision=None,
        no_progress=True,  # a flag of the run parser that is no option field
    )
    assert argv == [
        "run",
        "--model",
        "m",
        "--tasks",
        "sstorycloze",
        "scmmlu",
        "--limit",
        "2",
        "--bootstrap",
        "10",
        "--framing",
        "reference-as-shipped",
        "--chat-template",
        "--no-progress",
        "--output",
        "out",
    ]
    assert cli_helpers.run_argv("m", overwrite=True) == ["run", "--model", "m", "--overwrite"]


def test_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="bootstrap"):
        cli_helpers.run_argv("m", bootstrap=10)  # the flag's name, not the option's
    with pytest.raises(TypeError, match="help"):
        cli_helpers.run_argv("m", help=True)
