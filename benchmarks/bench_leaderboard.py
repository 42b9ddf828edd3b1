"""How long the leaderboard takes with hostile submissions, at the input limits that bound its work.

Run with ``python benchmarks/bench_leaderboard.py`` (offline; the bundled sample
sets are built on first use). It times, each on its own:

* ``attacks``: the board of every submission in ``tests/attack_cases.py`` plus two
  honest ones (found, re-validated, recomputed, ranked, written: markdown, HTML,
  PNG, JSON);
* ``full sCMMLU``: validating one task of the full size (4743 items, 2 settings,
  4 continuations = 37,944 records), which is what an honest submission on the
  official release costs per task (its dataset not loaded here);
* ``at the limits``: the largest inputs a board reads before it refuses a file:
  a samples file of `validate.MAX_SAMPLES_BYTES` of short records (stopped at
  the record count the results claim), a results.json of `validate.MAX_RESULTS_BYTES`,
  and a 100 MB samples file (refused from its size, never read).

Every other size is bounded by these: a results.json or samples file larger
than its limit is refused before it is read, a samples file never yields more
records than items x settings x continuations (items <= `results.MAX_ITEMS`),
and bootstrap resamples are at most `results.MAX_BOOTSTRAP`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _timed(label: str, function) -> object:
    started = time.perf_counter()
    value = function()
    print(f"{label:<58} {time.perf_counter() - started:7.2f} s")
    return value


def main() -> None:
    from attack_cases import ATTACKS, copy_run, edit_results, make_runs

    from s2sbench_hf import hub, leaderboard, validate

    temp = tempfile.TemporaryDirectory(prefix="bench-leaderboard-")  # removed when the script exits
    work = Path(temp.name)
    runs = make_runs(work)
    root = work / "board"
    copy_run(runs.honest, root / hub.SUBMISSIONS_DIR / "acme__honest" / "r")
    copy_run(runs.text_only, root / hub.SUBMISSIONS_DIR / "acme__texty" / "r")
    for name, (build, _, _) in ATTACKS.items():
        build(root / hub.SUBMISSIONS_DIR / name / "r", runs)
    leaderboard.build_board(root, accepted=["samples"])  # warm-up: imports, sample sets, matplotlib
    board = _timed(
        f"attacks: board of {len(ATTACKS)} attacks + 2 honest (build)",
        lambda: leaderboard.build_board(root, accepted=["samples"]),
    )
    _timed("attacks: write markdown, HTML, PNG, JSON", lambda: leaderboard.write_board(board, work / "out"))
    print(f"  {board.counts()}")

    full = copy_run(runs.honest, work / "full")
    n_items = 4743

    def full_size(data):
        data["config"].update(limit=None)
        data["datasets"]["scmmlu"]["num_rows"] = n_items

    edit_results(full, full_size)
    row = json.loads((full / "samples_scmmlu.jsonl").read_text(encoding="utf-8").splitlines()[0])
    lines = []
    for i in range(n_items):
        for setting in ("text", "audio"):
            for choice in range(4):
                lines.append(
                    json.dumps(
                        {**row, "item_id": f"q{i:05d}", "setting": setting, "choice": choice, "is_answer": choice == 0},
                        ensure_ascii=False,
                    )
                )
    (full / "samples_scmmlu.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = (full / "samples_scmmlu.jsonl").stat().st_size
    _timed(
        f"full sCMMLU: validate {len(lines):,} records ({size / 1e6:.1f} MB)",
        lambda: validate.validate_run(full, check_dataset=False),
    )

    limit = copy_run(runs.honest, work / "limit")
    edit_results(
        limit, lambda data: (data["config"].update(limit=None), data["datasets"]["scmmlu"].update(num_rows=n_items))
    )
    short = '{"task": "scmmlu", "item_id": "x", "setting": "text", "choice": 0}\n'
    (limit / "samples_scmmlu.jsonl").write_text(short * (validate.MAX_SAMPLES_BYTES // len(short)), encoding="utf-8")
    report = _timed(
        f"at the limits: {validate.MAX_SAMPLES_BYTES >> 20} MB samples file of short bad lines",
        lambda: validate.validate_run(limit, check_dataset=False),
    )
    print(f"  {len(report.problems):,} problem(s), too_large: {'too_large' in report.kinds}")

    big = copy_run(runs.honest, work / "big")
    data = json.loads((big / "results.json").read_text(encoding="utf-8"))
    entry = {"task": "scmmlu", "item_id": "x" * 40, "problem": "p" * 100, "fix": "f" * 60}
    data["errors"] = [entry] * (validate.MAX_RESULTS_BYTES // (len(json.dumps(entry)) + 2) - 100)
    (big / "results.json").write_text(json.dumps(data), encoding="utf-8")
    size = (big / "results.json").stat().st_size
    _timed(
        f"at the limits: results.json of {size / 1e6:.1f} MB ({len(data['errors']):,} errors)",
        lambda: validate.validate_run(big, check_dataset=False),
    )

    huge = copy_run(runs.honest, work / "huge")
    with open(huge / "samples_sstorycloze.jsonl", "r+b") as handle:
        handle.truncate(100 << 20)
    _timed("at the limits: 100 MB samples file (refused unread)", lambda: validate.validate_run(huge))


if __name__ == "__main__":
    main()
