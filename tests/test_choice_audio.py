"""Every row's own audio, and the continuations' own speech.

A release whose odd rows have other wavs than their even rows: the engine scores
each such item as one request per distinct context speech, and the implausible
ending's score equals a plain full forward pass after the odd row's wav. Items
whose two wavs are the same bytes still take one context pass for both endings.

The continuations' speech of a release (``<task>/choice_wavs/<uttid>.wav``) and
of a Parquet dataset (``choices_audio``): read as the clip written, a missing or
empty clip an item error of the spoken settings only, never a file looked up
relative to the current directory.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from s2sbench_hf.data.hub_folder import encode_wav, write_dataset_folder
from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import ItemError
from s2sbench_hf.testing import full_forward_nll, noise_clip

STORIES = [
    ("Tom baked bread.", "It smelled good.", "It flew away."),
    ("Ann lost her key.", "She found it.", "She ate it."),
    ("Joe ran a race.", "He won.", "He melted."),
]


@pytest.fixture
def release(tmp_path):
    """Stories 0 and 2: both rows share one wav (as bytes); story 1: the odd row has another wav."""
    folder = tmp_path / "release"
    wavs = folder / "sstorycloze/wavs"
    wavs.mkdir(parents=True)
    rows = []
    for k, (first, good, bad) in enumerate(STORIES):
        for offset, last in enumerate((good, bad)):
            uttid = 2 * k + offset
            rows.append({"uttid": uttid, "first": first, "last": last})
            clip = noise_clip(1.0 + 0.5 * k, seed=k if (k != 1 or offset == 0) else 99)
            sf.write(wavs / f"{uttid}.wav", clip, 16000, subtype="PCM_16")
    (folder / "sstorycloze/data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_each_ending_follows_its_own_rows_wav(release, qwen2_audio_path):
    loaded = load_task("sstorycloze", str(release))
    assert [item.audio_groups() for item in loaded.items] == [[(0, 1)], [(0,), (1,)], [(0, 1)]]
    scorer = load_scorer(str(qwen2_audio_path), device="cpu", dtype="float32")
    scored: list[Request] = []
    score = scorer.score
    scorer.score = lambda requests: scored.extend(requests) or score(requests)  # count the context passes

    records, errors = score_items(scorer, loaded.task, loaded.items, ["audio"], progress=False)
    assert not errors
    assert [(r.item_id, r.choice) for r in records] == [("0", 0), ("0", 1), ("2", 0), ("2", 1), ("4", 0), ("4", 1)]
    passes = sorted((r.item_id, r.continuations) for r in scored)
    assert passes == [  # one context pass per distinct speech: story 1 takes two, the others one each
        ("0", ("It smelled good.", "It flew away.")),
        ("2", ("She ate it.",)),
        ("2", ("She found it.",)),
        ("4", ("He won.", "He melted.")),
    ]

    item = loaded.items[1]
    prefix = loaded.task.framing.audio_prefix
    for choice, wav in ((0, "2.wav"), (1, "3.wav")):  # each ending after its own row's wav, as a plain forward
        own = sf.read(release / "sstorycloze/wavs" / wav, dtype="float32")[0]
        request = Request("sstorycloze", item.id, "audio", prefix, (item.choices[choice],), own, 16000)
        assert records[2 + choice].nll_sum == pytest.approx(full_forward_nll(scorer, request, 0), rel=1e-6)
    even = sf.read(release / "sstorycloze/wavs/2.wav", dtype="float32")[0]
    after_even = Request("sstorycloze", item.id, "audio", prefix, (item.choices[1],), even, 16000)
    assert abs(records[3].nll_sum - full_forward_nll(scorer, after_even, 0)) > 1e-3  # the odd wav matters


def test_the_continuations_speech_of_a_release_is_read_from_choice_wavs(release):
    spoken = {uttid: noise_clip(0.3 + 0.1 * uttid, seed=100 + uttid) for uttid in range(5)}  # row 5: none
    (release / "sstorycloze/choice_wavs").mkdir()
    for uttid, clip in spoken.items():
        sf.write(release / f"sstorycloze/choice_wavs/{uttid}.wav", clip, 16000, subtype="FLOAT")
    loaded = load_task("sstorycloze", str(release))
    assert not loaded.errors and loaded.info["choice_audio_dir"] == "sstorycloze/choice_wavs"
    assert loaded.info["jsonl"] == "sstorycloze/data.jsonl"  # paths in the release, whatever folder holds it
    for item in loaded.items[:2]:
        for choice, uttid in enumerate(item.meta["uttid"]):
            np.testing.assert_array_equal(item.continuation_waveform(choice, 16000), spoken[int(uttid)])
    last = loaded.items[2]  # its implausible ending has no wav: an error of the spoken settings alone
    with pytest.raises(ItemError, match=r"item '4': continuation 1's speech cannot be used \(file not found: 5.wav\)"):
        last.continuation_waveform(1, 16000)
    assert last.waveform(16000).size and last.continuation_seconds(0) == pytest.approx(0.7)


def test_empty_embedded_continuation_speech_never_opens_a_file_of_the_current_folder(tmp_path, monkeypatch):
    clip = noise_clip(0.5, seed=1)
    row = {"id": "s0", "context": "A story.", "audio": clip, "choices": ["good", "bad"], "label": 0}
    folder = write_dataset_folder(tmp_path / "hub", {"sstorycloze": [{**row, "choices_audio": [b"", clip]}]}, {})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s0-0.wav").write_bytes(encode_wav(clip))  # the name the empty clip carries, in the current folder
    [item] = load_task("sstorycloze", str(folder)).items
    with pytest.raises(
        ItemError, match=r"item 's0': continuation 0's speech cannot be used \(embedded audio is empty\)"
    ):
        item.continuation_waveform(0, 16000)
    assert item.continuation_waveform(1, 16000).size == clip.size
