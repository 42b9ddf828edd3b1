"""``s2sbench tasks``: list the tasks. (The sample sets are built by ``s2sbench build samples``.)"""

from __future__ import annotations

import argparse

from s2sbench_hf.cli import examples
from s2sbench_hf.tasks import SPEECH_LM_TASKS, TASKS, Task


def _print_tasks(tasks: dict[str, Task]) -> None:
    width = max(len(task_id) for task_id in (*TASKS, *SPEECH_LM_TASKS))
    for task in tasks.values():
        print(f"{task.id:{width}} {task.language}  {task.num_choices}-way  {task.kind:12}  {task.description}")


def _cmd_tasks(args: argparse.Namespace) -> int:
    _print_tasks(TASKS)
    print("\nSpeech-LM sets (run when named: --tasks ID; never by default):")
    _print_tasks(SPEECH_LM_TASKS)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", **examples("s2sbench tasks"), help="list the tasks.")
    tasks.set_defaults(func=_cmd_tasks)
