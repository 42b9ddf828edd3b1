"""``s2sbench run`` in tests by option name, not by flag: `run_cli` and `run_argv`.

A test names what it runs as keywords, ``run_cli(model, out, tasks="sstorycloze", n_bootstrap=10, no_progress=True)``,
and the command line is built from the flags the code itself declares: a field of `RunConfig` gets
`s2sbench_hf.options.flag` of it (``n_bootstrap`` -> ``--bootstrap``, ``framing_preset`` -> ``--framing``), any
other keyword the flag of the ``run`` parser's argument of that ``dest`` (``no_progress`` -> ``--no-progress``,
``overwrite``). So renaming a flag touches the code, not every test that runs a model.

Values: ``True`` gives the flag alone and ``False`` or ``None`` leaves it out; a list or tuple gives the flag then
its items; anything else is given as ``str(value)``. The argv is ``run --model MODEL``, the options in the order
given, then ``--output OUTPUT`` (when not ``None``) last, as a user types it.
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import cache
from typing import Any

from s2sbench_hf import cli, options


@cache
def _flags() -> dict[str, str]:
    """keyword -> flag: the `RunConfig` fields' own flags, then the rest of the ``run`` parser's (by ``dest``)."""
    flags = {f.name: options.flag(f) for f in dataclasses.fields(options.RunConfig)}
    parser = cli.build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices["run"]._actions:
        if action.option_strings and action.dest not in flags and action.dest != "help":
            flags[action.dest] = max(action.option_strings, key=len)  # the long form
    return flags


def run_argv(model: Any, output: Any = None, **opts: Any) -> list[str]:
    """The argv of ``s2sbench run`` (without the program name) for ``model``, ``output`` and the options ``opts``.

    Raises TypeError for a keyword that is no option of ``run`` (nor ``model``/``output`` given twice).
    """
    flags = _flags()
    argv = ["run", flags["model"], str(model)]
    for name, value in opts.items():
        if name not in flags or name in ("model", "output"):
            raise TypeError(f"run_argv() got an unexpected keyword argument {name!r}: no option of `s2sbench run`")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flags[name])
        elif isinstance(value, (list, tuple)):
            argv += [flags[name], *map(str, value)]
        else:
            argv += [flags[name], str(value)]
    if output is not None:
        argv += [flags["output"], str(output)]
    return argv


def run_cli(model: Any, output: Any = None, **opts: Any) -> int:
    """Run `run_argv` (same arguments) in this process through `s2sbench_hf.cli.main`; its exit status."""
    return cli.main(run_argv(model, output, **opts))
