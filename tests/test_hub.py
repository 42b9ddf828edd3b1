"""`s2sbench submit` and `s2sbench card`: commit plans, a fake Hub, Hub-native results, no token anywhere."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
import yaml
from fake_runs import make_run
from huggingface_hub import ModelCard, parse_eval_result_entries
from huggingface_hub.errors import (
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)

from s2sbench_hf import hub, hub_repo
from s2sbench_hf.cli import main
from s2sbench_hf.data import eval_yaml
from s2sbench_hf.tasks import TASKS

FLAG_TOKEN = "hf_FLAGtokenDoNotLeak1234567890abcdef"
ENV_TOKEN = "hf_ENVtokenDoNotLeak0987654321fedcba"
BENCHMARK = "s2sbench-org/s2sbench"
MODEL = "acme/speechy-7b"
REVISION = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
HEAD = "0123456789abcdef0123456789abcdef01234567"
"""The model repo's current commit in the fake Hub."""
HUB_RESPONSE = SimpleNamespace(headers={}, request=None)
"""What huggingface_hub's HTTP errors read from a response (no request is made)."""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("hub") / "run", MODEL, text=0.9, audio=0.6, revision=REVISION)


class FakeApi:
    """Records what would be sent to the Hub; serves a README for the card tests."""

    calls: ClassVar[list[dict]] = []
    readme: str | None = None
    info_failure: Exception | None = None
    download_failure: Exception | None = None

    def __init__(self, *args, **kwargs):
        type(self).instances = getattr(type(self), "instances", 0) + 1

    def create_commit(self, **kwargs):
        ops = kwargs["operations"]
        contents = {}
        for op in ops:
            src = op.path_or_fileobj
            contents[op.path_in_repo] = Path(src).read_bytes() if isinstance(src, str) else bytes(src)
        type(self).calls.append({**kwargs, "contents": contents})

        class Info:
            pr_url = f"https://huggingface.co/{kwargs['repo_type']}s/{kwargs['repo_id']}/discussions/1"

        return Info()

    def model_info(self, repo_id, token=None):
        if type(self).info_failure is not None:
            raise type(self).info_failure
        return SimpleNamespace(sha=HEAD)

    def hf_hub_download(self, repo_id, filename, repo_type=None, revision=None, token=None):
        assert revision == HEAD  # the card is read at the commit the pull request will be based on
        if type(self).download_failure is not None:
            raise type(self).download_failure
        if type(self).readme is None:  # what the Hub answers for a repo without the file
            raise RemoteEntryNotFoundError("404 Client Error: Entry Not Found (README.md)", response=HUB_RESPONSE)
        path = Path(self.tmp) / "README.md"
        path.write_text(type(self).readme, encoding="utf-8")
        return str(path)


@pytest.fixture
def fake_api(monkeypatch, tmp_path):
    class Api(FakeApi):
        calls: ClassVar[list[dict]] = []
        readme = None
        tmp = tmp_path

    monkeypatch.setattr(hub, "HfApi", Api)  # reading the current card
    monkeypatch.setattr(hub_repo, "HfApi", Api)  # every push
    return Api


@pytest.fixture
def tokens(monkeypatch, tmp_path):
    """A token in the environment and a fresh HF_HOME, so that anything written lands where the test looks."""
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def _no_token_in(texts, folders):
    for text in texts:
        assert FLAG_TOKEN not in text and ENV_TOKEN not in text
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert FLAG_TOKEN.encode() not in data and ENV_TOKEN.encode() not in data, path


def test_dry_run_prints_the_plan_and_sends_nothing(run_dir, fake_api, tokens, capsys):
    assert main(["submit", str(run_dir), "--repo", "org/results", "--dry-run", "--token", FLAG_TOKEN]) == 0
    out = capsys.readouterr().out
    folder = f"submissions/acme__speechy-7b/{REVISION}"
    assert hub.submission_folder(json.loads((run_dir / "results.json").read_text())) == folder
    for name in ("results.json", "samples_sstorycloze.jsonl", "samples_scmmlu.jsonl"):
        assert f"{folder}/{name}" in out
        assert f"{(run_dir / name).stat().st_size:,} bytes" in out
    assert "create_pr=True" in out and "org/results (dataset)" in out
    assert fake_api.calls == []


def test_the_commit_plan(run_dir):
    plan = hub.plan_submission(run_dir, "org/results")
    folder = f"submissions/acme__speechy-7b/{REVISION}"
    assert [f.path_in_repo for f in plan.files] == [
        f"{folder}/results.json",
        f"{folder}/samples_sstorycloze.jsonl",
        f"{folder}/samples_scmmlu.jsonl",
    ]
    assert plan.create_pr is True and plan.repo_type == "dataset"
    assert MODEL in plan.commit_message and REVISION in plan.commit_message
    for op, planned in zip(plan.operations(), plan.files, strict=True):
        assert op.path_in_repo == planned.path_in_repo
        assert Path(op.path_or_fileobj).read_bytes() == (run_dir / Path(planned.path_in_repo).name).read_bytes()
    assert plan.to_dict()["files"][0]["size"] == (run_dir / "results.json").stat().st_size
    assert hub.plan_submission(run_dir, "org/results", create_pr=False).create_pr is False


def test_submit_opens_a_pull_request_with_results_and_samples(run_dir, fake_api, tokens, capsys):
    assert main(["submit", str(run_dir), "--repo", "org/results", "--token", FLAG_TOKEN]) == 0
    (call,) = fake_api.calls
    assert call["repo_id"] == "org/results" and call["repo_type"] == "dataset" and call["create_pr"] is True
    folder = f"submissions/acme__speechy-7b/{REVISION}"
    assert sorted(call["contents"]) == sorted(
        f"{folder}/{n}" for n in ("results.json", "samples_sstorycloze.jsonl", "samples_scmmlu.jsonl")
    )
    for path, data in call["contents"].items():
        assert data == (run_dir / Path(path).name).read_bytes()
    assert call["token"] == FLAG_TOKEN  # handed to huggingface_hub, and nowhere else
    out = capsys.readouterr().out
    assert "discussions/1" in out and "token:    from --token" in out


def test_submit_without_pr_and_with_the_env_token(run_dir, fake_api, tokens):
    assert main(["submit", str(run_dir), "--repo", "org/results", "--no-create-pr"]) == 0
    (call,) = fake_api.calls
    assert call["create_pr"] is False and call["token"] == ENV_TOKEN


def test_an_invalid_run_is_not_submitted(run_dir, fake_api, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(run_dir, bad)
    lines = (bad / "samples_scmmlu.jsonl").read_text().splitlines()
    (bad / "samples_scmmlu.jsonl").write_text("\n".join(lines[1:]) + "\n")
    assert main(["submit", str(bad), "--repo", "org/results"]) == 1
    assert fake_api.calls == []
    assert "nothing was submitted" in capsys.readouterr().err


def test_no_token_is_written_or_printed(run_dir, fake_api, tokens, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    out_dir = tmp_path / "board"
    commands = [
        ["submit", str(run_dir), "--repo", "org/results", "--dry-run", "--token", FLAG_TOKEN],
        ["submit", str(run_dir), "--repo", "org/results", "--token", FLAG_TOKEN],
        ["submit", str(run_dir), "--repo", "org/results"],
        ["card", str(run_dir), "--repo", MODEL, "--benchmark", BENCHMARK, "--dry-run", "--token", FLAG_TOKEN],
        ["card", str(run_dir), "--repo", MODEL, "--benchmark", BENCHMARK, "--token", FLAG_TOKEN],
        ["leaderboard", str(run_dir.parent), "--output", str(out_dir)],
    ]
    for argv in commands:
        assert main(argv) == 0, argv
    captured = capsys.readouterr()
    committed = [data.decode("utf-8", "replace") for call in fake_api.calls for data in call["contents"].values()]
    committed += [str(call.get("commit_message")) + str(call.get("commit_description")) for call in fake_api.calls]
    _no_token_in([captured.out, captured.err, caplog.text, *committed], [run_dir, tmp_path])


# ------------------------------------------------------------------- model cards


EXISTING_CARD = """---
license: apache-2.0
model-index:
- name: speechy-7b
  results:
  - task:
      type: automatic-speech-recognition
    dataset:
      name: LibriSpeech test-clean
      type: openslr/librispeech_asr
    metrics:
    - type: wer
      value: 3.1
---
# speechy-7b

Our model.
"""


def test_card_dry_run_shows_model_index_and_eval_results(run_dir, fake_api, capsys):
    assert main(["card", str(run_dir), "--repo", MODEL, "--benchmark", BENCHMARK, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "the Hub answered that the repo has no card; creating one" in out and f"based on: commit {HEAD}" in out
    readme = out.split("README.md (creates the card):\n" + "-" * 60 + "\n")[1].split("\n" + "-" * 60)[0]
    card = ModelCard(readme)
    results = json.loads((run_dir / "results.json").read_text())
    metrics = hub.hub_metrics(results)
    assert {(r.dataset_config, r.metric_name, r.metric_value) for r in card.data.eval_results} == {
        (m.task, f"{m.task} {m.name}", m.value) for m in metrics
    }
    eval_text = out.split(f"{hub.EVAL_RESULTS_FILE}:\n" + "-" * 60 + "\n")[1].split("\n" + "-" * 60)[0]
    entries = parse_eval_result_entries(yaml.safe_load(eval_text))
    assert {(e.task_id, e.value) for e in entries} == {(m.eval_task_id, m.value) for m in metrics if m.eval_task_id}
    assert fake_api.calls == []


def test_card_updates_the_existing_card_through_a_pull_request(run_dir, fake_api, tokens):
    fake_api.readme = EXISTING_CARD
    assert main(["card", str(run_dir), "--repo", MODEL, "--benchmark", BENCHMARK, "--token", FLAG_TOKEN]) == 0
    (call,) = fake_api.calls
    assert call["repo_id"] == MODEL and call["repo_type"] == "model" and call["create_pr"] is True
    assert call["parent_commit"] == HEAD  # the pull request changes the card that was read
    assert sorted(call["contents"]) == [hub.EVAL_RESULTS_FILE, "README.md"]
    card = ModelCard(call["contents"]["README.md"].decode())
    assert card.data.license == "apache-2.0" and "Our model." in card.text
    kept = [r for r in card.data.eval_results if r.dataset_type == "openslr/librispeech_asr"]
    assert [(r.metric_type, r.metric_value) for r in kept] == [("wer", 3.1)]
    ours = [r for r in card.data.eval_results if r.dataset_type == BENCHMARK]
    results = json.loads((run_dir / "results.json").read_text())
    story = results["results"]["sstorycloze"]
    audio = [r for r in ours if r.dataset_config == "sstorycloze" and r.metric_config == "audio"]
    assert audio[0].metric_value == round(100 * story["settings"]["audio"]["accuracy"], 2)
    gap = [r for r in ours if r.dataset_config == "sstorycloze" and r.metric_type == "s2sbench_gap"]
    assert gap[0].metric_value == round(100 * story["degradation"]["gap"], 2)
    assert hub.CARD_SECTION_START in card.text

    entries = parse_eval_result_entries(yaml.safe_load(call["contents"][hub.EVAL_RESULTS_FILE]))
    values = {e.task_id: e.value for e in entries}
    assert values["sstorycloze_audio"] == audio[0].metric_value
    assert all(e.dataset_id == BENCHMARK for e in entries)
    assert entries[0].notes == "first 8 items per task only; bundled sample sets, not the full benchmark"

    # Writing the same results again changes nothing (replaces, never duplicates).
    again = hub.update_card(call["contents"]["README.md"].decode(), results, BENCHMARK)
    assert again == call["contents"]["README.md"].decode()


CARD = ["--repo", MODEL, "--benchmark", BENCHMARK]


@pytest.mark.parametrize(
    ("where", "failure", "words"),
    [
        # huggingface_hub's network failure is a subclass of EntryNotFoundError, the class of "no such file"
        ("download", LocalEntryNotFoundError("cannot find the requested files in the local cache"), "did not answer"),
        ("info", OfflineModeIsEnabled("offline mode is enabled"), "offline mode is on"),
        ("info", ConnectionError("Connection reset by peer\nretrying"), "did not answer (ConnectionError"),
        ("download", TimeoutError("read timed out"), "did not answer (TimeoutError"),
        ("info", RepositoryNotFoundError("404 Repository Not Found", response=HUB_RESPONSE), "was not found"),
    ],
)
def test_a_card_that_cannot_be_read_is_never_replaced(run_dir, fake_api, tokens, capsys, where, failure, words):
    """Only the Hub's answer "no such file" makes a new card; any other failure is one line, exit 2, nothing sent."""
    fake_api.readme = EXISTING_CARD
    setattr(fake_api, f"{where}_failure", failure)
    for dry_run in (["--dry-run"], []):
        assert main(["card", str(run_dir), *CARD, *dry_run]) == 2
        captured = capsys.readouterr()
        (line,) = [line for line in captured.err.splitlines() if line.startswith("error:")]
        assert words in line and "nothing was written or sent" in line and "--from-card" in line
        assert "creating" not in captured.out + captured.err and "Traceback" not in captured.err
    assert fake_api.calls == []


def test_card_offline_with_the_real_hub_client_is_one_line(run_dir, capsys):
    """HF_HUB_OFFLINE=1 (set for the tests): the dry run no longer says "creating one" and exits 0."""
    assert main(["card", str(run_dir), *CARD, "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "offline mode is on" in captured.err and "creating" not in captured.out


def test_card_from_a_local_file(run_dir, fake_api, tmp_path, capsys):
    local = tmp_path / "README.md"
    local.write_text(EXISTING_CARD, encoding="utf-8")
    fake_api.info_failure = OfflineModeIsEnabled("offline mode is enabled")  # the Hub is not asked
    assert main(["card", str(run_dir), *CARD, "--from-card", str(local), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"starting from {local}" in out and "Our model." in out and "based on:" not in out
    assert main(["card", str(run_dir), *CARD, "--from-card", str(tmp_path / "missing.md"), "--dry-run"]) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "cannot read the card" in line and "missing.md" in line


def test_card_needs_a_benchmark_for_sample_runs(run_dir, capsys):
    assert main(["card", str(run_dir), "--repo", MODEL, "--dry-run"]) == 2
    assert "--benchmark" in capsys.readouterr().err


def test_eval_yaml_declares_the_task_ids_that_cards_write(run_dir):
    spec = yaml.safe_load(eval_yaml.eval_yaml())
    assert {"name", "description", "evaluation_framework", "tasks"} <= set(spec)
    ids = [t["id"] for t in spec["tasks"]]
    assert len(ids) == len(set(ids)) == 2 * len(TASKS)
    assert all(t["split"] == "test" and t["config"] in TASKS for t in spec["tasks"])
    results = json.loads((run_dir / "results.json").read_text())
    assert {e.task_id for e in hub.eval_result_entries(results, BENCHMARK)} <= set(ids)
    assert [t["id"] for t in yaml.safe_load(eval_yaml.eval_yaml(["scmmlu"]))["tasks"]] == [
        "scmmlu_text",
        "scmmlu_audio",
    ]


def test_slugs():
    assert hub.model_slug("Qwen/Qwen2-Audio-7B") == "Qwen__Qwen2-Audio-7B"
    assert hub.model_slug("/tmp/runs/my model/") == "local__my-model"
    assert hub.revision_slug({"revision": None, "content_hash": "sha256:abc"}) == "sha256-abc"


def test_submission_folders_are_checked_and_stay_inside():
    """Model ids and revisions follow the Hub's rules before a path is made of them (issue 12)."""
    assert (
        hub.submission_folder({"model": {"model_id": "acme/x", "revision": "refs/pr/1"}})
        == "submissions/acme__x/refs-pr-1"
    )
    local = {"model_id": "/tmp/../..", "revision": None, "content_hash": "sha256:" + "0" * 64}
    assert hub.submission_folder({"model": local}) == "submissions/local__unnamed/sha256-" + "0" * 64
    for model in (
        {"model_id": "acme/x", "revision": ".."},
        {"model_id": "../x", "revision": "a" * 40},
        {"model_id": "a/b/c", "revision": "main"},
        {"model_id": "<script>", "revision": "main"},
        {"model_id": "acme/x", "revision": "a/../../b"},
        {"model_id": "/x", "content_hash": "../.."},
    ):
        with pytest.raises(hub.HubError):
            hub.submission_folder({"model": model})
    for escaping in ("submissions/../x", "/submissions/a", "submissions/a/./b", "submissions\\a", "other/a"):
        with pytest.raises(hub.HubError, match="not a plain path"):
            hub.path_inside(hub.SUBMISSIONS_DIR, escaping)
