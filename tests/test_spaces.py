"""The two Gradio Spaces, started as a Space starts them (``python app.py``), headless, on a free local port.

The metric Space must return the module's numbers; the leaderboard Space the
library's ranked table, with a hostile model name shown as text in a real
(headless) browser, and a file that no encoder writes (a lone surrogate) listed
as failed while the rest of the board is shown; without a readable results repo
the page says why instead of showing a board, and its sort menu offers only the
board's columns. The metric Space's controls take the run options' bounds; no
plot's legend covers its data. The cards and requirements must
describe a Space that can be built: ``sdk: gradio`` with an ``sdk_version`` the
``spaces`` extra allows, and the package from its release tag (it is not on PyPI).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import fields
from html.parser import HTMLParser
from importlib.metadata import requires
from pathlib import Path

import httpx
import huggingface_hub.constants
import pytest
from fake_runs import make_run
from huggingface_hub.errors import RepositoryNotFoundError
from markdown_it import MarkdownIt
from packaging.requirements import Requirement
from packaging.version import Version
from PIL import Image
from test_speech_lm_board import PreferPositive, board_of, complete, honest, speech_lm_report  # noqa: F401  (honest: a fixture)
from test_speech_lm_data import fake_salmon, hub_cache  # noqa: F401  (hub_cache: a fixture)

import s2sbench_hf
from s2sbench_hf import evaluate_metric, hub, leaderboard, plots
from s2sbench_hf.options import MAX_BOOTSTRAP, MAX_COUNT, RunConfig, RunOptions
from s2sbench_hf.runner import evaluate_model, save_run
from s2sbench_hf.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
SPACES = {"metric": ROOT / "metric" / "s2sbench", "leaderboard": ROOT / "leaderboard"}
HOSTILE = '<img src=x onerror="document.title=1">**bold**'
SCORES = {
    "references": [0, 0, 1],
    "text_scores": [[1.0, 2.0], [2.0, 1.5], [3.0, 1.0]],
    "audio_scores": [[2.0, 1.0], [2.0, 2.5], [3.0, 1.0]],
}


def _client(url: str):
    """A gradio_client for a running Space (gradio_client comes with gradio)."""
    from gradio_client import Client as GradioClient

    return GradioClient(url, verbose=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(app: Path, cwd: Path, **env: str):
    """Run ``python app.py`` with the Space's environment; yield its URL once it answers; stop it after."""
    pytest.importorskip("gradio", reason="the Spaces need gradio: pip install -e '.[spaces]' (the dev extra has it)")
    port = _free_port()
    log = cwd / "space.log"
    environment = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(app)], cwd=cwd, env=environment, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{app} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{app} did not answer on {url} within 240 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------- cards and requirements


@pytest.mark.parametrize("space", SPACES)
def test_card_and_requirements_describe_a_buildable_space(space):
    folder = SPACES[space]
    header = (folder / "README.md").read_text(encoding="utf-8").split("---")[1]
    fields = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line and not line.startswith(" "))
    assert fields["sdk"] == "gradio" and fields["app_file"] == "app.py"
    gradio_spec = next(Requirement(r) for r in requires("s2sbench-hf") if r.startswith("gradio"))
    assert Version(fields["sdk_version"]) in gradio_spec.specifier  # the Gradio the tests run is the one pinned
    lines = [
        line
        for line in (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    package = [Requirement(line.replace("<owner>", "owner")) for line in lines if line.startswith("s2sbench-hf")]
    assert len(package) == 1 and package[0].url.endswith(f"/s2sbench-hf@v{s2sbench_hf.__version__}")
    assert package[0].url.startswith("git+https://github.com/")
    assert not any(line.startswith("gradio") for line in lines)  # the card's sdk_version decides


# ------------------------------------------------------------------------- the metric Space


@pytest.fixture(scope="module")
def metric_space(tmp_path_factory):
    yield from _start(SPACES["metric"] / "app.py", tmp_path_factory.mktemp("metric-space"))


@pytest.mark.slow
def test_metric_space_returns_the_module_numbers(metric_space):
    client = _client(metric_space)
    got = client.predict(json.dumps(SCORES), "auto", "reference", 200, 0, api_name="/compute")
    want = evaluate_metric.compute_scores(**SCORES, n_bootstrap=200, seed=0)
    assert got == json.loads(json.dumps(want))
    half = client.predict(json.dumps(SCORES), "sstorycloze", "half", 200, 0, api_name="/compute")
    assert half["tasks"]["sstorycloze"]["text_accuracy"] == pytest.approx(2 / 3, rel=1e-12)


@pytest.mark.parametrize(
    "scores,message",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"references": [0]}), "exactly the keys"),
        (json.dumps({**SCORES, "audio_scores": [[1.0, 2.0]]}), "number of references"),
        (json.dumps({**SCORES, "text_scores": [[1.0, 2.0], [2.0, 1.5], [3.0, 1.0, 0.5]]}), "same number of choices"),
    ],
)
@pytest.mark.slow
def test_metric_space_explains_bad_input(metric_space, scores, message):
    with pytest.raises(Exception, match=message):
        _client(metric_space).predict(scores, "auto", "reference", 10, 0, api_name="/compute")


def _import_space(space: str, monkeypatch, **env: str | None):
    """A Space's ``app.py`` imported (not launched) with its settings: ``env`` values set, None ones unset."""
    pytest.importorskip("gradio", reason="the Spaces need gradio: pip install -e '.[spaces]' (the dev extra has it)")
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(f"{space}_space_app", SPACES[space] / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_metric_space_controls_take_the_options_bounds(monkeypatch):
    """Issue 22: the page offered bootstrap 0, which the module refuses; every control now reads the option."""
    import gradio as gr

    app = _import_space("metric", monkeypatch)
    options = {f.name: f for f in fields(RunOptions)}
    assert options["n_bootstrap"].metadata["maximum"] == MAX_BOOTSTRAP
    numbers = [block for block in app.demo.blocks.values() if isinstance(block, gr.Number)]
    assert sorted(numbers, key=id) == sorted(app.numbers.values(), key=id)  # no control with a range of its own
    for name, control in app.numbers.items():
        option = options[name]
        assert (control.minimum, control.maximum, control.value) == (
            option.metadata["minimum"],
            option.metadata["maximum"] or MAX_COUNT,  # as options.range_problems reads "no maximum"
            option.default,
        )
        with pytest.raises(gr.Error, match="less than minimum"):  # Gradio refuses it before the module sees it
            control.preprocess(option.metadata["minimum"] - 1)
        with pytest.raises(ValueError):  # ... a value the module refuses too
            app.module.compute(**SCORES, **{name: option.metadata["minimum"] - 1})
        assert app.module.compute(**SCORES, **{name: control.preprocess(option.metadata["minimum"])})["tasks"]
    assert app.numbers["n_bootstrap"].maximum == MAX_BOOTSTRAP
    dropdowns = {block.label: block for block in app.demo.blocks.values() if isinstance(block, gr.Dropdown)}
    assert [c[1] for c in dropdowns["tie policy"].choices] == list(options["tie_policy"].metadata["choices"])


# ------------------------------------------------------------------------- the leaderboard Space


SPEECH_LM_MODEL = "acme/unit-lm"
"""The speech-LM submission of `results_repo`: on slprl/SALMon, which the Space's tests do not accept (other data)."""
SURROGATE_ID = "tiny\udcff"
"""A model id with a lone surrogate: legal JSON (the escape ``\\udcff``), not encodable as UTF-8."""


@pytest.fixture(scope="module")
def results_repo(tmp_path_factory) -> Path:
    """A results repo: a plain, complete submission laid out by `s2sbench submit`, one whose model id is markup
    (which `submit` refuses, so it is put there by hand, as an attacker would), a tampered copy of it, one
    whose model id holds a lone surrogate, and a real run of a SALMon subset (`SPEECH_LM_MODEL`)."""
    root = tmp_path_factory.mktemp("results-repo")
    runs = tmp_path_factory.mktemp("space-runs")
    complete = {"tasks": tuple(TASKS), "limit": None}
    steady = make_run(runs / "run0", "acme/steady", text=0.95, audio=0.9, seed=0, revision=f"{0:040x}", **complete)
    shutil.copytree(steady, root / hub.submission_folder(json.loads((steady / "results.json").read_text())))
    make_run(runs / "run1", HOSTILE, text=0.8, audio=0.6, seed=1, revision=f"{1:040x}", **complete)
    shutil.copytree(runs / "run1", root / "submissions/hostile/0001")
    tampered = root / "submissions/hostile/ffff"
    shutil.copytree(runs / "run1", tampered)
    data = json.loads((tampered / "results.json").read_text())
    data["results"]["scmmlu"]["settings"]["audio"]["accuracy"] = 0.99
    (tampered / "results.json").write_text(json.dumps(data))
    surrogate = shutil.copytree(steady, root / "submissions/surrogate/0000")
    data = json.loads((surrogate / "results.json").read_text())
    data["model"]["model_id"] = data["config"]["model"] = SURROGATE_ID
    (surrogate / "results.json").write_text(json.dumps(data), encoding="ascii")  # ensure_ascii: the escape
    _submit_speech_lm_run(tmp_path_factory.mktemp("hf-hub"), root / "submissions/unit-lm/0")
    return root


def _submit_speech_lm_run(cache: Path, folder: Path) -> None:
    """A real run of a SALMon subset by `SPEECH_LM_MODEL` (`PreferPositive`: every pair right) on the fake
    ``slprl/SALMon`` written in the Hub cache ``cache``, saved as a submission in ``folder``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
        fake_salmon(cache)
        config = RunConfig(
            model=SPEECH_LM_MODEL, tasks=["salmon_bg_alignment"], dataset="slprl/SALMon", n_bootstrap=20, device="cpu"
        )
        save_run(evaluate_model(config, scorer=PreferPositive(), progress=False), folder)


def _board_app(monkeypatch, results_repo: str | Path | None):
    """The leaderboard Space's ``app.py`` imported (not launched), its results repo ``results_repo`` (None: unset)."""
    return _import_space(
        "leaderboard",
        monkeypatch,
        S2SBENCH_RESULTS_REPO=None if results_repo is None else str(results_repo),
        S2SBENCH_ACCEPTED_DATASETS="samples",
    )


@pytest.fixture
def board_app(results_repo, monkeypatch):
    """The leaderboard Space's ``app.py`` imported (not launched) with its settings pointing at `results_repo`."""
    return _board_app(monkeypatch, results_repo)


def _notice(outputs: tuple) -> str:
    """The text a reader sees in the page's notice, from `show`'s outputs; asserts that the board is hidden instead."""
    notice, column, speech_lm_column, _menu, *board = outputs
    hidden = {"__type__": "update", "visible": False}
    assert notice["visible"] is True and column == hidden and speech_lm_column == hidden
    assert board == [None] * len(board)
    page = _Page()
    page.feed(MarkdownIt("commonmark").render(notice["value"]))
    return "".join(page.text).strip()


def test_leaderboard_space_without_a_results_repo_says_what_to_set(monkeypatch):
    """Issue 22: the Space silently showed the board of s2sbench/results when its variable was unset."""
    text = _notice(_board_app(monkeypatch, None).show("audio_accuracy"))
    assert text == (
        "No results dataset is set. Set the Space variable S2SBENCH_RESULTS_REPO to the Hub results dataset that "
        "holds the submissions (for example ORG/s2sbench-results), or to a local folder with submissions/, then "
        "restart the Space."
    )


def _repository_not_found(repo_id: str, **_kwargs):
    """snapshot_download of a dataset that is missing or private (the Hub answers 404 to both)."""
    url = f"https://huggingface.co/api/datasets/{repo_id}"
    response = httpx.Response(404, request=httpx.Request("GET", url))
    raise RepositoryNotFoundError(f"404 Client Error: Repository Not Found for url: {url}", response=response)


@pytest.mark.parametrize(
    "repo,download,cause",
    [
        (
            "acme/offline-results",
            None,  # HF_HUB_OFFLINE=1 (conftest): the Hub cannot be reached, nothing in the cache
            (
                "cannot reach the Hugging Face Hub (no network, or HF_HUB_OFFLINE=1) and the results dataset "
                "'acme/offline-results' is not in the local cache: connect once to download it, or pass a local "
                "folder."
            ),
        ),
        (
            "acme/private-results",
            _repository_not_found,
            (
                "the results dataset 'acme/private-results' was not found on the Hugging Face Hub: check the "
                "spelling (ORG/NAME), or log in (`hf auth login` or HF_TOKEN) if it is private."
            ),
        ),
        (
            "/no/such/folder",
            None,
            "'/no/such/folder' is neither a local folder nor a Hub dataset id (ORG/NAME).",
        ),
    ],
)
def test_leaderboard_space_names_an_unreadable_results_repo_and_the_cause(monkeypatch, repo, download, cause):
    """Issue 22: a missing, private or unreachable results repo showed Gradio's generic error (the cause only in the
    server log); the page now says it in one line, and a reload tries again."""
    import huggingface_hub

    if download is not None:
        monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    app = _board_app(monkeypatch, repo)
    text = _notice(app.show("audio_accuracy"))
    assert text == f"The board cannot be shown. {cause}"
    assert _notice(app.show("audio_accuracy", refresh=True)) == text and app._board is None


def test_leaderboard_space_lists_a_bad_file_as_failed_and_shows_the_rest(board_app):
    """Issue 20: a model id with a lone surrogate made `show()` raise, so every table was gone."""
    notice, column, speech_lm_column, menu, summary, table, plot, partial, other, invalid, *speech_lm = board_app.show(
        "audio_accuracy"
    )
    assert notice["visible"] is False and column["visible"] is True
    assert speech_lm_column["visible"] is True and speech_lm[0].startswith("speech LM: 0 ranked")
    assert [list(frame["model"]) for frame in speech_lm[1:]] == [[], [], [SPEECH_LM_MODEL]]  # other data
    assert menu["value"] == "audio_accuracy" and "scmmlu:gap" in menu["choices"]
    assert list(table["model"]) == ["acme/steady"] and partial.empty and other.empty
    assert summary.startswith("1 ranked by audio_accuracy (higher first); 0 partial")
    assert sorted(invalid["submission"]) == [
        "submissions/hostile/0001",
        "submissions/hostile/ffff",
        "submissions/surrogate/0000",
    ]
    assert "tiny\\udcff" in list(invalid["model"])  # the escape, shown as text
    json.dumps([summary, *(frame.to_dict("split") for frame in (table, partial, other, invalid))]).encode("utf-8")
    assert min(plot.size) > 100


def test_leaderboard_space_sort_menu_lists_only_columns_with_a_value(tmp_path, monkeypatch):
    """Issue 22: the menu had 112 keys, mostly settings, pairs and tasks no submission has. Here one run scored text
    and audio on sstorycloze, the other text only on scmmlu: no text_to_speech, no zh_sstorycloze, no audio of
    scmmlu, no gap of another pair, no per-task relative gap (no such column)."""
    runs = {"acme/text-audio": ("sstorycloze", ("text", "audio")), "acme/text-only": ("scmmlu", ("text",))}
    for i, (model, (task, settings)) in enumerate(runs.items()):
        make_run(tmp_path / f"submissions/m{i}/0", model, text=0.9, audio=0.6, tasks=(task,), settings=settings)
    app = _board_app(monkeypatch, tmp_path)
    assert len(app.sort_by.choices) == len(leaderboard.sort_choices()) > 100  # every valid key, until the board loads
    want = [
        "text_accuracy",
        "audio_accuracy",
        "gap",
        "relative_gap",
        "sstorycloze:text_accuracy",
        "sstorycloze:audio_accuracy",
        "sstorycloze:gap",
        "scmmlu:text_accuracy",
    ]
    _notice, _column, _speech_lm, menu, summary, *_ = app.show("scmmlu:text_accuracy")
    assert menu == {"__type__": "update", "choices": want, "value": "scmmlu:text_accuracy"}
    assert summary.startswith("0 ranked by scmmlu:text_accuracy (higher first); 2 partial")
    _notice, _column, _speech_lm, menu, summary, *_ = app.show(
        "scmmlu:gap"
    )  # no run has it: ranked by the default instead
    assert menu["value"] == leaderboard.DEFAULT_SORT and summary.startswith("0 ranked by audio_accuracy")
    board = app._board
    assert [k for k in leaderboard.sort_choices() if any(s.value(k) is not None for s in board.listed)] == [
        *want[:4],
        "sstorycloze:text_accuracy",
        "sstorycloze:audio_accuracy",
        "sstorycloze:gap",
        "sstorycloze:relative_gap",  # a value, but not a column of the board: not in the menu
        "scmmlu:text_accuracy",
    ]


def _speech_lm_outputs(app, board: leaderboard.Board | None) -> tuple:
    """The speech-LM column, summary and tables that the Space shows for ``board`` (set as its loaded board; None:
    the one it reads), checked against the library's speech-LM tables."""
    if board is not None:
        app._board = board
    notice, column, speech_lm_column, *_s2sbench, summary, ranked, partial, other = app.show("audio_accuracy")
    assert notice["visible"] is False and column["visible"] is True
    board = app._board
    for frame, group in zip((ranked, partial, other), leaderboard.GROUPS, strict=True):
        assert (list(frame.columns), frame.values.tolist()) == leaderboard.board_table(
            board, group=group, view=leaderboard.SPEECH_LM
        )
    return speech_lm_column, summary, ranked, partial, other


def test_leaderboard_space_shows_the_speech_lm_table_as_text(honest, monkeypatch):  # noqa: F811
    """Issue 24: the Space showed S2SBench's table only; a speech-LM submission (here with a model id of markup) is
    now in the speech-LM tables, as the library's plain text, and never in S2SBench's."""
    board = board_of(
        honest,
        speech_lm_report(honest, HOSTILE, complete(0.7)),
        speech_lm_report(honest, "acme/one-subset", {"salmon_bg_alignment": 0.99}),
    )
    app = _board_app(monkeypatch, "unused")  # the board is set, not read
    speech_lm_column, summary, ranked, partial, other = _speech_lm_outputs(app, board)
    assert speech_lm_column == {"__type__": "update", "visible": True} and other.empty
    assert summary.startswith("speech LM: 1 ranked by utterance_accuracy (higher first); 1 partial")
    assert list(ranked["model"]) == [HOSTILE] and list(partial["model"]) == ["acme/one-subset"]
    assert HOSTILE not in [s.name for s in board.listed]  # S2SBench's lists hold only the honest run


def test_leaderboard_space_shows_a_real_speech_lm_run(hub_cache, tmp_path, monkeypatch):  # noqa: F811
    """A real SALMon subset run on the fake ``slprl/SALMon``, submitted and read back by the Space with its default
    accepted datasets: one partial row of the speech-LM table, S2SBench's lists empty."""
    _submit_speech_lm_run(hub_cache, tmp_path / "submissions/acme/0")  # the cache stays set for validation
    app = _import_space(
        "leaderboard", monkeypatch, S2SBENCH_RESULTS_REPO=str(tmp_path), S2SBENCH_ACCEPTED_DATASETS=None
    )
    speech_lm_column, _summary, ranked, partial, other = _speech_lm_outputs(app, None)
    assert app._board.listed == [] and app._board.invalid == [] and ranked.empty and other.empty
    assert speech_lm_column["visible"] is True and partial["model"].tolist() == [SPEECH_LM_MODEL]
    assert partial["salmon_bg_alignment utterance acc. %"].tolist()[0].startswith("100.0")


# ------------------------------------------------------------------------- plots: legends off the data


CORNERS = [
    ("a/low-low", 0.0, 0.0),
    ("b/low-high", 0.0, 100.0),
    ("c/high-low", 100.0, 0.0),
    ("d/high-high", 100.0, 100.0),
]


def _legends_over_data(fig) -> list[str]:
    """Each legend of ``fig`` whose box overlaps the data area of an axes, or leaves the figure, as drawn by Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    assert legends, "the figure has no legend to check"
    found = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        found += [
            f"{box} over the axes {ax.get_title()!r}" for ax in fig.axes if box.overlaps(ax.get_window_extent(renderer))
        ]
        if not fig.bbox.contains(box.x0, box.y0) or not fig.bbox.contains(box.x1, box.y1):
            found.append(f"{box} outside the figure {fig.bbox}")
    return found


def test_board_scatter_legend_hides_no_point():
    """Issue 22: the scatter's legend (upper left, inside the axes) covered a point there."""
    fig = leaderboard.scatter_figure(CORNERS)
    assert sorted(tuple(p) for c in fig.axes[0].collections for p in c.get_offsets()) == [
        (x, y) for _, x, y in sorted(CORNERS, key=lambda p: (p[1], p[2]))
    ]
    assert _legends_over_data(fig) == []


def _result(accuracies: dict[str, tuple[float, float]]) -> dict:
    """A results dict (what `plots.plot_run` reads) with, per task, the (text, audio) accuracies."""
    tasks = {
        task: {
            "n_items": 10,
            "settings": {
                s: {"accuracy": a, "accuracy_ci": [a, a]} for s, a in zip(("text", "audio"), pair, strict=True)
            },
            "degradation": {"gap": pair[0] - pair[1]},
        }
        for task, pair in accuracies.items()
    }
    return {"results": tasks, "config": {"settings": ["text", "audio"]}, "model": {"model_id": "acme/m"}}


def test_plots_legends_hide_no_data(tmp_path, monkeypatch):
    """Every figure of `plots` with a legend, its bars or curves at 0% and 100% at both ends of the x axis."""
    figures = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or save(fig, path))
    low_high = _result({"sstorycloze": (0.0, 1.0), "scmmlu": (1.0, 0.0)})
    plots.plot_run(low_high, tmp_path / "run.png")
    plots.plot_compare(
        {"a": low_high, "b": _result({"sstorycloze": (1.0, 0.0), "scmmlu": (0.0, 1.0)})}, tmp_path / "c.png"
    )
    rows = [
        {
            "task": "scmmlu",
            "step": step,
            "n_items": 10,
            "text_accuracy": t,
            "audio_accuracy": 1 - t,
            "degradation": 2 * t - 1,
            "text_answer_loss": 1 + t,
            "text_distractor_loss": 2 - t,
            "audio_answer_loss": 2 - t,
            "audio_distractor_loss": 1 + t,
        }
        for step, t in ((0, 0.0), (1000, 1.0))
    ]
    plots.plot_sweep_task(rows, "scmmlu", tmp_path / "sweep.png")
    assert len(figures) == 3
    assert [problem for fig in figures for problem in _legends_over_data(fig)] == []


@pytest.fixture(scope="module")
def board_space(results_repo, tmp_path_factory):
    yield from _start(
        SPACES["leaderboard"] / "app.py",
        tmp_path_factory.mktemp("board-space"),
        S2SBENCH_RESULTS_REPO=str(results_repo),
        S2SBENCH_ACCEPTED_DATASETS="samples",
    )


@pytest.mark.slow
def test_leaderboard_space_shows_the_library_table(board_space, results_repo):
    client = _client(board_space)
    for key in ("audio_accuracy", "gap"):
        outputs = client.predict(key, api_name="/show")
        (summary, table, plot, partial, other, invalid, lm_summary), speech_lm = outputs[-10:-3], outputs[-3:]
        board = leaderboard.build_board(results_repo, sort_by=key, accepted=["samples"])
        assert (table["headers"], table["data"]) == leaderboard.board_table(board)
        assert (partial["headers"], partial["data"]) == leaderboard.board_table(board, group="partial")
        assert (other["headers"], other["data"]) == leaderboard.board_table(board, group="other")
        assert (invalid["headers"], invalid["data"]) == leaderboard.invalid_table(board)
        for frame, group in zip(speech_lm, leaderboard.GROUPS, strict=True):
            assert (frame["headers"], frame["data"]) == leaderboard.board_table(
                board, group=group, view=leaderboard.SPEECH_LM
            )
        assert lm_summary.startswith("speech LM: 0 ranked") and speech_lm[2]["data"][0][1] == SPEECH_LM_MODEL
        assert [row[1] for row in table["data"]] == ["acme/steady"]
        assert summary.startswith(f"1 ranked by {key} (")
        assert "; 0 partial" in summary and "3 failed validation" in summary
        assert min(Image.open(plot).size) > 100  # the scatter plot
    with pytest.raises(Exception, match="not in the list of choices"):  # Gradio checks the dropdown's value
        client.predict("no_such_metric", api_name="/show")


class _Page(HTMLParser):
    """The text and the elements of a rendered page."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.slow
def test_leaderboard_space_shows_submitted_text_as_text(board_space):
    import browser

    chromium = browser.require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium,
                *browser.BASE_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                board_space,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert proc.returncode == 0 and "acme/steady" in proc.stdout, proc.stderr[-2000:]
    page = _Page()
    page.feed(proc.stdout)
    text = "".join(page.text)
    assert text.count(HOSTILE) >= 2  # the two failed-validation rows, verbatim
    assert SPEECH_LM_MODEL in text  # the speech-LM table is shown
    assert not [attrs for tag, attrs in page.tags if "onerror" in attrs]  # no element made of it
    assert "<strong>bold</strong>" not in proc.stdout  # nor Markdown
