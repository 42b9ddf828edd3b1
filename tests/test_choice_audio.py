"""Every row's own audio: each story ending is scored after its own row's wav, as the reference scripts do.

A release whose odd rows have other wavs than their even rows: the engine scores
each such item as one request per distinct context speech, and the implausible
ending's score equals a plain full forward pass after the odd row's wav. Items
whose two wavs are the same bytes still take one context pass for both endings.
"""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.engine import score_items
from s2sbench_hf.scoring.interface import Request
from s2sbench_hf.scoring.registry import load_scorer
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
