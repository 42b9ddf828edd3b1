"""`s2sbench leaderboard`: re-validated, ranked; the HTML board works in a real (headless) browser; text from
outside goes through one rule (`s2sbench_hf.files`, `s2sbench_hf.render`), and published files are written whole
or not at all."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_runs import make_run

from s2sbench_hf import files, hub, leaderboard, render
from s2sbench_hf.cli import main
from s2sbench_hf.tasks import TASKS

# name, text skill, audio skill, params
MODELS = [
    ("acme/steady", 0.95, 0.90, 7_000_000_000),
    ("acme/deaf", 0.95, 0.30, None),
    ("acme/middling", 0.75, 0.65, 1_500_000_000),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A results repo folder as `s2sbench submit` lays it out: three valid submissions and a tampered one."""
    root = tmp_path_factory.mktemp("results-repo")
    runs = tmp_path_factory.mktemp("runs")
    for i, (name, text, audio, params) in enumerate(MODELS):
        run = make_run(
            runs / f"run{i}",
            name,
            text=text,
            audio=audio,
            seed=i,
            num_parameters=params,
            revision=f"{i:040x}",
            tasks=tuple(TASKS),
            limit=None,  # complete runs: the board ranks only those
        )
        results = json.loads((run / "results.json").read_text())
        shutil.copytree(run, root / hub.submission_folder(results))
    bad = root / "submissions/acme__tampered/ffff"
    shutil.copytree(runs / "run2", bad)
    data = json.loads((bad / "results.json").read_text())
    data["model"]["model_id"] = "acme/tampered"
    data["results"]["scmmlu"]["settings"]["audio"]["accuracy"] = 0.99
    (bad / "results.json").write_text(json.dumps(data))
    return root


@pytest.fixture(scope="module")
def board_dir(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("board")
    assert main(["leaderboard", str(source), "--output", str(out), "--accept", "samples"]) == 0
    return out


def _build(source, **kwargs):
    """The board of the test submissions, which are runs on the bundled sample sets."""
    return leaderboard.build_board(source, accepted=["samples"], **kwargs)


def _expected_order(source, key):
    board = _build(source, sort_by=key)
    return [s.name for s in board.ranked]


def test_ranking_and_validation(source):
    board = _build(source)
    assert [s.name for s in board.ranked] == ["acme/steady", "acme/middling", "acme/deaf"]
    values = [s.value("audio_accuracy") for s in board.ranked]
    assert values == sorted(values, reverse=True)
    assert [s.rank for s in board.ranked] == [1, 2, 3]
    (bad,) = board.invalid
    assert bad.name == "acme/tampered" and "metric_mismatch" in bad.report.kinds
    by_gap = _build(source, sort_by="gap")
    gaps = [s.value("gap") for s in by_gap.ranked]
    assert gaps == sorted(gaps) and by_gap.ranked[-1].name == "acme/deaf"
    assert _build(source, sort_by="scmmlu:text_accuracy").ranked[0].value("scmmlu:text_accuracy") == max(
        s.value("scmmlu:text_accuracy") for s in board.ranked
    )


def test_unknown_sort_key_names_the_choices(source, tmp_path, capsys):
    assert (
        main(["leaderboard", str(source), "--output", str(tmp_path), "--sort-by", "loudness", "--accept", "samples"])
        == 2
    )
    assert "audio_accuracy" in capsys.readouterr().err


def test_markdown_board(board_dir):
    text = (board_dir / "leaderboard.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "acme/" in line]
    assert [r.split(" | ")[1] for r in rows[:3]] == ["acme/steady", "acme/middling", "acme/deaf"]
    assert "7.0B" in rows[0] and "| - |" in rows[2]
    assert "Failed validation" in text and "acme/tampered" in text and "metric_mismatch" in text
    assert (board_dir / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((board_dir / "leaderboard.json").read_text())
    assert [r["model"] for r in data["ranked"]] == ["acme/steady", "acme/middling", "acme/deaf"]
    assert data["invalid"][0]["valid"] is False


def test_gradio_table_matches_the_markdown(source):
    board = _build(source)
    headers, rows = leaderboard.board_table(board)
    assert headers[:2] == ["#", "model"] and len(rows) == 3 and all(len(r) == len(headers) for r in rows)
    app = Path(__file__).parents[1] / "leaderboard" / "app.py"
    compile(app.read_text(encoding="utf-8"), str(app), "exec")  # the Space app is not imported: no gradio here
    assert "s2sbench_hf.leaderboard" in app.read_text(encoding="utf-8")


# ------------------------------------------------------------------------- browser


OWN_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _render_dom(html_path: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran, from headless Chromium.

    Uses the shared ``tests/browser.py`` (its Chromium discovery, flags and skip
    message); its `render_dom` takes a file, so a URL with a ``#sort=...``
    fragment is opened here with the same binary and flags.
    """
    try:
        import browser
    except ImportError:
        browser = None
    if browser is not None:
        chromium = browser.require_chromium()
        if not fragment:
            return browser.render_dom(html_path, budget_ms=3000)
        flags = browser.BASE_FLAGS
    else:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if chromium is None:
            pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
        flags = OWN_FLAGS
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium,
                *flags,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=3000",
                "--dump-dom",
                Path(html_path).resolve().as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class _Board(HTMLParser):
    """Rows of #board and #invalid, and the body's and images' attributes, from a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.table = None
        self.rows = {"board": [], "invalid": []}
        self.body = {}
        self.images = []
        self.headers = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        elif tag == "table":
            self.table = attrs.get("id")
        elif tag == "tr" and self.table in self.rows and "data-path" in attrs:
            self.rows[self.table].append(attrs)
        elif tag == "th" and self.table == "board":
            self.headers.append(attrs)
        elif tag == "img":
            self.images.append(attrs)


def _parse(dom: str) -> _Board:
    parser = _Board()
    parser.feed(dom)
    return parser


@pytest.mark.slow
def test_html_board_in_a_browser(board_dir, source):
    page = board_dir / "index.html"
    dom = _render_dom(page)
    default = _parse(dom)
    assert default.body.get("data-images-loaded") == "true"
    assert len(default.images) == 1 and default.images[0]["src"].startswith("data:image/png;base64,")
    assert [r["data-model"] for r in default.rows["board"]] == ["acme/steady", "acme/middling", "acme/deaf"]
    assert [r["data-model"] for r in default.rows["invalid"]] == ["acme/tampered"]
    assert "metric_mismatch" in dom and "failed validation" in dom

    by_model = _parse(_render_dom(page, "#sort=model"))
    by_gap = _parse(_render_dom(page, "#sort=gap"))
    model_order = [r["data-model"] for r in by_model.rows["board"]]
    gap_order = [r["data-model"] for r in by_gap.rows["board"]]
    assert model_order == sorted(m for m, *_ in MODELS)
    assert gap_order == _expected_order(source, "gap")
    assert model_order != gap_order
    assert len(by_model.rows["board"]) == len(by_gap.rows["board"]) == 3
    sorted_header = [h for h in by_gap.headers if h.get("aria-sort")]
    assert [(h["data-key"], h["aria-sort"]) for h in sorted_header] == [("gap", "ascending")]
    assert not re.search(r"https?://[^\"']+\.js", page.read_text(encoding="utf-8"))  # no external script


# ------------------------------------------------------------------ text from outside, files


def test_one_rule_for_text_from_outside():
    """A lone surrogate (JSON can spell one), a byte that is not UTF-8, control characters: literal everywhere."""
    assert files.safe_text("tiny\udcff") == "tiny\\udcff"
    assert files.safe_text(b"bad\xffname") == "bad\\xffname"
    assert files.safe_text("ok 中文 \U0001f600") == "ok 中文 \U0001f600"  # text that encodes stays as it is
    assert files.plain("a\r\nb\u202ec\udcff") == "a  b c\\udcff"
    assert render.escape_markdown("<b>*x*</b>\udcff") == "&lt;b&gt;\\*x\\*&lt;/b&gt;\\\\udcff"
    assert "<h1>&#34;&lt;x&gt;&#34; \\udcff</h1>" in render.html(render.Document(render.Quote('"<x>"\n\udcff')))
    for escape in (files.safe_text, files.plain, render.escape_markdown):
        escape("tiny\udcff").encode("utf-8")  # never raises


def test_atomic_write_encodes_before_it_touches_the_file(tmp_path):
    """Issue 20: text that cannot be encoded left leaderboard.md at 0 bytes; now it leaves the old file whole."""
    path = files.atomic_write(tmp_path / "board.md", "the last good board\n")
    with pytest.raises(UnicodeEncodeError):
        files.atomic_write(path, "tiny\udcff")
    assert path.read_bytes() == b"the last good board\n"
    assert [p.name for p in tmp_path.iterdir()] == ["board.md"]  # no temporary file left
    assert files.atomic_write(path, b"\x89PNG").read_bytes() == b"\x89PNG"


def test_a_bar_over_the_submissions_validated_and_none_with_no_progress(source, tmp_path, capsys):
    command = ["leaderboard", str(source), "--accept", "samples", "--output"]
    assert main([*command, str(tmp_path / "quiet"), "--no-progress"]) == 0
    assert "%|" not in capsys.readouterr().err  # no bar at all
    assert main([*command, str(tmp_path / "shown")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"validating submissions: +100%.*\b4/4\b", err)  # three valid submissions and a tampered one


def test_a_hub_source_without_a_network_is_read_from_the_cache_only(monkeypatch, tmp_path):
    """With offline mode off but no answer from the Hub's probe, the board's download is cache-only: no retries, the
    one line of `source_problem`; and offline mode is as it was after."""
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    from s2sbench_hf import failures

    probes = []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(failures, "_last_probe", None)
    monkeypatch.setattr(failures, "hub_reachable", lambda: probes.append(1) or False)
    with pytest.raises(LocalEntryNotFoundError) as caught:  # at once: cache only
        leaderboard.resolve_source("acme/results-not-cached")
    assert probes == [1] and constants.HF_HUB_OFFLINE is False
    assert leaderboard.source_problem("acme/results-not-cached", caught.value).startswith(
        "cannot reach the Hugging Face Hub"
    )
