"""Submissions crafted as an attacker would (issue 12), for the attack tests and the board benchmark.

Each attack starts from an honest run folder (`fake_runs.make_run`, runs on the
bundled sample sets) and writes one submission folder. `ATTACKS` maps a name to
(builder, expected place on the board, a text the reason must contain).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from s2sbench_hf import metrics
from s2sbench_hf.results import read_samples, write_samples
from s2sbench_hf.tasks import get_task

INJECTION = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](https:evil.example) "
    "![t](https:evil.example/t.png) *em* _u_ ~~s~~ `c` www.evil.example a@evil.example &lt; \r| row"
)
"""Text that would become HTML, a link, an image, emphasis or a broken row if a board printed it raw."""


@dataclass(frozen=True)
class Runs:
    honest: Path
    """A valid run of two tasks in both settings (the model prefers answers in text more than in audio)."""
    text_only: Path
    """A valid run of the same tasks in the text setting only."""


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("cache", "reference"))
    return dst


def edit_results(folder: Path, edit: Callable[[dict], None]) -> None:
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    edit(data)
    (folder / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def recompute(folder: Path, tasks: list[str] | None = None) -> None:
    """Rewrite results.json's metrics from the samples as they now are: a fake consistent with its samples."""
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    config = data["config"]
    for task_id in tasks or config["tasks"]:
        records = read_samples(folder / f"samples_{task_id}.jsonl")
        summary = metrics.summarize_records(
            get_task(task_id),
            records,
            config["settings"],
            scoring_rule=config["scoring_rule"],
            tie_policy=config["tie_policy"],
            n_bootstrap=config["n_bootstrap"],
            seed=config["seed"],
        )
        summary.pop("item_ids")
        rows = data["datasets"][task_id]["num_rows"]
        considered = min(rows, config["limit"]) if config["limit"] is not None else rows
        data["results"][task_id] = {**summary, "n_failed": considered - summary["n_items"]}
    data["overall"] = metrics.overall(data["results"])
    (folder / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def wrong_audio_items(folder: Path, task_id: str) -> list[str]:
    """Items whose answer does not win in the audio setting (what a cherry-picker drops)."""
    records = read_samples(folder / f"samples_{task_id}.jsonl")
    audio = {}
    for r in records:
        if r.setting == "audio":
            audio.setdefault(r.item_id, []).append(r)
    return [i for i, rs in audio.items() if min(rs, key=lambda r: r.mean_nll).is_answer is False]


# ---------------------------------------------------------------------------- the attacks


def fabricated_audio(dst: Path, runs: Runs) -> None:
    """A text-only run with invented audio accuracy, degradation and overall audio numbers."""
    copy_run(runs.text_only, dst)

    def edit(data):
        for m in data["results"].values():
            m["settings"]["audio"] = {**m["settings"]["text"], "accuracy": 0.99, "accuracy_ci": [0.98, 1.0]}
            m["degradation"] = {
                "gap": 0.0,
                "gap_ci": [0.0, 0.0],
                "relative_gap": 0.0,
                "test": {
                    "method": "mcnemar",
                    "p_value": 1.0,
                    "n_discordant": 0,
                    "first_better": 0,
                    "second_better": 0,
                    "n_resamples": None,
                },
            }
        data["overall"]["settings"]["audio"] = {"accuracy": 0.99}
        data["overall"]["degradation"] = {"gap": 0.0, "relative_gap": 0.0}

    edit_results(dst, edit)


def _cherry_pick(dst: Path, runs: Runs, keep_n_failed: bool) -> None:
    copy_run(runs.honest, dst)
    task_id = "sstorycloze"
    dropped = wrong_audio_items(dst, task_id)
    write_samples(dst, task_id, [r for r in read_samples(dst / f"samples_{task_id}.jsonl") if r.item_id not in dropped])
    recompute(dst, [task_id])

    def edit(data):
        data["errors"] += [
            {"task": task_id, "item_id": i, "problem": "CUDA out of memory", "fix": "-"} for i in dropped
        ]
        if not keep_n_failed:
            del data["results"][task_id]["n_failed"]

    edit_results(dst, edit)


def cherry_picked(dst: Path, runs: Runs) -> None:
    """Wrong items listed as errors, their records dropped, metrics recomputed, ``n_failed`` deleted."""
    _cherry_pick(dst, runs, keep_n_failed=False)


def cherry_picked_with_count(dst: Path, runs: Runs) -> None:
    """The same, but the failure count kept honest: valid, yet the dataset does not explain the errors."""
    _cherry_pick(dst, runs, keep_n_failed=True)


def _dataset(source: str) -> Callable[[Path, Runs], None]:
    def build(dst: Path, runs: Runs) -> None:
        copy_run(runs.honest, dst)

        def edit(data):
            data["config"]["dataset"] = source
            for info in data["datasets"].values():
                info["source"] = source

        edit_results(dst, edit)

    return build


other_hub_dataset = _dataset("attacker/s2sbench")
"""A run on a Hub dataset the attacker uploaded."""
local_dataset = _dataset("./my-easy-data")
"""A run on a local folder."""
root_dataset = _dataset("/")
"""A dataset source that would make validation walk the host's filesystem."""


def _model(edit_model: Callable[[dict], None]) -> Callable[[Path, Runs], None]:
    def build(dst: Path, runs: Runs) -> None:
        copy_run(runs.honest, dst)
        edit_results(dst, lambda data: edit_model(data["model"]))

    return build


huge_parameters = _model(lambda m: m.update(num_parameters=10**400))
infinite_params = _model(lambda m: m.update(params=float("inf")))
revision_dotdot = _model(lambda m: m.update(revision=".."))
html_model_id = _model(lambda m: m.update(model_id=INJECTION))


def symlinked_results(dst: Path, runs: Runs) -> None:
    """results.json is a link to a valid results.json outside the submissions folder."""
    copy_run(runs.honest, dst)
    (dst / "results.json").unlink()
    os.symlink(runs.honest / "results.json", dst / "results.json")


def symlinked_samples(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    (dst / "samples_scmmlu.jsonl").unlink()
    os.symlink(runs.honest / "samples_scmmlu.jsonl", dst / "samples_scmmlu.jsonl")


def symlinked_folder(dst: Path, runs: Runs) -> None:
    """The submission folder itself is a link to a folder elsewhere on the machine."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(runs.honest, dst, target_is_directory=True)


def inconsistent_mean_nll(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    path = dst / "samples_scmmlu.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["mean_nll"] += 1.0
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def no_degradation(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    edit_results(dst, lambda data: data["results"]["scmmlu"].pop("degradation"))


def inflated_windowed_clips(dst: Path, runs: Runs) -> None:
    """More clips "scored over several windows" than items scored (the count is taken as reported)."""
    copy_run(runs.honest, dst)
    edit_results(dst, lambda data: data["results"]["scmmlu"]["settings"]["audio"].update(n_windowed_clips=999))


def no_overall(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    edit_results(dst, lambda data: data.pop("overall"))


def zero_items(dst: Path, runs: Runs) -> None:
    """Every samples file emptied and the metrics recomputed from nothing."""
    copy_run(runs.honest, dst)
    for task_id in ("sstorycloze", "scmmlu"):
        (dst / f"samples_{task_id}.jsonl").write_text("", encoding="utf-8")
    recompute(dst)


def million_items(dst: Path, runs: Runs) -> None:
    """A samples file of 10^6 records (written cheaply: one short line repeated)."""
    copy_run(runs.honest, dst)
    line = '{"task": "scmmlu"}\n'  # 19 MB: under the size limit, so the record count must stop it
    (dst / "samples_scmmlu.jsonl").write_text(line * 1_000_000, encoding="utf-8")


def deep_nesting(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    depth = 100_000
    text = (dst / "results.json").read_text(encoding="utf-8")
    (dst / "results.json").write_text(
        text.rstrip().rstrip("}") + ', "x": ' + "[" * depth + "]" * depth + "}", encoding="utf-8"
    )


def huge_samples(dst: Path, runs: Runs) -> None:
    """A 100 MB samples file (sparse: it costs no disk and is never read)."""
    copy_run(runs.honest, dst)
    with open(dst / "samples_sstorycloze.jsonl", "r+b") as handle:
        handle.truncate(100 << 20)


def duplicate_keys(dst: Path, runs: Runs) -> None:
    """``overall`` twice: a reader that keeps the last one sees other numbers than one that keeps the first."""
    copy_run(runs.honest, dst)
    text = (dst / "results.json").read_text(encoding="utf-8").rstrip()
    (dst / "results.json").write_text(
        text[:-1] + ', "overall": {"settings": {"audio": {"accuracy": 0.99}}}}', encoding="utf-8"
    )


ATTACKS: dict[str, tuple[Callable[[Path, Runs], None], str, str]] = {
    "fabricated_audio": (fabricated_audio, "invalid", "settings.audio is present but config.settings does not list"),
    "cherry_picked": (cherry_picked, "invalid", "n_failed is missing"),
    "cherry_picked_with_count": (cherry_picked_with_count, "other", "item errors the dataset does not explain"),
    "other_hub_dataset": (other_hub_dataset, "other", "other data: attacker/s2sbench"),
    "local_dataset": (local_dataset, "invalid", "is not a Hub dataset id or 'samples'"),
    "root_dataset": (root_dataset, "invalid", "is not a Hub dataset id or 'samples'"),
    "huge_parameters": (huge_parameters, "invalid", "model.num_parameters"),
    "infinite_params": (infinite_params, "invalid", "model.params is not a key"),
    "revision_dotdot": (revision_dotdot, "invalid", "not a valid git revision"),
    "html_model_id": (html_model_id, "invalid", "control character U+000D"),
    "symlinked_results": (symlinked_results, "invalid", "results.json is a symbolic link"),
    "symlinked_samples": (symlinked_samples, "invalid", "samples_scmmlu.jsonl is a symbolic link"),
    "symlinked_folder": (symlinked_folder, "invalid", "folder is a symbolic link"),
    "inconsistent_mean_nll": (inconsistent_mean_nll, "invalid", "mean_nll="),
    "no_degradation": (no_degradation, "invalid", "results.scmmlu.degradation is missing"),
    "inflated_windowed_clips": (inflated_windowed_clips, "invalid", "n_windowed_clips is 999, not a count"),
    "no_overall": (no_overall, "invalid", "overall is missing"),
    "zero_items": (zero_items, "invalid", "no item was scored"),
    "million_items": (million_items, "invalid", "the rest of the file was not read"),
    "deep_nesting": (deep_nesting, "invalid", "nested too deeply"),
    "huge_samples": (huge_samples, "invalid", "104,857,600 bytes"),
    "duplicate_keys": (duplicate_keys, "invalid", "'overall' appears twice"),
}
