"""The board's speech-LM table (issue 24): the speech-LM sets ranked on their own, never mixed with S2SBench's ranking.

The speech-LM submissions are made from one honest, validated S2SBench run (`fake_runs.make_run`): its report gets
the speech-LM sets' recomputed utterance metrics and datasets (`speech_lm_report`), as validation reports them for a
run of those sets, so every placement rule is tested on the numbers the board reads; and one real run of a SALMon
subset on the fake ``slprl/SALMon`` goes through `build_board` end to end. A hostile model id goes through
the same escaping as S2SBench's rows, and an utterance setting under an S2SBench task id
(`attack_cases.utterance_under_s2sbench_task`) is refused by validation and ignored by the board.
"""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from attack_cases import ATTACKS, INJECTION, make_runs
from fake_runs import make_run
from markdown_it import MarkdownIt
from test_leaderboard import _render_dom
from test_speech_lm_data import fake_salmon, hub_cache  # noqa: F401  (hub_cache: a fixture)

from s2sbench_hf import hub, leaderboard
from s2sbench_hf.files import plain
from s2sbench_hf.leaderboard import (
    OFFICIAL_SPEECH_LM_DATASETS,
    SPEECH_LM,
    SPEECH_LM_COLUMNS,
    SPEECH_LM_SETS,
    AcceptedDataset,
    Board,
    Submission,
)
from s2sbench_hf.options import RunConfig
from s2sbench_hf.results import DatasetInfo
from s2sbench_hf.runner import evaluate_model, save_run
from s2sbench_hf.scoring.interface import ContinuationScore, Scorer
from s2sbench_hf.tasks import SPEECH_LM_TASKS, TASKS, UTTERANCE
from s2sbench_hf.validate import ValidationReport, validate_run

ACCEPTED = (AcceptedDataset("samples", tasks=tuple(TASKS)), *OFFICIAL_SPEECH_LM_DATASETS)
"""The tests' board: S2SBench's tasks on the bundled samples, the speech-LM sets on their official Hub datasets."""
SOURCES = {"sstorycloze_slm": "speed/sStoryCloze", "tstorycloze_slm": "speed/tStoryCloze", "swuggy": "speed/sWUGGY"}
SOURCES |= {"sblimp": "speed/sBLIMP", **{t: "slprl/SALMon" for t in SPEECH_LM_COLUMNS if t.startswith("salmon")}}
ROWS = 4
"""Items in each fake speech-LM dataset."""


@pytest.fixture(scope="module")
def honest(tmp_path_factory) -> ValidationReport:
    """The validation report of a complete, honest S2SBench run on the sample sets."""
    run = make_run(
        tmp_path_factory.mktemp("run") / "honest", "acme/honest", text=0.9, audio=0.6, tasks=tuple(TASKS), limit=None
    )
    report = validate_run(run)
    assert report.valid, report.summary()
    return report


def speech_lm_report(
    base: ValidationReport,
    model_id: str,
    accuracies: dict[str, float],
    *,
    s2sbench: bool = False,
    sources: dict[str, str] | None = None,
    limit: int | None = None,
) -> ValidationReport:
    """``base`` as the report of a run of the speech-LM sets ``accuracies`` (task -> utterance accuracy) by
    ``model_id``, with its S2SBench tasks too when ``s2sbench``; each set's data from ``sources`` (default: its
    official dataset), ``ROWS`` items, ``limit`` as ``--limit``."""
    assert base.parsed is not None and base.results is not None
    sources = {**SOURCES, **(sources or {})}
    kept = list(TASKS) if s2sbench else []
    recomputed = {t: base.recomputed[t] for t in kept}
    for task, accuracy in accuracies.items():
        interval = [max(accuracy - 0.1, 0.0), min(accuracy + 0.1, 1.0)]
        utterance = {"accuracy": accuracy, "accuracy_ci": interval}
        recomputed[task] = {"n_items": ROWS, "n_failed": 0, "settings": {UTTERANCE: utterance}}
    datasets = {t: base.parsed.datasets[t] for t in kept}
    for task in accuracies:
        datasets[task] = DatasetInfo(
            source=sources[task], config=task, split="train", num_rows=ROWS, fingerprint="f" * 16
        )
    config = base.parsed.config.model_copy(update={"tasks": [*kept, *accuracies], "limit": limit})
    model = base.parsed.model.model_copy(update={"model_id": model_id})
    results = copy.deepcopy(base.results)
    results["model"]["model_id"] = results["config"]["model"] = model_id
    parsed = base.parsed.model_copy(update={"config": config, "datasets": datasets, "model": model})
    parsed._run_config = None  # read the new config block, not the copied one's cached reading
    return ValidationReport(path=Path(model_id) / "results.json", results=results, parsed=parsed, recomputed=recomputed)


def complete(accuracy: float) -> dict[str, float]:
    """Every ranked speech-LM set at one utterance accuracy."""
    return dict.fromkeys(SPEECH_LM_SETS, accuracy)


def board_of(*reports: ValidationReport) -> Board:
    """The board of these reports, placed and ranked as `build_board` does."""
    board = Board(source="test", sort_by=leaderboard.DEFAULT_SORT, accepted=ACCEPTED)
    for report in reports:
        leaderboard.place(board, Submission(str(report.path.parent), report))
    return leaderboard.rank_board(board, board.sort_by)


def names(subs: list[Submission]) -> list[str]:
    return [s.name for s in subs]


def test_the_speech_lm_table_holds_the_utterance_sets_and_no_s2sbench_task():
    assert set(SPEECH_LM_SETS) <= set(SPEECH_LM_COLUMNS) and not set(SPEECH_LM_COLUMNS) & set(TASKS)
    assert all(SPEECH_LM_TASKS[t].kind == UTTERANCE for t in SPEECH_LM_COLUMNS)
    assert "tsc_crossmodal" not in SPEECH_LM_COLUMNS  # a continuation task: in neither ranking
    assert {t for a in OFFICIAL_SPEECH_LM_DATASETS for t in a.tasks or ()} == set(SPEECH_LM_COLUMNS)


def test_each_submission_is_in_the_tables_of_its_tasks_and_each_table_ranks_its_own(honest):
    board = board_of(
        honest,
        speech_lm_report(honest, "acme/unit-lm", complete(0.7)),
        speech_lm_report(honest, "acme/both", complete(0.8), s2sbench=True),
    )
    assert names(board.ranked) == ["acme/honest", "acme/both"] or names(board.ranked) == ["acme/both", "acme/honest"]
    assert "acme/unit-lm" not in names(board.listed)  # only speech-LM sets: only in the speech-LM table
    assert names(board.group("ranked", SPEECH_LM)) == ["acme/both", "acme/unit-lm"]
    assert [s.rank for s in board.group("ranked", SPEECH_LM)] == [1, 2]
    both = board.group("ranked", SPEECH_LM)[0]
    assert both.value("utterance_accuracy") == pytest.approx(0.8) and both.tasks == list(SPEECH_LM_SETS)
    assert both.value("sstorycloze:audio_accuracy") is None  # an S2SBench number is not the speech-LM table's
    s2sbench_row = next(s for s in board.ranked if s.name == "acme/both")
    honest_row = next(s for s in board.ranked if s.name == "acme/honest")
    for key in ("audio_accuracy", "text_accuracy", "gap", "relative_gap"):  # the speech-LM sets move no S2SBench number
        assert s2sbench_row.value(key) == honest_row.value(key) is not None
    assert s2sbench_row.tasks == list(TASKS) and s2sbench_row.failed == honest_row.failed


def test_a_row_with_fewer_sets_is_listed_as_partial_never_ranked_above_a_complete_one(honest):
    four = {t: 1.0 for t in SPEECH_LM_SETS if t != "sblimp"}
    board = board_of(
        speech_lm_report(honest, "acme/complete", complete(0.55)),
        speech_lm_report(honest, "acme/four-sets", four),
        speech_lm_report(honest, "acme/one-subset", {"salmon_bg_alignment": 0.99}),
    )
    assert names(board.group("ranked", SPEECH_LM)) == ["acme/complete"]
    partial = {s.name: s for s in board.group("partial", SPEECH_LM)}
    assert partial["acme/four-sets"].reasons == ["partial run: 4 of the 5 sets (not sblimp)"]
    assert partial["acme/one-subset"].value("salmon_bg_alignment:utterance_accuracy") == 0.99
    assert partial["acme/one-subset"].value("utterance_accuracy") is None  # a subset is never averaged
    headers, rows = leaderboard.board_table(board, group="partial", view=SPEECH_LM)
    sets = dict((row[1], row[headers.index("sets")]) for row in rows)
    assert sets == {
        "acme/four-sets": "4/5: sstorycloze_slm, tstorycloze_slm, swuggy, salmon",
        "acme/one-subset": "0/5: salmon_bg_alignment",
    }
    assert (
        "salmon_bg_alignment utterance acc. %" in headers and "salmon_rir_consistency utterance acc. %" not in headers
    )


def test_other_data_and_a_limit_keep_a_row_off_its_own_table_only(honest):
    board = board_of(
        speech_lm_report(honest, "acme/easy-data", complete(0.9), sources={"salmon": "attacker/salmon"}),
        speech_lm_report(honest, "acme/wrong-set", complete(0.9), sources={"sblimp": "slprl/SALMon"}),
        speech_lm_report(honest, "acme/limited", complete(0.9), limit=2),
        speech_lm_report(honest, "acme/mixed", complete(0.9), s2sbench=True, sources={"swuggy": "attacker/swuggy"}),
    )
    other = {s.name: s.reasons for s in board.group("other", SPEECH_LM)}
    assert other["acme/easy-data"][0].startswith(
        "other data: attacker/salmon (this board ranks runs on speed/sStoryCloze"
    )
    assert other["acme/wrong-set"][0].startswith("other data: slprl/SALMon")  # SALMon's repo vouches for SALMon only
    assert other["acme/mixed"][0].startswith("other data: attacker/swuggy")
    assert "samples" not in other["acme/mixed"][0]  # the reason names the data accepted for the table's tasks
    limited = board.group("partial", SPEECH_LM)
    assert names(limited) == ["acme/limited"] and "--limit 2 scored the first items only" in limited[0].reasons[0]
    assert names(board.ranked) == ["acme/mixed"]  # its S2SBench part is on accepted data and complete: ranked
    assert board.group("ranked", SPEECH_LM) == []


def test_an_utterance_setting_under_an_s2sbench_task_is_refused_and_never_read(honest, tmp_path):
    runs = make_runs(tmp_path / "runs")
    folder = tmp_path / "attack"
    build, place, reasons = ATTACKS["utterance_under_s2sbench_task"]
    build(folder, runs)
    report = validate_run(folder)
    assert place == "invalid" and not report.valid and any(reasons[0] in str(p) for p in report.problems)
    # had validation let it through, the board would still read no S2SBench number from it and list it in no
    # speech-LM table: the S2SBench columns read S2SBench's settings, the speech-LM ones the speech-LM sets only
    smuggled = copy.deepcopy(honest)
    smuggled.recomputed["sstorycloze"]["settings"][UTTERANCE] = {"accuracy": 0.99, "accuracy_ci": [0.98, 1.0]}
    board = board_of(honest, smuggled)
    assert all(s.value("audio_accuracy") == board.ranked[0].value("audio_accuracy") for s in board.ranked)
    assert not any(board.speech_lm.values())
    assert leaderboard.SpeechLMSubmission("x", smuggled).value("sstorycloze:utterance_accuracy") is None


def test_a_continuation_speech_lm_task_never_moves_s2sbench_averages(honest):
    mixed = copy.deepcopy(honest)
    mixed.recomputed["tsc_crossmodal"] = {**honest.recomputed["sstorycloze"]}
    mixed.recomputed["tsc_crossmodal"]["settings"] = {
        s: {**m, "accuracy": 1.0} for s, m in honest.recomputed["sstorycloze"]["settings"].items()
    }
    alone, with_crossmodal = Submission("a", honest), Submission("b", mixed)
    assert with_crossmodal.value("audio_accuracy") == alone.value("audio_accuracy")
    assert with_crossmodal.tasks == list(TASKS)


def test_the_speech_lm_table_is_written_in_every_output_and_escaped(honest, tmp_path):
    board = board_of(
        honest,
        speech_lm_report(honest, INJECTION, complete(0.7)),
        speech_lm_report(honest, "acme/few", {"swuggy": 0.6}),
    )
    paths = leaderboard.write_board(board, tmp_path / "board")
    markdown = paths["markdown"].read_text(encoding="utf-8")
    page = paths["html"].read_text(encoding="utf-8")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert "## Speech LM: the speech-LM sets" in markdown and "Speech LM: partial runs" in markdown
    as_html = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["table", "linkify"]).render(markdown)
    assert "<script>" not in as_html and "<img src=x" not in as_html and '<a href="https:evil' not in as_html
    ids = TableIds()
    ids.feed(page)
    assert ids.tables == ["board", "speech-lm", "speech-lm-partial"] and "alert(1)" not in ids.scripts
    assert ids.rows["speech-lm"] == [plain(board.speech_lm["ranked"][0].name)]  # the model id, literally, as text
    lm = data[SPEECH_LM]
    assert lm["sets"] == list(SPEECH_LM_SETS) and lm["sort_by"] == "utterance_accuracy"
    assert [r["utterance_accuracy"] for r in lm["ranked"]] == [pytest.approx(0.7)]
    assert [r["reasons"] for r in lm["partial"]] == [
        ["partial run: 1 of the 5 sets (not sstorycloze_slm, tstorycloze_slm, sblimp, salmon)"]
    ]
    assert [r["path"] for r in data["ranked"]] == [str(honest.path.parent)]  # S2SBench's lists: the honest run only
    assert data["partial"] == data["other"] == []
    summary = leaderboard.summary(board)
    assert "speech LM: 1 ranked by utterance_accuracy" in summary and "NOT RANKED (speech LM, partial)" in summary


class TableIds(HTMLParser):
    """The ids of a page's tables, the first cell text after the rank of each row per table, and its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self.scripts = ""
        self._table, self._cell, self._cells, self._in = "", -1, [""], ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables.append(self._table)
        elif tag == "tr":
            self._cell = -1
        elif tag in ("td", "th"):
            self._cell += 1
            self._in = tag
        elif tag == "script":
            self._in = "script"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "script"):
            self._in = ""

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts += data
        elif self._in == "td" and self._cell == 1:
            self.rows.setdefault(self._table, []).append(data)


def test_a_speech_lm_run_can_be_submitted_and_its_utterance_accuracy_goes_to_the_hub(honest, tmp_path):
    report = speech_lm_report(honest, "acme/unit-lm", {"salmon": 0.75})
    results = copy.deepcopy(report.results)
    results["config"]["tasks"] = ["salmon"]
    results["results"] = {"salmon": report.recomputed["salmon"]}
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (tmp_path / "samples_salmon.jsonl").write_text("", encoding="utf-8")
    plan = hub.plan_submission(tmp_path, "acme/results")
    assert sorted(Path(f.path_in_repo).name for f in plan.files) == ["results.json", "samples_salmon.jsonl"]
    metrics = hub.hub_metrics(results)
    assert [(m.key, m.value, m.eval_task_id) for m in metrics] == [("utterance_accuracy", 75.0, "salmon_utterance")]


class PreferPositive(Scorer):
    """A speech-LM scorer that gives the positive clip (the first) the lower NLL: every pair right."""

    name = "prefer-positive"
    settings = (UTTERANCE,)
    sampling_rate = 16000

    def score(self, requests):
        return [[ContinuationScore(nll_sum=1.0 + j, n_tokens=4) for j in range(2)] for _ in requests]

    def describe(self):
        return {"adapter": self.name, "model_id": "acme/unit-lm", "revision": "c" * 40, "dtype": "float32"}


def test_a_real_speech_lm_run_is_validated_and_listed_only_in_the_speech_lm_table(hub_cache, tmp_path):  # noqa: F811
    fake_salmon(hub_cache)
    config = RunConfig(
        model="acme/unit-lm", tasks=["salmon_bg_alignment"], dataset="slprl/SALMon", n_bootstrap=20, device="cpu"
    )
    run = evaluate_model(config, scorer=PreferPositive(), progress=False)
    folder = tmp_path / "repo" / hub.SUBMISSIONS_DIR / "acme__unit-lm" / ("c" * 40)
    save_run(run, folder)
    board = leaderboard.build_board(tmp_path / "repo")  # the default board: the official speech-LM datasets
    assert board.invalid == [] and board.listed == []
    (row,) = board.group("partial", SPEECH_LM)
    assert row.value("salmon_bg_alignment:utterance_accuracy") == 1.0 and row.tasks == ["salmon_bg_alignment"]
    assert row.reasons == [
        "partial run: 0 of the 5 sets (not sstorycloze_slm, tstorycloze_slm, swuggy, sblimp, salmon)"
    ]


def test_the_page_with_a_speech_lm_table_still_sorts_in_a_browser(honest, tmp_path):
    board = board_of(honest, speech_lm_report(honest, "acme/unit-lm", complete(0.7)))
    paths = leaderboard.write_board(board, tmp_path / "board")
    dom = _render_dom(paths["html"], "#sort=text_accuracy")  # the page's script ran to its end: #board is sorted
    tables = TableIds()
    tables.feed(dom)
    assert tables.tables == ["board", "speech-lm"] and tables.rows["speech-lm"] == ["acme/unit-lm"]
    assert 'id="board" data-ranked-by="audio_accuracy" data-sort-key="text_accuracy"' in dom
