"""Submissions crafted as an attacker would (issues 7, 12 and 20), for the attack tests and the board benchmark.

Each attack starts from an honest, complete run folder (`make_runs`: every task,
every item of the bundled sample sets, which the tests' boards accept) and
writes one submission folder. `ATTACKS` maps a name to an `Attack`: the builder,
where the board must put the submission (``invalid``, ``other`` or ``partial``:
never ranked) and the texts its reason must contain.

* issue 7, direct edits: a changed accuracy, fingerprint, dropped or duplicated
  record, swapped settings;
* issue 12: fabricated numbers, cherry-picking, other data, paths, links and
  markup, oversized and malformed files, deleted blocks, inconsistent records;
* issue 20: strings no encoder writes (a lone surrogate in a model id or an item
  id, a folder name that is not UTF-8), partial runs (one task, ``--limit``),
  records no model can produce (a negative or non-finite NLL, zero tokens).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from fake_runs import make_run

from s2sbench_hf import metrics
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.results import read_samples, write_samples
from s2sbench_hf.scoring.interface import Record
from s2sbench_hf.tasks import TASKS, get_task

INJECTION = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](https:evil.example) "
    "![t](https:evil.example/t.png) *em* _u_ ~~s~~ `c` www.evil.example a@evil.example &lt; \r| row"
)
"""Text that would become HTML, a link, an image, emphasis or a broken row if a board printed it raw."""


@dataclass(frozen=True)
class Runs:
    honest: Path
    """A valid, complete run in both settings (the model prefers answers in text more than in audio)."""
    text_only: Path
    """A valid, complete run in the text setting only."""


def make_runs(base: Path) -> Runs:
    """The two honest runs the attacks start from: every task, every item of the bundled sample sets."""
    complete = {"tasks": tuple(TASKS), "limit": None}
    return Runs(
        honest=make_run(base / "honest", "acme/honest", text=0.9, audio=0.6, revision="a" * 40, **complete),
        text_only=make_run(
            base / "text", "acme/texty", text=0.9, audio=0.6, revision="b" * 40, settings=("text",), **complete
        ),
    )


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


# ---------------------------------------------------------------- issue 7: direct edits


def tampered_accuracy(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    edit_results(dst, lambda data: data["results"]["scmmlu"]["settings"]["audio"].update(accuracy=0.99))


def wrong_fingerprint(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    edit_results(dst, lambda data: data["datasets"]["scmmlu"].update(fingerprint="0" * 16))


def _edit_samples(dst: Path, task_id: str, edit: Callable[[list[dict]], list[dict]]) -> None:
    """Rewrite a samples file with ``edit(rows)`` (JSON as Python writes it: NaN included)."""
    path = dst / f"samples_{task_id}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in edit(rows)), encoding="utf-8")


def dropped_item(dst: Path, runs: Runs) -> None:
    """Every record of one item removed, nothing else changed."""
    copy_run(runs.honest, dst)
    _edit_samples(dst, "scmmlu", lambda rows: [r for r in rows if r["item_id"] != "scmmlu-002"])


def duplicated_record(dst: Path, runs: Runs) -> None:
    """The first record again in place of the last (one more line would exceed the records a run can have)."""
    copy_run(runs.honest, dst)
    _edit_samples(dst, "scmmlu", lambda rows: [*rows[:-1], rows[0]])


def swapped_settings(dst: Path, runs: Runs) -> None:
    """The text and audio records exchanged: the better text scores claimed for audio."""
    copy_run(runs.honest, dst)
    swap = {"text": "audio", "audio": "text"}
    _edit_samples(dst, "sstorycloze", lambda rows: [{**r, "setting": swap[r["setting"]]} for r in rows])


# --------------------------------------------------- issue 20: records no model produces


RECORD_ITEM = "scmmlu-001"
"""The item whose audio answer record the record attacks change (the first item of the sample sCMMLU)."""


def _record(edit: Callable[[dict], None], recomputed: bool) -> Callable[[Path, Runs], None]:
    """An attack on the audio answer record of `RECORD_ITEM`; ``recomputed``: results.json made to agree."""

    def build(dst: Path, runs: Runs) -> None:
        copy_run(runs.honest, dst)

        def edit_rows(rows: list[dict]) -> list[dict]:
            for r in rows:
                if r["item_id"] == RECORD_ITEM and r["setting"] == "audio" and r["is_answer"]:
                    edit(r)
            return rows

        _edit_samples(dst, "scmmlu", edit_rows)
        if recomputed:
            recompute(dst, ["scmmlu"])

    return build


def _negative(record: dict) -> None:
    """A negative NLL, with mean_nll and ppl consistent with it: the answer wins by a mile."""
    record["nll_sum"] = -abs(record["nll_sum"])
    record["mean_nll"] = record["nll_sum"] / record["n_tokens"]
    record["ppl"] = math.exp(record["mean_nll"])


negative_nll = _record(_negative, recomputed=True)
zero_tokens = _record(lambda r: r.update(n_tokens=0), recomputed=False)
nan_nll = _record(lambda r: r.update(nll_sum=float("nan")), recomputed=False)
inconsistent_ppl = _record(lambda r: r.update(ppl=2 * r["ppl"]), recomputed=False)


# ------------------------------------------------------------------ issue 20: partial runs


def one_task(dst: Path, runs: Runs) -> None:
    """An honest run of sCMMLU alone (its own metrics and overall, consistent): a subset of the benchmark."""
    copy_run(runs.honest, dst)
    dropped = [t for t in TASKS if t != "scmmlu"]
    for task_id in dropped:
        (dst / f"samples_{task_id}.jsonl").unlink()

    def edit(data):
        data["config"]["tasks"] = ["scmmlu"]
        for task_id in dropped:
            del data["datasets"][task_id], data["results"][task_id], data["config"]["framing"][task_id]

    edit_results(dst, edit)
    recompute(dst)


def limit_2(dst: Path, runs: Runs) -> None:
    """An honest ``--limit 2`` run: the first two items of every task."""
    copy_run(runs.honest, dst)
    for task_id in TASKS:
        first = {item.id for item in load_task(task_id, None, limit=2).items}
        records = read_samples(dst / f"samples_{task_id}.jsonl")
        write_samples(dst, task_id, [r for r in records if r.item_id in first])
    edit_results(dst, lambda data: data["config"].update(limit=2))
    recompute(dst)


# ------------------------------------------------- issue 20: strings no encoder writes


SURROGATE = "\udcff"
"""A lone surrogate: legal in JSON as the escape ``\\udcff``, pure ASCII in the file, not encodable as UTF-8."""


HOSTILE_TEXTS: tuple[str, ...] = (
    INJECTION,
    "tiny" + SURROGATE,
    INJECTION + " tiny" + SURROGATE,
    os.fsdecode(b"folder\xff"),  # a file name that is not UTF-8, as Python reads it
    "x$^{a$",  # TeX, for matplotlib
    "..",
    "/",
    "./my-easy-data",
    "../../etc",
    "attacker/s2sbench",
    '<img src=x onerror="document.title=1">**bold**',
    '<a href="javascript:alert(1)">x</a> javascript:alert(2) <svg onload=alert(3)>',
    "a | b\nc\r\nd\u2028e",  # a cell separator, line breaks
    "\\",
    "ends in \\",
    "\\| \\\\| |\\",  # backslashes next to a pipe
    "- item",
    "1. item",
    "# heading",
    "> quote",
    "    code",
    "---",
    "***",
    "```",
    "~~~ [^1]: note",
    "=",
    " padded ",
    "\t\u3000wide\xa0space\xa0",
    "\u202egnp.exe \u2066x\u2069 \x1b[31mred\x00",  # bidi overrides, a terminal escape, NUL
    "&amp; &#60; &lt; &",  # entities, already
    "{{ 7 * 7 }} {% raw %} {# c #}",  # template syntax
    "<!-- c --> ]]> <![CDATA[x]]> </td></tr></table>",
    "'\"` quotes",
    "a_b __init__ _x_ *y*",
    "中文 \U0001f600",
    "",
)
"""Every hostile string of this suite, and more of their kind: what a model id, a folder name, a revision or a
message may hold. `tests/test_render.py` renders each as markdown and HTML."""


def _ascii_json(folder: Path, name: str, text: str) -> None:
    """Write JSON text that holds a lone surrogate (as its ASCII escape, which any JSON parser reads back)."""
    (folder / name).write_text(text.encode("ascii", "backslashreplace").decode("ascii"), encoding="ascii")


def surrogate_model_id(dst: Path, runs: Runs) -> None:
    copy_run(runs.honest, dst)
    data = json.loads((dst / "results.json").read_text(encoding="utf-8"))
    data["model"]["model_id"] = data["config"]["model"] = "tiny" + SURROGATE
    _ascii_json(dst, "results.json", json.dumps(data, ensure_ascii=True, indent=2))


def surrogate_item_id(dst: Path, runs: Runs) -> None:
    """A record whose item id holds a lone surrogate: the problem that names it must render too."""
    copy_run(runs.honest, dst)
    lines = (dst / "samples_scmmlu.jsonl").read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    row["item_id"] += SURROGATE
    _ascii_json(dst, "samples_scmmlu.jsonl", "\n".join([json.dumps(row), *lines[1:]]) + "\n")


def non_utf8_folder(dst: Path, runs: Runs) -> None:
    """An honest run in a folder whose name ends in the byte 0xff: no Hub repo holds such a path."""
    copy_run(runs.honest, Path(os.fsdecode(os.fsencode(dst) + b"\xff")))


# ------------------------------------------- issue 24: a speech-LM score into S2SBench's ranking


def utterance_under_s2sbench_task(dst: Path, runs: Runs) -> None:
    """A speech-LM score under an S2SBench task id: sStoryCloze's audio records copied as ``utterance`` records (a
    speech-LM set's one setting), and results.json claiming a 99% utterance accuracy for ``sstorycloze``."""
    copy_run(runs.honest, dst)
    _edit_samples(dst, "sstorycloze", lambda rows: rows + [{**r, "setting": "utterance"} for r in rows])

    def edit(data):
        settings = data["results"]["sstorycloze"]["settings"]
        settings["utterance"] = {**settings["audio"], "accuracy": 0.99}

    edit_results(dst, edit)


class Attack(NamedTuple):
    build: Callable[[Path, Runs], None]
    place: str
    """Where the board puts it: ``invalid``, ``other`` or ``partial`` (never ranked)."""
    reasons: tuple[str, ...]
    """Texts its reason (the problems, or why it is not ranked) must contain."""


ATTACKS: dict[str, Attack] = {
    "fabricated_audio": Attack(
        fabricated_audio, "invalid", ("settings.audio is present but config.settings does not list",)
    ),
    "cherry_picked": Attack(cherry_picked, "invalid", ("n_failed is missing",)),
    "cherry_picked_with_count": Attack(
        cherry_picked_with_count, "other", ("item errors the dataset does not explain",)
    ),
    "other_hub_dataset": Attack(other_hub_dataset, "other", ("other data: attacker/s2sbench",)),
    "local_dataset": Attack(local_dataset, "invalid", ("is not a Hub dataset id or 'samples'",)),
    "root_dataset": Attack(root_dataset, "invalid", ("is not a Hub dataset id or 'samples'",)),
    "huge_parameters": Attack(huge_parameters, "invalid", ("model.num_parameters",)),
    "infinite_params": Attack(infinite_params, "invalid", ("model.params is not a key",)),
    "revision_dotdot": Attack(revision_dotdot, "invalid", ("not a valid git revision",)),
    "html_model_id": Attack(html_model_id, "invalid", ("control character U+000D",)),
    "symlinked_results": Attack(symlinked_results, "invalid", ("results.json is a symbolic link",)),
    "symlinked_samples": Attack(symlinked_samples, "invalid", ("samples_scmmlu.jsonl is a symbolic link",)),
    "symlinked_folder": Attack(symlinked_folder, "invalid", ("folder is a symbolic link",)),
    "inconsistent_mean_nll": Attack(inconsistent_mean_nll, "invalid", ("mean_nll=",)),
    "no_degradation": Attack(no_degradation, "invalid", ("results.scmmlu.degradation is missing",)),
    "inflated_windowed_clips": Attack(inflated_windowed_clips, "invalid", ("n_windowed_clips is 999, not a count",)),
    "no_overall": Attack(no_overall, "invalid", ("overall is missing",)),
    "zero_items": Attack(zero_items, "invalid", ("no item was scored",)),
    "million_items": Attack(million_items, "invalid", ("the rest of the file was not read",)),
    "deep_nesting": Attack(deep_nesting, "invalid", ("nested too deeply",)),
    "huge_samples": Attack(huge_samples, "invalid", ("104,857,600 bytes",)),
    "duplicate_keys": Attack(duplicate_keys, "invalid", ("'overall' appears twice",)),
    "tampered_accuracy": Attack(
        tampered_accuracy, "invalid", ("results.scmmlu.settings.audio.accuracy is reported as 0.99",)
    ),
    "wrong_fingerprint": Attack(wrong_fingerprint, "invalid", ("datasets.scmmlu.fingerprint is",)),
    "dropped_item": Attack(dropped_item, "invalid", ("item 'scmmlu-002': no record for",)),
    "duplicated_record": Attack(duplicated_record, "invalid", ("is recorded twice",)),
    "swapped_settings": Attack(
        swapped_settings, "invalid", ("results.sstorycloze.settings.audio.accuracy is reported",)
    ),
    "negative_nll": Attack(negative_nll, "invalid", (f"item {RECORD_ITEM!r}", "nll_sum")),
    "zero_tokens": Attack(zero_tokens, "invalid", (f"item {RECORD_ITEM!r}", "n_tokens")),
    "nan_nll": Attack(nan_nll, "invalid", (f"item {RECORD_ITEM!r}", "nll_sum")),
    "inconsistent_ppl": Attack(inconsistent_ppl, "invalid", (f"item {RECORD_ITEM!r}", "ppl=")),
    "one_task": Attack(one_task, "partial", ("partial run: 1 of the 3 tasks (not sstorycloze, zh_sstorycloze)",)),
    "limit_2": Attack(limit_2, "partial", ("partial run: --limit 2",)),
    "surrogate_model_id": Attack(surrogate_model_id, "invalid", ("model.model_id", "tiny\\udcff")),
    "surrogate_item_id": Attack(surrogate_item_id, "invalid", ("samples_scmmlu.jsonl, line 1",)),
    "non_utf8_folder": Attack(non_utf8_folder, "invalid", ("not UTF-8",)),
    "utterance_under_s2sbench_task": Attack(utterance_under_s2sbench_task, "invalid", ("utterance",)),
}


# -- cheats that every number of the file agrees with: only a re-score (`validate --rerun`) catches them
# (tests/test_validate.py runs them through the re-score).


def faked_except_the_draw(folder: Path, keep: set[tuple[str, str]]) -> None:
    """Issue 20's cheat on a known re-score seed: every item but ``keep`` (the items that seed draws) faked
    consistently, the answer's NLL halved in both settings, results.json recomputed. Only a fresh draw catches it."""
    for path in sorted(folder.glob("samples_*.jsonl")):
        task_id, records = path.stem.removeprefix("samples_"), read_samples(path)
        faked = [
            replace(r, nll_sum=r.nll_sum / 2) if r.is_answer and (task_id, r.item_id) not in keep else r
            for r in records
        ]
        write_samples(folder, task_id, faked)
    recompute(folder)


def flipped_close_calls(folder: Path, answer: float, distractors: float = 1.0) -> set[tuple[str, str, str]]:
    """Issue 20's cheat: wherever it makes the answer win a comparison it lost (mean rule), the answer's NLL times
    ``answer`` and the distractors' times ``distractors``; results.json recomputed. Returns (task, item, setting)."""
    changed = set()
    for path in sorted(folder.glob("samples_*.jsonl")):
        task_id, records = path.stem.removeprefix("samples_"), read_samples(path)
        groups: dict[tuple[str, str], list[Record]] = {}
        for r in records:
            groups.setdefault((r.item_id, r.setting), []).append(r)
        for (item_id, setting), rs in groups.items():
            a = next(r.mean_nll for r in rs if r.is_answer)
            if any(a >= r.mean_nll and a * answer < r.mean_nll * distractors for r in rs if not r.is_answer):
                changed.add((task_id, item_id, setting))
        factor = {True: answer, False: distractors}
        moved = [
            replace(r, nll_sum=r.nll_sum * factor[r.is_answer]) if (task_id, r.item_id, r.setting) in changed else r
            for r in records
        ]
        write_samples(folder, task_id, moved)
    recompute(folder)
    return changed
