"""``s2sbench build convert --source``: the speech-LM layouts written in the Hub dataset format (issue 24), read back.

On the fake ``slprl/SALMon`` snapshot and the fake cross-modal folder of `test_speech_lm_data`: converted, then read
back with `sources.load_task` from the written folder, the items are the source's: ids, texts, labels, every clip's
bytes, and ``meta`` (plus the format's ``subject`` column, empty for these sets; less a field named like one of the
format's required columns, such as the cross-modal reader's ``id``, which the item itself carries); the card records
the task's spec,
``kind: utterance`` for the pairs. A rejected item stops the conversion before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_speech_lm_data import fake_salmon, hub_cache, write_story  # noqa: F401  (hub_cache: a fixture)

from s2sbench_hf.cli import main
from s2sbench_hf.data import sources
from s2sbench_hf.data.converter import convert_source
from s2sbench_hf.data.dataset_folder import REQUIRED_COLUMNS
from s2sbench_hf.data.hub_folder import CARD_TASKS_KEY
from s2sbench_hf.data.loaded import BadSourceError
from s2sbench_hf.tasks import UTTERANCE, Item


def clip_bytes(clip: bytes | str | None) -> bytes | None:
    """A clip's bytes, whether a reader gave them or named a file."""
    return Path(clip).read_bytes() if isinstance(clip, str) else clip


def assert_same_items(source: list[Item], back: list[Item]) -> None:
    """The items read back from a converted folder are the source's, clips compared byte for byte."""
    assert [i.id for i in back] == [i.id for i in source]
    for was, now in zip(source, back, strict=True):
        assert (now.context, now.choices, now.label) == (was.context, was.choices, was.label)
        assert clip_bytes(now.audio) == clip_bytes(was.audio)
        assert [clip_bytes(c) for c in now.choices_audio or []] == [clip_bytes(c) for c in was.choices_audio or []]
        carried = {key: value for key, value in was.meta.items() if key not in REQUIRED_COLUMNS}
        assert now.meta == {"subject": "", **carried}  # the format's subject column, empty for these sets


def card_specs(folder: Path) -> dict:
    """The card's ``s2sbench_tasks`` block: each config's task spec."""
    header = (folder / "README.md").read_text(encoding="utf-8").split("---")[1]
    return yaml.safe_load(header)[CARD_TASKS_KEY]


def test_salmon_pairs_convert_and_read_back_as_the_same_utterance_items(hub_cache, tmp_path):  # noqa: F811
    fake_salmon(hub_cache)
    source = sources.load_task("salmon_bg_alignment", "slprl/SALMon")
    folder = convert_source(tmp_path / "my-salmon", ["salmon_bg_alignment"], "slprl/SALMon", progress=False)
    back = sources.load_task("salmon_bg_alignment", str(folder))
    assert back.errors == [] and back.task.kind == UTTERANCE and back.info["num_rows"] == 3
    assert_same_items(source.items, back.items)
    assert source.items[0].meta and all(i.choices_audio for i in back.items)  # meta and both clips carried over
    assert card_specs(folder)["salmon_bg_alignment"]["kind"] == "utterance"
    registered = yaml.safe_load((folder / "eval.yaml").read_text(encoding="utf-8"))["tasks"]
    assert [task["id"] for task in registered] == ["salmon_bg_alignment_utterance"]  # its one setting
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "s2sbench run --model kmhf/hf-moshiko --dataset" in card and "--tasks salmon_bg_alignment\n" in card
    assert "(`<config>_utterance`: pairwise accuracy in %)" in card and "Qwen2-Audio" not in card
    header = yaml.safe_load(card.split("---")[1])  # what it is, not S2SBench's text-vs-speech gap
    assert header["pretty_name"] == "salmon_bg_alignment (converted for s2sbench)" and "# S2SBench\n" not in card
    assert header["task_categories"] == ["audio-classification"] and "speech context" not in card


def test_the_crossmodal_folder_converts_from_the_command_line(tmp_path, capsys):
    stories = tmp_path / "tsc"
    for seed, identity in enumerate(["10", "2", "1"]):
        write_story(stories, identity, 10 * seed)
    out = tmp_path / "my-tsc"
    code = main(
        [
            "build",
            "convert",
            "--source",
            str(stories),
            "--task",
            "tsc_crossmodal",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0 and f"wrote {out}" in capsys.readouterr().out
    source = sources.load_task("tsc_crossmodal", str(stories))
    back = sources.load_task("tsc_crossmodal", str(out))
    assert_same_items(source.items, back.items)
    assert back.items[0].context == "Story 1 begins." and back.items[0].audio == (stories / "1_mutual.wav").read_bytes()
    assert "kind" not in card_specs(out)["tsc_crossmodal"]  # a continuation task: its spec as S2SBench's
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "text context vs speech context" in card and "An utterance pair" not in card  # what S2SBench measures
    assert yaml.safe_load(card.split("---")[1])["task_categories"] == ["audio-text-to-text", "multiple-choice"]
    assert back.items[0].meta == {"subject": "", "story": "1"}  # the story's own id, under a name of its own


def test_a_rejected_item_stops_the_conversion_and_nothing_is_written(hub_cache, tmp_path):  # noqa: F811
    fake_salmon(hub_cache)
    with pytest.raises(BadSourceError) as caught:
        convert_source(tmp_path / "out", ["salmon_bg_alignment", "salmon_speaker_consistency"], "slprl/SALMon")
    assert caught.value.problems == [
        (
            "task 'salmon_speaker_consistency', item 'speaker_consistency/1': its negative clip is missing. Replace "
            "the clip with a readable one (wav, flac or ogg), or drop the pair."
        )
    ]
    assert not (tmp_path / "out").exists()


def test_source_and_release_files_are_not_given_together(tmp_path, capsys):
    code = main(
        ["build", "convert", "--source", str(tmp_path), "--jsonl", "x.jsonl", "--task", "tsc_crossmodal"]
        + ["--output", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert (
        code != 0 and "--source reads its own layout; leave out --jsonl" in err and len(err.strip().splitlines()) == 1
    )
