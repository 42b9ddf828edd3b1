"""The two Gradio Spaces, started as a Space starts them (``python app.py``), headless, on a free local port.

The metric Space must return the module's numbers; the leaderboard Space the
library's ranked table, with a hostile model name shown as text in a real
(headless) browser, and a file that no encoder writes (a lone surrogate) listed
as failed while the rest of the board is shown. The cards and requirements must
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
from html.parser import HTMLParser
from importlib.metadata import requires
from pathlib import Path

import pytest
from fake_runs import make_run
from packaging.requirements import Requirement
from packaging.version import Version
from PIL import Image

import s2sbench_hf
from s2sbench_hf import evaluate_metric, hub, leaderboard
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


# ------------------------------------------------------------------------- the leaderboard Space


SURROGATE_ID = "tiny\udcff"
"""A model id with a lone surrogate: legal JSON (the escape ``\\udcff``), not encodable as UTF-8."""


@pytest.fixture(scope="module")
def results_repo(tmp_path_factory) -> Path:
    """A results repo: a plain, complete submission laid out by `s2sbench submit`, one whose model id is markup
    (which `submit` refuses, so it is put there by hand, as an attacker would), a tampered copy of it, and one
    whose model id holds a lone surrogate."""
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
    return root


@pytest.fixture
def board_app(results_repo, monkeypatch):
    """The leaderboard Space's ``app.py`` imported (not launched) with its settings pointing at `results_repo`."""
    pytest.importorskip("gradio", reason="the Spaces need gradio: pip install -e '.[spaces]' (the dev extra has it)")
    monkeypatch.setenv("S2SBENCH_RESULTS_REPO", str(results_repo))
    monkeypatch.setenv("S2SBENCH_ACCEPTED_DATASETS", "samples")
    spec = importlib.util.spec_from_file_location("leaderboard_space_app", SPACES["leaderboard"] / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_leaderboard_space_lists_a_bad_file_as_failed_and_shows_the_rest(board_app):
    """Issue 20: a model id with a lone surrogate made `show()` raise, so every table was gone."""
    summary, table, plot, partial, other, invalid = board_app.show("audio_accuracy")
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
        summary, table, plot, partial, other, invalid = client.predict(key, api_name="/show")
        board = leaderboard.build_board(results_repo, sort_by=key, accepted=["samples"])
        assert (table["headers"], table["data"]) == leaderboard.board_table(board)
        assert (partial["headers"], partial["data"]) == leaderboard.board_table(board, group="partial")
        assert (other["headers"], other["data"]) == leaderboard.board_table(board, group="other")
        assert (invalid["headers"], invalid["data"]) == leaderboard.invalid_table(board)
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
    assert not [attrs for tag, attrs in page.tags if "onerror" in attrs]  # no element made of it
    assert "<strong>bold</strong>" not in proc.stdout  # nor Markdown
