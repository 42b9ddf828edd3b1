"""Issues 12 and 20: every way to game, crash or abuse the board is rejected or kept off the ranking, with its
reason, and no submission can break what the board publishes.

One test per attack (`attack_cases.ATTACKS`), then the board with all of them
at once: it renders, and the honest submissions' rows are exactly what they
are without the attacks. A build that fails leaves the published board
byte for byte as it was. The board's speed with these inputs is measured by
``benchmarks/bench_leaderboard.py`` (no timing is asserted here).
"""

from __future__ import annotations

import json
import os
import time
from html.parser import HTMLParser

import pytest
from attack_cases import (
    ATTACKS,
    INJECTION,
    SURROGATE,
    Runs,
    cherry_picked_with_count,
    copy_run,
    edit_results,
    limit_2,
    make_runs,
    one_task,
    recompute,
    surrogate_model_id,
)
from markdown_it import MarkdownIt

from s2sbench_hf import files, hub, leaderboard
from s2sbench_hf.cli import main
from s2sbench_hf.results import read_samples, write_samples
from s2sbench_hf.validate import DatasetResolver


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    return make_runs(tmp_path_factory.mktemp("attack-runs"))


def _folder(root, name):
    return root / hub.SUBMISSIONS_DIR / name / "rev"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_each_attack_is_rejected_or_kept_off_the_ranking(name, runs, tmp_path):
    build, place, reasons = ATTACKS[name]
    build(_folder(tmp_path, name), runs)
    board = leaderboard.build_board(tmp_path, accepted=["samples"])
    assert board.ranked == []
    (sub,) = board.invalid if place == "invalid" else board.group(place)
    text = " ".join(str(p) for p in sub.report.problems) if place == "invalid" else "; ".join(sub.reasons)
    assert all(reason in text for reason in reasons), text
    paths = leaderboard.write_board(board, tmp_path / "out")  # never crashes; every file whole and readable
    assert len(json.loads(paths["json"].read_text(encoding="utf-8"))[place]) == 1


def test_cherry_picking_would_win_but_is_not_ranked(runs, tmp_path):
    """Dropping the wrong items raises audio accuracy; item errors the dataset does not explain keep it off."""
    cherry_picked_with_count(_folder(tmp_path, "picked"), runs)
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    board = leaderboard.build_board(tmp_path, accepted=["samples"])
    (honest,), (picked,) = board.ranked, board.other
    assert picked.value("audio_accuracy") > honest.value("audio_accuracy")
    assert picked.failed > 0 and honest.failed == 0


def test_items_the_dataset_makes_unscorable_may_be_left_out(runs, tmp_path):
    """An item whose audio the dataset lacks: listed as an error, ranked, and the count shown next to its numbers."""
    folder = copy_run(runs.honest, _folder(tmp_path, "gap"))
    resolver = DatasetResolver(may_load=lambda source, revision: source == "samples")
    loaded = resolver.load("sstorycloze", "samples", None, None)
    broken = loaded.items[2]
    broken.audio = None  # this dataset item has no speech
    write_samples(
        folder, "sstorycloze", [r for r in read_samples(folder / "samples_sstorycloze.jsonl") if r.item_id != broken.id]
    )
    recompute(folder, ["sstorycloze"])
    edit_results(
        folder,
        lambda data: data["errors"].append(
            {"task": "sstorycloze", "item_id": broken.id, "problem": "it has no context audio", "fix": "-"}
        ),
    )
    board = leaderboard.build_board(tmp_path, accepted=["samples"], resolver=resolver)
    (sub,) = board.ranked
    assert sub.failed == 1 and not sub.reasons
    headers, (row,) = leaderboard.board_table(board)
    assert row[headers.index("failed items")] == "1"


def test_the_default_board_ranks_only_the_official_release(runs, tmp_path, monkeypatch):
    """Runs on the sample sets or an attacker's dataset are other data; no dataset but the accepted one is loaded."""
    from s2sbench_hf.data import sources

    loaded = []
    monkeypatch.setattr(sources, "load_task", lambda *args, **kwargs: loaded.append(args) or pytest.fail("loaded"))
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    ATTACKS["other_hub_dataset"][0](_folder(tmp_path, "other"), runs)
    board = leaderboard.build_board(tmp_path)
    assert board.ranked == [] and len(board.other) == 2 and loaded == []
    reasons = sorted("; ".join(s.reasons) for s in board.other)
    assert reasons[0].startswith("other data: attacker/s2sbench (this board ranks runs on undobug/S2SBench)")
    assert reasons[1].startswith("other data: samples")
    text = leaderboard.render_markdown(board)
    assert "## Other data and unranked runs (not ranked)" in text and "0 ranked by audio_accuracy" in text


def test_paths_never_escape(runs, tmp_path, capsys):
    """Revision '..' is refused by validate, submit and the planner; a planned path is proven to stay inside."""
    bad = copy_run(runs.honest, tmp_path / "run")
    edit_results(bad, lambda data: data["model"].update(revision=".."))
    assert main(["submit", str(bad), "--repo", "org/results", "--dry-run"]) == 1
    assert "submissions/" not in capsys.readouterr().out
    with pytest.raises(hub.HubError, match="revision"):
        hub.plan_submission(bad, "org/results")
    edit_results(
        bad,
        lambda data: data["model"].update(
            revision=None, model_id="../../etc", content_hash="sha256:" + "0123456789abcdef" * 4
        ),
    )
    plan = hub.plan_submission(bad, "org/results")
    assert {f.path_in_repo.split("/")[1] for f in plan.files} == {"local__etc"}
    (bad / "samples_scmmlu.jsonl").unlink()
    os.symlink(runs.honest / "samples_scmmlu.jsonl", bad / "samples_scmmlu.jsonl")
    with pytest.raises(hub.HubError, match="symbolic link"):
        hub.plan_submission(bad, "org/results")


def _tokens(tokens):
    for token in tokens:
        yield token
        yield from _tokens(token.children or [])


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_no_element_of_the_board_comes_from_a_submission(runs, tmp_path):
    """leaderboard.md rendered with HTML and linkify on, and index.html parsed: only the board's own elements."""
    ATTACKS["html_model_id"][0](_folder(tmp_path, "injected-model"), runs)
    ATTACKS["revision_dotdot"][0](tmp_path / hub.SUBMISSIONS_DIR / INJECTION.replace("/", " ") / "rev", runs)
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    board = leaderboard.build_board(tmp_path, accepted=["samples"])
    assert len(board.ranked) == 1 and len(board.invalid) == 2
    paths = leaderboard.write_board(board, tmp_path / "out")

    md = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["table", "linkify", "strikethrough"])
    tokens = list(_tokens(md.parse(paths["markdown"].read_text(encoding="utf-8"))))
    kinds = {t.type for t in tokens}
    assert not kinds & {
        "html_inline",
        "html_block",
        "link_open",
        "em_open",
        "strong_open",
        "s_open",
        "code_inline",
        "hardbreak",
    }
    assert [t.attrGet("src") for t in tokens if t.type == "image"] == ["scatter.png"]
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 2 + 3  # header + 1 ranked; header + 2 failed: the '\r' broke no row
    assert "<script>" in "".join(t.content for t in tokens if t.type == "text")  # shown as text, not run

    page = paths["html"].read_text(encoding="utf-8")
    tags = _Tags()
    tags.feed(page)
    assert [t for t, _ in tags.tags if t in ("script", "img", "a", "iframe", "em")] == ["img", "script"]
    assert "&lt;script&gt;alert(1)" in page


def test_the_board_survives_every_attack_at_once(runs, tmp_path, capsys):
    honest_root, attacked_root = tmp_path / "honest", tmp_path / "attacked"
    for root in (honest_root, attacked_root):
        copy_run(runs.honest, _folder(root, "acme__honest"))
        copy_run(runs.text_only, _folder(root, "acme__texty"))
    for name, (build, _, _) in ATTACKS.items():
        build(_folder(attacked_root, name), runs)
    honest = leaderboard.build_board(honest_root, accepted=["samples"])
    started = time.perf_counter()
    attacked = leaderboard.build_board(attacked_root, accepted=["samples"])
    paths = leaderboard.write_board(attacked, tmp_path / "out")
    seconds = time.perf_counter() - started
    assert leaderboard.board_table(attacked) == leaderboard.board_table(honest)
    assert len(attacked.ranked) == 2
    placed = {
        name: len(attacked.invalid if name == "invalid" else attacked.group(name))
        for name in ("invalid", "other", "partial")
    }
    assert placed == {name: sum(a.place == name for a in ATTACKS.values()) for name in placed}
    assert json.loads(paths["json"].read_text())["ranked"] == json.loads(
        json.dumps(leaderboard.board_json(honest)["ranked"])
    )
    with capsys.disabled():
        print(f"\n[board with {len(ATTACKS)} attacks + 2 honest submissions: built and written in {seconds:.2f} s]")


def test_partial_runs_are_never_ranked_above_complete_ones(runs, tmp_path):
    """One task and --limit 2 (issue 20 ranked them #1 and #3): a table of their own, after the ranked one."""
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    one_task(_folder(tmp_path, "one-task"), runs)
    limit_2(_folder(tmp_path, "limit-2"), runs)
    board = leaderboard.build_board(tmp_path, accepted=["samples"])
    assert [s.path for s in board.ranked] == ["submissions/honest/rev"]
    assert sorted(s.path for s in board.partial) == ["submissions/limit-2/rev", "submissions/one-task/rev"]
    assert all(s.rank is None for s in board.partial)
    paths = leaderboard.write_board(board, tmp_path / "out")
    text = paths["markdown"].read_text(encoding="utf-8")
    assert text.index("acme/honest") < text.index("## Partial runs") < text.index("--limit 2 scored")
    page = paths["html"].read_text(encoding="utf-8")
    assert page.index('<table id="board"') < page.index('<table id="partial"')
    assert page.count('data-path="submissions/honest/rev"') == 1
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [r["path"] for r in data["ranked"]] == ["submissions/honest/rev"] and len(data["partial"]) == 2


def _published(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_surrogate_leaves_the_board_building_and_its_files_whole(runs, tmp_path, capsys):
    """Issue 20: a model id "tiny\\udcff" (legal JSON) made `s2sbench leaderboard` die and truncate leaderboard.md."""
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    surrogate_model_id(_folder(tmp_path, "surrogate"), runs)
    out = tmp_path / "out"
    for _ in range(2):  # the second build replaces the first one's files
        assert (
            main(["leaderboard", str(tmp_path / hub.SUBMISSIONS_DIR), "--output", str(out), "--accept", "samples"]) == 0
        )
    assert "1 failed validation" in capsys.readouterr().out
    files = _published(out)
    assert sorted(files) == ["index.html", "leaderboard.json", "leaderboard.md", "scatter.png"]  # no temporary file
    texts = {name: data.decode("utf-8") for name, data in files.items() if name != "scatter.png"}
    assert "tiny\\\\udcff" in texts["leaderboard.md"]  # the escape, as literal markdown text
    assert 'data-model="tiny\\udcff"' in texts["index.html"]
    (failed,) = json.loads(texts["leaderboard.json"])["invalid"]
    assert failed["model"] == "tiny\\udcff" and [
        r["model"] for r in json.loads(texts["leaderboard.json"])["ranked"]
    ] == ["acme/honest"]


def test_a_failed_build_leaves_the_published_board_byte_identical(runs, tmp_path, monkeypatch):
    copy_run(runs.honest, _folder(tmp_path, "honest"))
    out = tmp_path / "out"
    before = _published(
        leaderboard.write_board(leaderboard.build_board(tmp_path, accepted=["samples"]), out)["markdown"].parent
    )
    limit_2(_folder(tmp_path, "limit-2"), runs)
    board = leaderboard.build_board(tmp_path, accepted=["samples"])

    def broken(*args, **kwargs):
        raise RuntimeError("the page could not be rendered")

    monkeypatch.setattr(leaderboard, "render_html", broken)  # rendered after the markdown and the plot
    with pytest.raises(RuntimeError, match="could not be rendered"):
        leaderboard.write_board(board, out)
    assert _published(out) == before
    monkeypatch.undo()
    assert _published(leaderboard.write_board(board, out)["markdown"].parent) != before  # the new board, once it builds


def test_a_formula_in_a_ranked_name_is_not_typeset(runs, tmp_path):
    """A local model's folder name is free text: matplotlib would parse "$...$" as TeX and fail on a bad one."""
    folder = copy_run(runs.honest, _folder(tmp_path, "tex"))
    name = "/models/x$^{a$"
    edit_results(
        folder,
        lambda data: (
            data["model"].update(model_id=name, revision=None, content_hash="sha256:" + "ab" * 32),
            data["config"].update(model=name),
        ),
    )
    board = leaderboard.build_board(tmp_path, accepted=["samples"])
    assert [s.name for s in board.ranked] == ["x$^{a$"], [str(p) for s in board.invalid for p in s.report.problems]
    assert leaderboard.scatter_png(board)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_draws_a_model_id_that_looks_like_tex(runs, tmp_path):
    """matplotlib read "$...$" in a plot title as a formula and failed on ``x$^{a$``: plots take text literally."""
    folder = copy_run(runs.honest, tmp_path / "run")
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    results["model"]["model_id"] = "x$^{a$"
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    assert main(["report", str(folder), "--output", str(tmp_path / "report")]) == 0
    assert "x$^{a$" in files.plain((tmp_path / "report" / "report.html").read_text(encoding="utf-8"))


def test_a_report_shows_a_hostile_model_id_as_text(runs, tmp_path):
    """Issue 20: `s2sbench report` wrote the raw model id (HTML included) into report.md; it uses the board's rule."""
    folder = copy_run(runs.honest, tmp_path / "run")
    hostile = INJECTION + " tiny" + SURROGATE
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    results["model"]["model_id"] = hostile
    (folder / "results.json").write_text(json.dumps(results), encoding="ascii")  # the surrogate as its escape
    assert main(["report", str(folder), "--output", str(tmp_path / "report")]) == 0
    md = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["table", "linkify", "strikethrough"])
    tokens = list(_tokens(md.parse((tmp_path / "report" / "report.md").read_text(encoding="utf-8"))))
    assert not {t.type for t in tokens} & {"html_inline", "html_block", "link_open", "s_open", "code_inline"}
    emphasis = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "em_open"]
    assert emphasis == ["Bars: accuracy with 95% intervals; dotted: chance."]  # the report's own caption only
    title = next(
        "".join(c.content for c in tokens[i + 1].children) for i, t in enumerate(tokens) if t.type == "heading_open"
    )
    assert title == "S2SBench report: " + files.plain(hostile)  # shown literally, the surrogate as "\udcff"
    tags = _Tags()
    tags.feed((tmp_path / "report" / "report.html").read_text(encoding="utf-8"))
    assert [t for t, _ in tags.tags if t in ("script", "img", "a", "iframe", "em")] == ["img", "script"]
