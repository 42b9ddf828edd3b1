"""Running ``s2sbench run`` as one process, several processes or several nodes in tests: the commands, free ports,
the record cache, and launchers that leave no process behind (`Nodes`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RUN = [
    "run",
    "--tasks",
    "scmmlu",
    "--dataset",
    "samples",
    "--limit",
    "16",
    "--device",
    "cpu",
    "--bootstrap",
    "100",
    "--no-progress",
]
"""The run the scaling tests repeat (with ``--model``, ``--batch-size`` and ``--output``)."""

RUN_RECORDS = 16 * 2 * 4
"""The records of `RUN`: 16 items, 2 settings, 4 choices."""

PROC_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()
"""Whether this system lists a process's children in /proc (Linux), which `Nodes` needs to find the workers."""


def cli(*args: str) -> list[str]:
    """The ``s2sbench`` command line with ``args``, in this interpreter."""
    return [sys.executable, "-m", "s2sbench_hf", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment for a run in a subprocess: one thread per process, unbuffered output, no pytest marker."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def cache_lines(out: Path) -> list[dict]:
    """Every complete record line in ``out``'s cache, of every process's file (a line cut short is left out)."""
    rows = []
    for path in sorted(out.glob("cache/*/records-rank*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows


def run_one_process(model: Path, out: Path) -> Path:
    """`RUN` of ``model`` in one process, one item per batch, into ``out``; returns ``out``."""
    cmd = cli(*RUN, "--model", str(model), "--batch-size", "1", "--output", str(out))
    subprocess.run(cmd, check=True, env=subprocess_env(), capture_output=True, timeout=300)
    return out


def free_port() -> int:
    """A TCP port of 127.0.0.1 that no process listens on now (the system's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun_node(port: int, node_rank: int, rendezvous: str = "c10d") -> list[str]:
    """One node's launcher of a 2-node, 1-process-per-node torchrun job on 127.0.0.1 (the script or ``-m`` follows).

    ``c10d``: the nodes meet at the endpoint and get their ranks in the order they join (``--node-rank`` is ignored);
    ``static``: node ``node_rank`` gets rank ``node_rank`` and node 0 hosts the rendezvous store.
    """
    where = (
        ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}"]
        if rendezvous == "c10d"
        else ["--rdzv-backend", "static", "--master-addr", "127.0.0.1", "--master-port", str(port)]
    )
    nodes = ["--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(node_rank)]
    return [sys.executable, "-m", "torch.distributed.run", *nodes, *where]


def accelerate_node(port: int, machine_rank: int, *, cpu_flag: bool = False) -> list[str]:
    """One machine's ``accelerate launch`` of a 2-machine, 1-process-per-machine job on 127.0.0.1.

    ``--multi_gpu`` is what starts torchrun's launcher, on CPUs too (the run's ``--device cpu`` picks gloo);
    ``cpu_flag`` asks for ``--cpu`` instead, which starts one plain process per machine (see the tests).
    """
    mode = "--cpu" if cpu_flag else "--multi_gpu"
    machines = ["--num_machines", "2", "--num_processes", "2", "--machine_rank", str(machine_rank)]
    main = ["--main_process_ip", "127.0.0.1", "--main_process_port", str(port)]
    quiet = ["--mixed_precision", "no", "--dynamo_backend", "no"]
    return [sys.executable, "-m", "accelerate.commands.launch", mode, *machines, *main, *quiet]


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (none when it is gone)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def process_env(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(entry.split("=", 1) for entry in raw.decode(errors="replace").split("\0") if "=" in entry)


class Nodes:
    """Launchers started as separate processes, as separate machines start them: each in a session of its own, its
    output in ``logs/node<i>.log``. On leaving the ``with`` block every launcher and every worker it started (torchrun
    starts each worker in a session of its own, so a launcher's group is not enough) is killed, whatever happened;
    only processes that carry this object's token in their environment are ever signalled."""

    def __init__(self, commands: list[list[str]], logs: Path, env: dict[str, str]) -> None:
        self.commands, self.logs = commands, logs
        self.token = f"{os.getpid()}-{time.monotonic_ns()}"
        self.env = {**env, "S2SBENCH_TEST_NODES": self.token}
        self.launchers: list[subprocess.Popen] = []
        self.seen: dict[int, set[int]] = {}
        """Per node, every process of it seen so far (a worker outlives a launcher killed alone)."""

    def __enter__(self) -> Nodes:
        self.logs.mkdir(parents=True, exist_ok=True)
        for i, cmd in enumerate(self.commands):
            with (self.logs / f"node{i}.log").open("wb") as log:
                self.launchers.append(
                    subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                )
            self.seen[i] = {self.launchers[-1].pid}
        return self

    def __exit__(self, *exc: object) -> None:
        for i in range(len(self.launchers)):
            self.signal(i, signal.SIGKILL)
        for launcher in self.launchers:
            launcher.wait(timeout=30)

    def _processes(self, node: int) -> set[int]:
        """The node's processes seen so far and now: its launcher and every process below it that is ours."""
        found, todo = self.seen[node], [self.launchers[node].pid]
        while todo:
            for child in children(todo.pop()):
                if process_env(child).get("S2SBENCH_TEST_NODES") == self.token and child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def ranks(self) -> list[int | None]:
        """Per node, its worker's ``RANK`` (None until a worker has started)."""
        ranks = []
        for i, launcher in enumerate(self.launchers):
            workers = [process_env(pid) for pid in self._processes(i) if pid != launcher.pid]
            ranks.append(next((int(env["RANK"]) for env in workers if "RANK" in env), None))
        return ranks

    def signal(self, node: int, sig: signal.Signals) -> None:
        """Send ``sig`` to every process of ``node``'s (and their groups): what a machine's failure does to them."""
        for pid in sorted(self._processes(node)):
            if process_env(pid).get("S2SBENCH_TEST_NODES") != self.token:
                continue  # gone (or a zombie), its PID perhaps another's now
            for kill in (os.killpg, os.kill):  # the group of a session leader, then the process itself
                try:
                    kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def wait(self, node: int, timeout: float) -> int | None:
        """``node``'s launcher's exit status, or None if it still runs after ``timeout`` seconds."""
        try:
            return self.launchers[node].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log(self, node: int, chars: int = 3000) -> str:
        """The end of ``node``'s output, for a failure's message."""
        return (self.logs / f"node{node}.log").read_text(errors="replace")[-chars:]

    def logs_text(self) -> str:
        """Every node's `log`, labelled."""
        return "\n".join(f"--- node {i}:\n{self.log(i)}" for i in range(len(self.launchers)))


def wait_until(condition: Callable[[], bool], timeout: float, nodes: Nodes, what: str) -> None:
    """Poll ``condition`` every 20 ms until it holds; fail, with the nodes' logs, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s\n{nodes.logs_text()}")
        time.sleep(0.02)
