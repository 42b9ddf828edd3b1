"""``s2sbench tasks``: list the tasks. (The sample sets are built by ``s2sbench build samples``.)"""

from __future__ import annotations

import argparse

from s2sbench_hf.cli import examples
from s2sbench_hf.tasks import TASKS


def _cmd_tasks(args: argparse.Namespace) -> int:
    for task in TASKS.values():
        print(f"{task.id:16} {task.language}  {task.num_choices}-way  {task.description}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", **examples("s2sbench tasks"), help="list the tasks.")
    tasks.set_defaults(func=_cmd_tasks)
