"""Building a spoken set from a text multiple-choice source: espeak-ng and transformers TTS, workers, errors, push."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import ClassVar

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml
from cli_helpers import run_cli

from s2sbench_hf import hub_repo
from s2sbench_hf.cli import main
from s2sbench_hf.data import hub_folder
from s2sbench_hf.data.builder import ColumnMap, SpeechConfig, TaskSource, build_dataset, build_tasks, new_task
from s2sbench_hf.data.hub_folder import DATA_FILE, content_hash, write_dataset_folder
from s2sbench_hf.data.loaded import BadSourceError, DataSourceError
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.data.tts import Voice, make_voices, pick_voice
from s2sbench_hf.tasks import UnknownTaskError

EN = [
    {"id": "e1", "context": "Tom ran.", "choices": ["He won.", "He flew away over the sea."], "label": 0},
    {
        "id": "e2",
        "context": "Tom ran to the shop, bought fresh bread and milk, and walked home slowly in the rain.",
        "choices": ["He was wet.", "He was dry."],
        "label": "He was wet.",
    },
    {
        "id": "e3",
        "context": "Anna sang a song for her grandmother, who smiled, clapped her hands and asked for "
        "another one, so Anna sang three more songs until the sun went down behind the hills.",
        "choices": ["They were happy.", "They were angry."],
        "label": 0,
    },
]
ZH = [
    {"id": "z1", "context": "他跑了。", "choices": ["他赢了。", "他飞了。"], "label": 0},
    {
        "id": "z2",
        "context": "小明周末想去公园放风筝，可是到了公园，一点风都没有，他等了一个小时。",
        "choices": ["风筝飞不起来。", "风筝飞得很高。"],
        "label": 0,
    },
    {
        "id": "z3",
        "context": "王阿姨每天早上都去菜市场买菜。今天她想给孙子做红烧鱼，她挑了一条新鲜的鲤鱼，又买了葱和姜，"
        "回到家后，她就在厨房里忙了起来，一直忙到中午。",
        "choices": ["孙子吃得很开心。", "她不做饭了。"],
        "label": 0,
    },
]


@pytest.fixture(autouse=True)
def private_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")


def write_jsonl(path: Path, rows: list) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def decode(blob: bytes) -> np.ndarray:
    info = sf.info(io.BytesIO(blob))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    return sf.read(io.BytesIO(blob), dtype="float32")[0]


def parquet_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """English and Chinese sets from jsonl sources, espeak-ng, one process."""
    root = tmp_path_factory.mktemp("build")
    sources = [
        TaskSource("en_demo", write_jsonl(root / "en.jsonl", EN), language="en", description="English demo"),
        TaskSource("zh_demo", write_jsonl(root / "zh.jsonl", ZH), language="zh"),
    ]
    return build_tasks(root / "out", sources, SpeechConfig(), workers=1, progress=False)


def test_espeak_build_in_both_languages(built):
    assert datasets.get_dataset_config_names(str(built)) == ["en_demo", "zh_demo"]
    for config, rows, voice in (("en_demo", EN, "en-us@175"), ("zh_demo", ZH, "cmn@175")):
        ds = datasets.load_dataset(str(built), config, split="test")
        assert ds.features["audio"] == datasets.Audio(sampling_rate=16000)
        assert ds.features["choices_audio"] == datasets.List(datasets.Audio(sampling_rate=16000))
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
        ds = ds.cast_column("choices_audio", datasets.List(datasets.Audio(decode=False)))
        assert ds["id"] == [r["id"] for r in rows] and ds["label"] == [0, 0, 0]
        assert ds["context"] == [r["context"] for r in rows] and ds["voice"] == [voice] * 3
        lengths = []
        for row in ds:
            audio = decode(row["audio"]["bytes"])
            assert np.sqrt(np.mean(audio**2)) > 0.02  # speech, not silence
            lengths.append(len(audio))
            clips = [decode(clip["bytes"]) for clip in row["choices_audio"]]
            assert len(clips) == 2 and all(np.abs(clip).max() > 0.05 for clip in clips)
        assert lengths[0] < lengths[1] < lengths[2]  # longer text, longer speech

    card = (built / "README.md").read_text(encoding="utf-8")
    assert "espeak-ng" in card and "en_demo: en-us@175" in card and "content hash" in card
    assert "- en\n" in card and "- zh\n" in card
    declared = yaml.safe_load((built / "eval.yaml").read_text(encoding="utf-8"))
    assert {task["config"] for task in declared["tasks"]} == {"en_demo", "zh_demo"}


def test_build_is_deterministic_whatever_the_workers(tmp_path, built):
    source = write_jsonl(
        tmp_path / "stories.jsonl",
        [
            {
                "id": f"s{i}",
                "context": f"Story {i}: the dog ran to the park.",
                "choices": ["It played.", "It flew."],
                "label": 0,
            }
            for i in range(8)
        ],
    )
    speech = SpeechConfig(voices=["en-us", "en-gb"], rates=[150, 190], seed=3)
    one = build_dataset(source, tmp_path / "one", task_id="sstorycloze", speech=speech, workers=1, progress=False)
    two = build_dataset(source, tmp_path / "two", task_id="sstorycloze", speech=speech, workers=2, progress=False)
    assert parquet_bytes(one) == parquet_bytes(two) and content_hash(one) == content_hash(two)
    assert (one / "README.md").read_text() == (two / "README.md").read_text()

    voices = datasets.load_dataset(str(one), "sstorycloze", split="test")["voice"]
    pool = make_voices("espeak", "en", ["en-us", "en-gb"], [150, 190])
    assert voices == [pick_voice(pool, f"s{i}", 3).label for i in range(8)] and len(set(voices)) > 1
    loaded = load_task("sstorycloze", str(one))
    assert not loaded.errors and loaded.items[0].meta["voice"] == voices[0]
    assert pick_voice(pool, "s1", 4) in pool and Voice("en-us", 150).label == "en-us@150"


def test_bad_source_gives_one_error_and_writes_nothing(tmp_path):
    source = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "ok", "context": "Fine.", "choices": ["a", "b"], "label": 1},
            {"id": "ok", "context": "Same id again.", "choices": ["a", "b"], "label": 0},
            {"id": "empty", "context": "  ", "choices": ["a", "b"], "label": 0},
            {"id": "blank", "context": "Blank choice.", "choices": ["a", ""], "label": 0},
            {"id": "label", "context": "Bad label.", "choices": ["a", "b"], "label": "c"},
            {"id": "label9", "context": "Label out of range.", "choices": ["a", "b"], "label": 9},
            {"id": "three", "context": "Three choices.", "choices": ["a", "b", "c"], "label": 0},
            '{"id": "broken", "context": ',
            {"id": "nolabel", "context": "No label.", "choices": ["a", "b"]},
        ],
    )
    out = tmp_path / "out"
    with pytest.raises(BadSourceError) as excinfo:
        build_dataset(source, out, task_id="sstorycloze", progress=False)
    problems = excinfo.value.problems
    assert len(problems) == 8, problems
    message = str(excinfo.value)
    for expected in (
        "duplicate id",
        "(id 'empty'): empty text in column 'context'",
        "(id 'blank'): empty text in column 'choices'[1]",
        "the label 'c' is not among the choices",
        "the label 9 is not among the choices",
        "3 choices but task 'sstorycloze' has 2",
        "line 8: not valid JSON",
        "lacks the column(s) ['label']",
    ):
        assert expected in message, expected
    with pytest.raises(BadSourceError, match=r"unknown column\(s\) \['question'\]"):
        build_dataset(source, out, task_id="sstorycloze", columns=ColumnMap(context="question"), progress=False)
    with pytest.raises(BadSourceError, match="a new task needs --language"):
        build_dataset(source, out, task_id="my_task", progress=False)
    with pytest.raises(BadSourceError, match="speaking rates apply to espeak-ng only"):
        build_dataset(source, out, task_id="sstorycloze", speech=SpeechConfig(engine="some/model", rates=[150]))
    assert not [p for p in tmp_path.iterdir() if "out" in p.name]


def test_csv_and_dataset_sources_through_the_cli(tmp_path, capsys):
    with open(tmp_path / "quiz.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "A", "B", "C", "D", "answer", "topic"])
        writer.writerow(["一加一等于几？", "一", "二", "三", "四", "B", "数学"])
        writer.writerow(["水的化学式是什么？", "CO2", "O2", "H2O", "NaCl", "H2O", "化学"])
    out = tmp_path / "quiz"
    code = main(
        [
            "build",
            "source",
            "--input",
            str(tmp_path / "quiz.csv"),
            "--task-id",
            "scmmlu",
            "--context-column",
            "question",
            "--choice-columns",
            "A",
            "B",
            "C",
            "D",
            "--label-column",
            "answer",
            "--subject-column",
            "topic",
            "--voices",
            "cmn",
            "--rates",
            "160",
            "--no-choice-audio",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0 and "wrote" in capsys.readouterr().out
    loaded = load_task("scmmlu", str(out))
    assert [(i.id, i.label, i.meta["subject"]) for i in loaded.items] == [("00000", 1, "数学"), ("00001", 2, "化学")]
    assert "choices_audio" not in datasets.load_dataset(str(out), "scmmlu", split="test").column_names

    # a Hugging Face dataset (here a local folder with audio columns, which must not be decoded) as the source
    rows = [
        {
            "id": "h1",
            "context": "A hub story.",
            "audio": np.zeros(160, np.float32) + 0.1,
            "choices": ["Good end.", "Bad end."],
            "label": 1,
        }
    ]
    write_dataset_folder(tmp_path / "hubsrc", {"sstorycloze": rows}, {"source": "test"})
    src = TaskSource("sstorycloze", tmp_path / "hubsrc", config="sstorycloze", split="test")
    rebuilt = build_tasks(tmp_path / "rebuilt", [src], SpeechConfig(choices_audio=False), progress=False)
    item = load_task("sstorycloze", str(rebuilt)).items[0]
    assert (item.id, item.label, item.choices) == ("h1", 1, ["Good end.", "Bad end."])
    assert len(item.waveform(16000)) > 8000
    assert (
        main(
            [
                "build",
                "source",
                "--input",
                str(tmp_path / "quiz.csv"),
                "--task-id",
                "scmmlu",
                "--output",
                str(tmp_path / "x"),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "unknown column(s) ['context', 'label', 'choices']" in capsys.readouterr().err


def make_tiny_vits(folder: Path) -> Path:
    """A random-weight VITS text-to-speech model and its character tokenizer, saved like a Hub checkpoint."""
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(["<pad>", *" abcdefghijklmnopqrstuvwxyz.,'?!"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = VitsTokenizer(str(folder / "vocab.json"), add_blank=True, normalize=True, phonemize=False)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        upsample_initial_channel=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1,
        duration_predictor_filter_channels=16,
        depth_separable_num_layers=1,
        sampling_rate=22050,
    )
    torch.manual_seed(0)
    VitsModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_transformers_tts_model_by_path(tmp_path):
    model = make_tiny_vits(tmp_path / "tiny-vits")
    source = write_jsonl(tmp_path / "en.jsonl", EN[:2])
    speech = SpeechConfig(engine=str(model), seed=1)
    first = build_dataset(source, tmp_path / "a", task_id="sstorycloze", speech=speech, progress=False)
    again = build_dataset(source, tmp_path / "b", task_id="sstorycloze", speech=speech, progress=False)
    assert parquet_bytes(first) == parquet_bytes(again)  # the sampling model is seeded per text
    ds = datasets.load_dataset(str(first), "sstorycloze", split="test").select_columns(["audio", "voice"])
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    assert ds["voice"] == ["default", "default"]
    audio = [decode(row["audio"]["bytes"]) for row in ds]  # 22.05 kHz model output, stored at 16 kHz
    assert all(a.size > 0 and np.abs(a).max() > 0 for a in audio) and len(audio[0]) < len(audio[1])
    assert "transformers" in (first / "README.md").read_text() and str(model) in (first / "README.md").read_text()


class FakeApi:
    """Records the calls push makes; never touches the network."""

    calls: ClassVar[list] = []

    def __init__(self, *args, **kwargs):
        FakeApi.calls.append(("init", args, kwargs))

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))

    def create_commit(self, **kwargs):
        FakeApi.calls.append(("create_commit", kwargs))

        class Info:
            pr_url = f"https://huggingface.co/datasets/{kwargs['repo_id']}/discussions/1"

        return Info()


def test_push_plan_and_upload_with_a_fake_api(built, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_secretTOKENvalue")
    monkeypatch.setattr(hub_repo, "HfApi", FakeApi)
    FakeApi.calls = []
    assert main(["build", "push", "--folder", str(built), "--repo", "org/s2sbench-demo", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert FakeApi.calls == [] and "dry run: nothing was uploaded" in out and "create_pr=False" in out
    for name in ("README.md", "eval.yaml", f"en_demo/{DATA_FILE}", f"zh_demo/{DATA_FILE}"):
        assert name in out
    size = (built / "en_demo" / DATA_FILE).stat().st_size
    assert f"en_demo/{DATA_FILE}  {size:>12,d} bytes  <- {built / 'en_demo' / DATA_FILE}" in out

    assert (
        main(["build", "push", "--folder", str(built), "--repo", "org/s2sbench-demo", "--create-pr", "--private"]) == 0
    )
    out = capsys.readouterr().out
    assert "discussions/1" in out and "hf_secret" not in out
    (_, repo, create), (_, upload) = [call for call in FakeApi.calls if call[0] != "init"]
    assert repo == "org/s2sbench-demo"
    assert create == {"repo_type": "dataset", "private": True, "exist_ok": True, "token": None}
    assert upload["create_pr"] is True and upload["repo_type"] == "dataset"
    assert sorted(op.path_in_repo for op in upload["operations"]) == sorted(
        f.path_in_repo for f in hub_folder.plan_push(built, "o/n").files
    )
    assert {op.path_or_fileobj for op in upload["operations"]} == {
        str(f.source) for f in hub_folder.plan_push(built, "o/n").files
    }
    assert "hf_secret" not in repr(FakeApi.calls)

    assert main(["build", "push", "--folder", str(built.parent), "--repo", "org/x", "--dry-run"]) == 2
    assert "not a dataset folder" in capsys.readouterr().err
    assert main(["build", "push", "--folder", str(built), "--repo", "no-slash", "--dry-run"]) == 2


QUIZ = [
    {"q": "Which animal barks?", "options": ["A dog.", "A fish.", "A stone."], "answer": "A"},
    {"q": "What is frozen water?", "options": ["Fire.", "Ice.", "Sand."], "answer": "B"},
    {"q": "Where does the sun rise?", "options": ["In the west.", "Under the sea.", "In the east."], "answer": "C"},
]


def test_a_built_task_runs_end_to_end_from_its_card(tmp_path, qwen2_audio_path, capsys):
    """Tasks are data: a set built for a new task id runs by name; its spec comes from the dataset's card."""
    out = tmp_path / "quiz"
    assert (
        main(
            [
                "build",
                "source",
                "--input",
                str(write_jsonl(tmp_path / "quiz.jsonl", QUIZ)),
                "--task-id",
                "my_quiz",
                "--language",
                "en",
                "--context-column",
                "q",
                "--choices-column",
                "options",
                "--label-column",
                "answer",
                "--no-choice-audio",
                "--output",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    spec = yaml.safe_load((out / "README.md").read_text(encoding="utf-8").split("---")[1])["s2sbench_tasks"]["my_quiz"]
    assert (spec["language"], spec["num_choices"], spec["reference_tie_credit"]) == ("en", 3, 0.0)

    run = tmp_path / "run"
    assert (
        run_cli(qwen2_audio_path, run, tasks="my_quiz", dataset=out, device="cpu", n_bootstrap=20, no_progress=True)
        == 0
    )
    assert "my_quiz: 3 items scored, 0 failed" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    assert results["results"]["my_quiz"]["n_items"] == 3 and results["datasets"]["my_quiz"]["source"] == str(out)
    assert results["config"]["framing"]["my_quiz"] == spec["framing"]
    samples = [json.loads(line) for line in (run / "samples_my_quiz.jsonl").read_text().splitlines()]
    assert len(samples) == 3 * 2 * 3 and {r["choice"] for r in samples} == {0, 1, 2}
    assert [r["continuation"] for r in samples[:3]] == QUIZ[0]["options"]


def test_task_specs_in_a_card_are_checked_on_load(tmp_path):
    rows = [
        {
            "id": "q1",
            "context": "Pick one.",
            "audio": np.zeros(800, np.float32) + 0.1,
            "choices": ["a", "b", "c"],
            "label": 2,
        }
    ]
    folder = write_dataset_folder(
        tmp_path / "set", {"my_set": rows}, {"source": "t"}, tasks={"my_set": new_task("my_set", "zh", 3)}
    )
    loaded = load_task("my_set", str(folder))
    assert (loaded.task.language, loaded.task.num_choices, loaded.task.framing.text_separator) == ("zh", 3, "")
    assert [i.id for i in loaded.items] == ["q1"]
    card = (folder / "README.md").read_text(encoding="utf-8")
    (folder / "README.md").write_text(card.replace("num_choices: 3", "num_choices: three"), encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"README.md: task 'my_set': num_choices 'three' is not an integer"):
        load_task("my_set", str(folder))
    (folder / "README.md").write_text(
        card.replace("  my_set:\n    language: zh", "  other:\n    language: zh"), encoding="utf-8"
    )
    with pytest.raises(UnknownTaskError, match="unknown task 'my_set'"):  # a config without a spec
        load_task("my_set", str(folder))

    registered = write_dataset_folder(
        tmp_path / "reg", {"sstorycloze": [{**rows[0], "choices": ["a", "b"]}]}, {"source": "t"}
    )
    card = (registered / "README.md").read_text(encoding="utf-8")
    (registered / "README.md").write_text(card.replace("num_choices: 2", "num_choices: 4"), encoding="utf-8")
    with pytest.raises(DataSourceError, match="declares task 'sstorycloze' as en, 4 choices"):
        load_task("sstorycloze", str(registered))
