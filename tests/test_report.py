"""Reference-format import (`s2sbench score`) with the reference tie rules, and the markdown/HTML reports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from s2sbench_hf import reference, results, tables
from s2sbench_hf.cli import main
from s2sbench_hf.options import SummaryOptions
from s2sbench_hf.render import escape_markdown

# --------------------------------------------------------------- hand-made reference files
#
# Story rows are written out of order, with string uttids, so that the reader has to
# pair by the integer before the first "_" of the uttid as the reference scripts read it; several pairs tie.

STORY_LOSSES = {  # pair k -> (plausible loss, implausible loss) per setting
    "text": [(1.0, 2.0), (2.0, 2.0), (3.0, 1.5), (0.5, 0.5), (1.25, 1.5)],
    "audio": [(2.0, 2.0), (2.5, 1.0), (1.0, 1.0), (0.5, 0.75), (2.0, 1.0)],
}
SCMMLU = [  # (answer letter, {setting: losses A-D})
    ("B", {"text": [2.0, 1.0, 1.0, 3.0], "audio": [1.0, 1.0, 1.0, 1.0]}),
    ("A", {"text": [1.5, 1.0, 2.0, 2.5], "audio": [2.0, 3.0, 2.0, 1.0]}),
    ("D", {"text": [1.0, 2.0, 3.0, 0.5], "audio": [0.5, 2.0, 3.0, 0.5]}),
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _result_row(uttid, key, loss):
    return {"uttid": uttid, "key": key, "loss": [loss], "ppl": [2.718281828**loss]}


@pytest.fixture
def reference_dir(tmp_path):
    root = tmp_path / "baichuan-audio-results"
    data, res = [], {"text": [], "audio": []}
    for k in range(len(STORY_LOSSES["text"])):
        for offset, ending in ((0, "plausible"), (1, "implausible")):
            uttid = f"{2 * k + offset:04d}_sc"
            data.append({"uttid": uttid, "first": f"story {k}", "last": f"{ending} {k}"})
            for s in res:
                res[s].append(_result_row(uttid, None, STORY_LOSSES[s][k][offset]))
    _jsonl(root / "sstorycloze" / "data.jsonl", data[::-1])
    for s, rows in res.items():
        _jsonl(root / "sstorycloze" / s / "result.jsonl", rows[3:] + rows[:3])
    data, res = [], {"text": [], "audio": []}
    for n, (answer, losses) in enumerate(SCMMLU):
        data.append({"uttid": n, "first": f"question {n}", "A": "a", "B": "b", "C": "c", "D": "d", "answer": answer})
        for s in res:
            res[s] += [_result_row(n, letter, loss) for letter, loss in zip("ABCD", losses[s], strict=True)]
    _jsonl(root / "scmmlu" / "data.jsonl", data)
    for s, rows in res.items():
        _jsonl(root / "scmmlu" / s / "result.jsonl", rows[::-1])
    return root


def reference_story_accuracy(losses):
    """The reference story rule: the plausible (even) row must have the strictly lower loss."""
    return sum(good < bad for good, bad in losses) / len(losses)


def reference_scmmlu_accuracy(items, setting):
    """The reference sCMMLU rule: every (answer, distractor) pair, a tie counts as right (<=)."""
    wins = total = 0
    for answer, losses in items:
        a = "ABCD".index(answer)
        for j, loss in enumerate(losses[setting]):
            if j != a:
                wins += losses[setting][a] <= loss
                total += 1
    return wins / total


def test_reference_import_gives_the_reference_rules_accuracy_with_ties(reference_dir, tmp_path, capsys):
    out = tmp_path / "scored"
    assert (
        main(
            [
                "score",
                "--reference",
                str(reference_dir),
                "--bootstrap",
                "100",
                "--model",
                "Baichuan-Audio",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert "sstorycloze" in capsys.readouterr().out
    res = results.read_results(out)
    assert res["model"] == {"adapter": "reference-import", "model_id": "Baichuan-Audio", "revision": None}
    story, mmlu = res["results"]["sstorycloze"], res["results"]["scmmlu"]
    assert story["n_items"] == 5 and mmlu["n_items"] == 3 and res["errors"] == []
    for s in ("text", "audio"):
        assert story["settings"][s]["accuracy"] == reference_story_accuracy(STORY_LOSSES[s])
        assert mmlu["settings"][s]["accuracy"] == reference_scmmlu_accuracy(SCMMLU, s)
    # the ties decide: 2 of 5 text story pairs and 5 of 9 audio sCMMLU comparisons are ties
    assert story["settings"]["text"]["accuracy"] == 0.4
    assert mmlu["settings"]["audio"]["accuracy"] == pytest.approx(8 / 9)
    assert story["degradation"]["gap"] == pytest.approx(0.4 - 0.2)
    assert story["settings"]["text"]["answer_loss"] == pytest.approx(sum(g for g, _ in STORY_LOSSES["text"]) / 5)

    # half credit for ties on request
    half = reference.score_reference(
        reference.find_reference_files(reference_dir), summary=SummaryOptions(tie_policy="half", n_bootstrap=50)
    )
    assert half["results"]["sstorycloze"]["settings"]["text"]["accuracy"] == pytest.approx((2 + 0.5 * 2) / 5)


def test_explicit_files_and_story_pairs_without_data(reference_dir, tmp_path):
    task_dir = reference_dir / "scmmlu"
    out = tmp_path / "explicit"
    assert (
        main(
            [
                "score",
                "--task",
                "scmmlu",
                "--text",
                str(task_dir / "text" / "result.jsonl"),
                "--audio",
                str(task_dir / "audio" / "result.jsonl"),
                "--data",
                str(task_dir / "data.jsonl"),
                "--bootstrap",
                "100",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    from_dir = reference.score_reference(
        reference.find_reference_files(reference_dir, ["scmmlu"]), summary=SummaryOptions(n_bootstrap=100)
    )
    assert results.read_results(out)["results"] == from_dir["results"]

    story = reference_dir / "sstorycloze"
    files = reference.ReferenceFiles("sstorycloze", {s: story / s / "result.jsonl" for s in ("text", "audio")})
    no_data = reference.score_reference([files], summary=SummaryOptions(n_bootstrap=50))["results"]["sstorycloze"]
    assert no_data["settings"]["text"]["accuracy"] == reference_story_accuracy(STORY_LOSSES["text"])

    with pytest.raises(reference.ReferenceFormatError, match="answers are in the data file"):
        reference.load_reference_task(reference.ReferenceFiles("scmmlu", {"text": task_dir / "text" / "result.jsonl"}))


def test_a_missing_row_costs_only_its_item(reference_dir, tmp_path):
    path = reference_dir / "scmmlu" / "audio" / "result.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    _jsonl(path, [r for r in rows if not (r["uttid"] == 1 and r["key"] == "C")])
    res = reference.score_reference(
        reference.find_reference_files(reference_dir, ["scmmlu"]), summary=SummaryOptions(n_bootstrap=50)
    )
    assert res["results"]["scmmlu"]["n_items"] == 2
    (error,) = res["errors"]
    assert error["item_id"] == "1" and "uttid '1' key 'C'" in error["problem"]


def test_our_reference_export_reads_back_to_the_same_numbers(cli_run, tmp_path):
    assert main(["score", "--reference", str(cli_run), "--bootstrap", "100", "--output", str(tmp_path)]) == 0
    imported, ran = results.read_results(tmp_path), results.read_results(cli_run)
    for task_id, m in ran["results"].items():
        for entry in m["settings"].values():  # the windows a clip took are known to a model run only
            assert entry.pop("n_windowed_clips") == 0
        assert imported["results"][task_id] == m  # n_failed included: nothing failed
    assert imported["overall"] == ran["overall"]


def _body(dom: str) -> str:
    return re.search(r"<body[^>]*>", dom).group(0)


def test_run_report_is_self_contained_and_renders_in_chromium(cli_run, tmp_path):
    from browser import render_dom, require_chromium

    run = shutil.copytree(cli_run, tmp_path / "run")  # the report is written into the run folder
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "| task | items | text acc % [95% CI] |" in md and "](plots/accuracy.png)" in md
    assert (run / "plots" / "accuracy.png").is_file()
    page = (run / "report.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page
    assert not re.search(r"""(src|href)=["']?(https?:|//|plots/)""", page), "the page must need no other file"

    require_chromium()
    dom = render_dom(run / "report.html")
    assert 'data-images-loaded="true"' in _body(dom) and 'data-image-count="1"' in _body(dom)
    table = dom[dom.index("<table") : dom.index("</table>")]
    assert "text acc % [95% CI]" in table and ">sstorycloze<" in table and ">scmmlu<" in table


def test_the_report_shows_what_the_run_ran_on(cli_run, tmp_path):
    """Versions, commit, hardware and command as recorded; text from the file stays text in both formats."""
    run = shutil.copytree(cli_run, tmp_path / "run")
    data = results.read_results(run)
    env = data["environment"]
    env["command"] = "s2sbench run --model '<b>x</b> [link](https://example.com)'"
    (run / "results.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", str(run)]) == 0
    md = (run / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## Environment") :]
    for label, value in [("torch ", env["torch"]), ("numpy ", env["packages"]["numpy"]), ("Command: ", env["command"])]:
        assert label + escape_markdown(value) in section, section
    assert f"git commit {env['git_commit']}" in section and f"({env['hardware']['cpu_count']} logical)" in section
    assert "<b>" not in section and "](https" not in section
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "Environment" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_compare_sets_models_side_by_side(cli_run, tmp_path):
    from browser import render_dom, require_chromium

    imported = tmp_path / "imported"
    assert (
        main(
            [
                "score",
                "--reference",
                str(cli_run),
                "--bootstrap",
                "100",
                "--model",
                "same-model-imported",
                "--output",
                str(imported),
            ]
        )
        == 0
    )
    out = tmp_path / "compare"
    assert (
        main(
            [
                "report",
                "--compare",
                str(cli_run),
                str(imported),
                "--names",
                "tiny",
                "tiny-imported",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    _header, rows = tables.compare_table({"a": results.read_results(cli_run), "b": results.read_results(imported)})
    assert [r[:2] for r in rows] == [
        ["a", "sstorycloze"],
        ["a", "scmmlu"],
        ["a", "average"],
        ["b", "sstorycloze"],
        ["b", "scmmlu"],
        ["b", "average"],
    ]
    assert rows[0][3:] == rows[3][3:]  # the same numbers through both paths
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| tiny | sstorycloze |" in md and "| tiny-imported | scmmlu |" in md

    require_chromium()
    dom = render_dom(out / "report.html")
    assert 'data-images-loaded="true"' in _body(dom)
    assert dom.count("<tr>") == 1 + 6


def test_report_of_a_folder_without_results_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "has no results.json" in capsys.readouterr().err
