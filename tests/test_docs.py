"""The documentation works outside this machine: every link resolves inside the repository, every code block runs.

Documents: README.md, docs/*.md, the two Space cards (metric/s2sbench/README.md, leaderboard/README.md) and
the dataset card that `s2sbench_hf.data.hub_folder` writes (here: for a small release converted by
``s2sbench build convert``).

Links: a relative link must name a file inside the repository (and, with ``#anchor``, a heading of it, by
GitHub's slug rules); an absolute link must be https. Nothing may point outside the repository.

Code blocks: every ```` ```python ```` and ```` ```bash ```` block runs offline, in document order, in a
working folder of its own per document, or is marked just above with ``<!-- not run: REASON -->``.
Python blocks run in one subprocess per document (names carry over from block to block, as when a reader
pastes them one after another); bash blocks must be ``s2sbench`` commands and run through the command
line's entry point. What stands in for what the offline test machine lacks is spelled out below:

* `MODELS`: the real checkpoints a block names, replaced by tiny random-weight models of the same family;
* the default dataset ``undobug/S2SBench`` is NOT replaced: a small release in its published layout is put
  into a private Hugging Face cache as a Hub snapshot, which ``snapshot_download`` returns offline, so the
  block runs the same code path as a download;
* `USER_FILES`: the files a block expects the reader to have (checkpoints, a results folder, a source file);
* before the Python blocks, ``s2sbench metric install`` (the install line's last step) registers the
  `evaluate` module in a private modules cache.

Nothing else in a block is changed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub.constants
import pytest
from fake_release import QUESTIONS, STORIES, fake_snapshot, write_release
from markdown_it import MarkdownIt

from s2sbench_hf.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        ROOT / "metric" / "s2sbench" / "README.md",
        ROOT / "leaderboard" / "README.md",
    ]
)
DATASET_CARD = "dataset card"
"""The name of the card that `hub_folder` writes, among the documents."""

RUN_LANGUAGES = ("python", "bash")
LISTING_LANGUAGES = ("", "text", "yaml", "toml", "bibtex")
"""Fences that show data or a layout, not code to run."""
NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>\S.*\S) -->$")

MODELS = {
    "Qwen/Qwen2-Audio-7B": "{qwen2_audio}",  # the tiny random-weight Qwen2-Audio
    "my-org/my-model": "{causal_lm}",  # the tiny random-weight causal LM (bring your own model)
}
USER_FILES = {
    "runs/qwen2-audio": "the README quick start's run folder (`s2sbench run --model Qwen/Qwen2-Audio-7B ...`)",
    "runs/ckpt_0_0_1000, runs/ckpt_0_0_2000": "two training checkpoints (the tiny Qwen2-Audio)",
    "baichuan-results": "result files of the reference scripts (a run's own reference/ export)",
    "submissions/org__model/REV": "a downloaded submission (the quick start's run folder)",
    "local": "the submitted model as a local folder (the tiny Qwen2-Audio)",
    "path/to/results-repo": "a results dataset with one submission (the quick start's run)",
    "path/to/S2SBench, sStory_s2t.jsonl, s-story-firstspeech": "the reference release, and one task's files of it",
    "stories.jsonl, quiz.csv": "text sources to speak",
}
CARD_REPO = "path/to/this/folder"
"""What the dataset card calls its own folder when built without --repo; replaced by the folder."""


# ------------------------------------------------------------------------------------------ reading documents


@dataclass
class Block:
    document: str
    line: int
    language: str
    code: str
    not_run: str | None
    """The reason given in the marker above it, or None."""


def _parse(text: str):
    return MarkdownIt("commonmark").enable("table").parse(text)


def code_blocks(text: str, document: str) -> list[Block]:
    lines = text.split("\n")
    blocks = []
    for token in _parse(text):
        if token.type != "fence":
            continue
        start = token.map[0]
        above = next((lines[i].strip() for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(above)
        blocks.append(
            Block(document, start + 1, token.info.strip(), token.content, marker["reason"] if marker else None)
        )
    return blocks


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    tokens = _parse(text)
    seen: dict[str, int] = {}
    out = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        slug = github_slug("".join(child.content for child in inline.children if child.type in ("text", "code_inline")))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(text: str) -> list[str]:
    found = []
    for token in _parse(text):
        for child in token.children or []:
            if child.type == "link_open":
                found.append(child.attrs["href"])
            elif child.type == "image":
                found.append(child.attrs["src"])
    return found


def _documents(card: Path) -> dict[str, tuple[Path, str]]:
    docs = {str(p.relative_to(ROOT)): (p, p.read_text(encoding="utf-8")) for p in DOCUMENTS}
    docs[DATASET_CARD] = (card, card.read_text(encoding="utf-8"))
    return docs


# ---------------------------------------------------------------------------------------------- the world


@dataclass
class World:
    hub_cache: Path
    workspace: Path
    card: Path
    models: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory, qwen2_audio_path, causal_lm_path) -> World:
    """The fake Hub snapshot of undobug/S2SBench, the tiny models, and a workspace with `USER_FILES`."""
    base = tmp_path_factory.mktemp("docs-world")
    release = write_release(base / "release")
    hub_cache = base / "hf-hub"
    shutil.copytree(release, fake_snapshot(hub_cache), dirs_exist_ok=True)
    models = {
        name: value.format(qwen2_audio=qwen2_audio_path, causal_lm=causal_lm_path) for name, value in MODELS.items()
    }

    ws = base / "workspace"
    ws.mkdir()
    with _hub(hub_cache), _cwd(ws):
        assert (
            main(
                [
                    "run",
                    "--model",
                    str(qwen2_audio_path),
                    "--output",
                    "runs/qwen2-audio",
                    "--bootstrap",
                    "100",
                    "--no-progress",
                ]
            )
            == 0
        )
        assert (
            main(
                ["build", "convert", "--release", str(release), "--output", str(base / "card-folder"), "--no-progress"]
            )
            == 0
        )
    run = ws / "runs" / "qwen2-audio"
    for step in (1000, 2000):
        (ws / "runs" / f"ckpt_0_0_{step}").symlink_to(qwen2_audio_path, target_is_directory=True)
    shutil.copytree(run / "reference", ws / "baichuan-results")
    (ws / "local").symlink_to(qwen2_audio_path, target_is_directory=True)
    shutil.copytree(run, ws / "submissions" / "org__model" / "REV")
    content_hash = json.loads((run / "results.json").read_text())["model"]["content_hash"]
    submission = ws / "path/to/results-repo/submissions" / f"local__{Path(qwen2_audio_path).name}" / content_hash
    submission.mkdir(parents=True)
    for file in run.glob("*.json*"):
        shutil.copy(file, submission / file.name)
    shutil.copytree(release, ws / "path/to/S2SBench")
    shutil.copy(release / "S2S/StoryCloze/sStory_s2t.jsonl", ws)
    shutil.copytree(release / "S2S/StoryCloze/s-story-firstspeech", ws / "s-story-firstspeech")
    (ws / "stories.jsonl").write_text(
        "".join(
            json.dumps({"id": f"s{k}", "context": first, "choices": [good, bad], "label": 0}) + "\n"
            for k, (first, good, bad) in enumerate(STORIES["en"])
        ),
        encoding="utf-8",
    )
    (ws / "quiz.csv").write_text(
        "question,A,B,C,D,answer\n" + "".join(",".join(row) + "\n" for row in QUESTIONS), encoding="utf-8"
    )
    missing = [name for names in USER_FILES for name in names.split(", ") if not (ws / name).exists()]
    assert not missing, f"USER_FILES not made: {missing}"
    return World(hub_cache, ws, base / "card-folder" / "README.md", models)


class _cwd:
    def __init__(self, path: Path):
        self.path, self.before = path, None

    def __enter__(self):
        self.before = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc):
        os.chdir(self.before)


class _hub:
    """huggingface_hub reads its cache folder from this constant at every call (as the fake-Hub tests do)."""

    def __init__(self, cache: Path):
        self.cache, self.before = str(cache), None

    def __enter__(self):
        self.before = huggingface_hub.constants.HF_HUB_CACHE
        huggingface_hub.constants.HF_HUB_CACHE = self.cache

    def __exit__(self, *exc):
        huggingface_hub.constants.HF_HUB_CACHE = self.before


# ------------------------------------------------------------------------------------------ running blocks


def substituted(code: str, world: World, document: str, card_folder: Path) -> str:
    for name, local in world.models.items():
        code = code.replace(name, local)
    if document == DATASET_CARD:
        code = code.replace(CARD_REPO, str(card_folder))
    return code


def bash_commands(code: str) -> list[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped, one argv per line."""
    commands = []
    for line in code.replace("\\\n", " ").split("\n"):
        argv = shlex.split(line, comments=True)
        if argv:
            commands.append(argv)
    return commands


def run_bash(block: Block, code: str, cwd: Path, monkeypatch) -> None:
    for argv in bash_commands(code):
        env = {}
        while argv and re.fullmatch(r"[A-Z_]+=.*", argv[0]):
            key, value = argv.pop(0).split("=", 1)
            env[key] = value
        where = f"{block.document}:{block.line}: {shlex.join(argv)}"
        assert argv[:1] == ["s2sbench"], f"{where}: not an s2sbench command; mark it <!-- not run: REASON -->"
        assert set(env) <= {"PYTHONPATH"}, f"{where}: environment {sorted(env)} is not supported here"
        with monkeypatch.context() as patch:
            if "PYTHONPATH" in env:
                folder = (cwd / env["PYTHONPATH"]).resolve()
                patch.syspath_prepend(str(folder))
                for module in folder.glob("*.py"):  # as in a new process: no module of that name imported before
                    patch.delitem(sys.modules, module.stem, raising=False)
            code_ = main(argv[1:])
        assert code_ == 0, f"{where} exited with {code_}"


DRIVER = textwrap.dedent("""
    import contextlib, json, sys, traceback
    from s2sbench_hf.cli import main
    assert main(["metric", "install"]) == 0   # the install line's last step
    namespace = {"__name__": "__main__"}
    for line in sys.stdin:
        block = json.loads(line)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                exec(compile(block["code"], block["name"], "exec"), namespace)
            print(json.dumps({"ok": True}), flush=True)
        except BaseException:
            print(json.dumps({"ok": False, "error": traceback.format_exc()}), flush=True)
            break
""")


def run_python(blocks: list[tuple[Block, str]], cwd: Path, world: World) -> list[str]:
    """Run the blocks in one Python process, in order; the names of each block's failures ('' when it ran)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(world.hub_cache),
        "HF_MODULES_CACHE": str(cwd / ".hf-modules"),
    }
    feed = "".join(json.dumps({"code": code, "name": f"{b.document}:{b.line}"}) + "\n" for b, code in blocks)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=feed,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and len(replies) == len(blocks) and all(r["ok"] for r in replies), (
        f"python blocks of {blocks[0][0].document}: {len(replies)} of {len(blocks)} answered; "
        + "".join(r.get("error", "") for r in replies)
        + proc.stderr[-3000:]
    )
    return [b.document + f":{b.line}" for b, _ in blocks]


def _runnable(document: str, text: str) -> list[Block]:
    return [b for b in code_blocks(text, document) if b.language in RUN_LANGUAGES and b.not_run is None]


RUNNABLE_DOCUMENTS = [
    str(p.relative_to(ROOT)) for p in DOCUMENTS if _runnable(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
]


# ------------------------------------------------------------------------------------------------- tests


def test_every_code_block_is_run_or_marked_with_a_reason(world):
    for name, (_, text) in _documents(world.card).items():
        for block in code_blocks(text, name):
            where = f"{name}:{block.line}"
            assert block.language in RUN_LANGUAGES + LISTING_LANGUAGES, (
                f"{where}: a ```{block.language} block; use ```bash or ```python (run here) or a listing language"
            )
            if block.language in LISTING_LANGUAGES:
                assert block.not_run is None, f"{where}: a listing needs no marker"
    markers = [
        line
        for p in DOCUMENTS
        for line in p.read_text(encoding="utf-8").splitlines()
        if "not run" in line and line.strip().startswith("<!--")
    ]
    assert all(NOT_RUN.match(m.strip()) for m in markers), f"malformed markers: {markers}"


def test_readme_first_screen_and_size():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < 15_000
    blocks = code_blocks(text, "README.md")
    install, cli, python, make = blocks[:4]
    assert "pip install" in install.code and "s2sbench metric install" in install.code
    assert cli.language == "bash" and cli.not_run is None and len(cli.code.strip().splitlines()) == 3
    assert python.language == "python" and python.not_run is None and len(python.code.strip().splitlines()) == 3
    assert "--dataset" not in cli.code and "dataset" not in python.code  # the default: the real benchmark
    assert "make demo" in make.code and "make test" in make.code
    assert "`make test`" in text.split("## Tests", 1)[1]  # what .ci/run runs


PUBLISHED_ALONE = (DATASET_CARD, "metric/s2sbench/README.md", "leaderboard/README.md")
"""Cards that go to the Hub in a repository of their own (the dataset, the two Spaces): a relative link there
would lead nowhere."""


@pytest.mark.parametrize("document", [str(p.relative_to(ROOT)) for p in DOCUMENTS] + [DATASET_CARD])
def test_links_resolve_inside_the_repository(document, world):
    documents = _documents(world.card)
    path, text = documents[document]
    found = links(text)
    for href in found:
        where = f"{document}: link {href!r}"
        assert not href.startswith("http://"), f"{where}: use https"
        if href.startswith("https://"):
            continue
        assert ":" not in href.split("#")[0], f"{where}: not a relative link"
        target, _, anchor = href.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert document not in PUBLISHED_ALONE or not target, f"{where}: the card is published without the repository"
        assert file == ROOT or ROOT in file.parents, f"{where}: points outside the repository"
        assert file.exists(), f"{where}: {file} does not exist"
        if anchor:
            assert file.suffix == ".md", f"{where}: an anchor into a file that is not markdown"
            assert anchor in anchors(file.read_text(encoding="utf-8")), f"{where}: no heading #{anchor} in {file.name}"


def test_link_check_catches_bad_links(tmp_path):
    """The checks above fail where they should: an outside path, a missing anchor, a slug by GitHub's rules."""
    assert github_slug("Usage: `s2sbench run`") == "usage-s2sbench-run"
    assert github_slug("Scale: batching, many GPUs, resume") == "scale-batching-many-gpus-resume"
    assert anchors("# A\n\n## A\n\n### `x` y\n") == {"a", "a-1", "x-y"}
    assert links("[p](../shared/PROTOCOL.md) ![i](docs/x.png) `[no](link)`") == ["../shared/PROTOCOL.md", "docs/x.png"]
    blocks = code_blocks("<!-- not run: needs a GPU -->\n\n```bash\nmake demo\n```\n\n```python\nx = 1\n```\n", "d")
    assert [(b.language, b.not_run) for b in blocks] == [("bash", "needs a GPU"), ("python", None)]
    assert bash_commands("s2sbench run --a 1 \\\n    --b 'x y'  # note\n\nPYTHONPATH=. s2sbench x\n") == [
        ["s2sbench", "run", "--a", "1", "--b", "x y"],
        ["PYTHONPATH=.", "s2sbench", "x"],
    ]


@pytest.mark.slow
@pytest.mark.parametrize("document", RUNNABLE_DOCUMENTS + [DATASET_CARD])
def test_code_blocks_run(document, world, tmp_path, monkeypatch):
    """Every unmarked block of the document runs offline, in order, in a copy of the workspace."""
    blocks = _runnable(document, _documents(world.card)[document][1])
    assert blocks, f"{document} has no code block to run"
    cwd = tmp_path / "ws"
    shutil.copytree(world.workspace, cwd, symlinks=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(world.hub_cache))
    ran, pending = [], []

    def flush():
        if pending:
            ran.extend(run_python(pending, cwd, world))
            pending.clear()

    for block in blocks:
        code = substituted(block.code, world, document, world.card.parent)
        if block.language == "python":
            first = code.lstrip().split("\n", 1)[0]
            if re.fullmatch(r"# [\w.]+\.py", first):  # a file to save (e.g. "# my_scorer.py"), then imported below
                (cwd / first[2:]).write_text(code, encoding="utf-8")
            pending.append((block, code))
        else:
            flush()
            run_bash(block, code, cwd, monkeypatch)
            ran.append(f"{block.document}:{block.line}")
    flush()
    assert ran == [f"{b.document}:{b.line}" for b in blocks]
