"""A small S2SBench release and a fake Hub snapshot of it, for the tests of the real benchmark's code path.

`write_release` writes the release in the layout the reference scripts read
(``S2S/...``), its speech from the package's text-to-speech (espeak-ng).
`fake_snapshot` makes the snapshot folder of a dataset repository in a Hugging
Face cache (``datasets--ORG--NAME/refs/main`` + ``snapshots/<commit>/``): with
HF_HUB_OFFLINE=1 `huggingface_hub.snapshot_download` returns it, the same call
and code path as a real download.
"""

from __future__ import annotations

import json
from pathlib import Path

import soundfile as sf

from s2sbench_hf.data.loaded import DEFAULT_DATASET
from s2sbench_hf.data.tts import EspeakTTS

COMMIT = "0123456789abcdef0123456789abcdef01234567"
STORIES = {
    "en": [
        ("Tom baked bread.", "It smelled good.", "It flew away."),
        ("Ann lost her key.", "She found it.", "She ate it."),
    ],
    "zh": [("汤姆烤了面包。", "很香。", "它飞走了。"), ("安娜丢了钥匙。", "她找到了。", "她吃了它。")],
}
QUESTIONS = [("一加一等于几？", "一", "二", "三", "四", "B"), ("水是什么颜色？", "红", "绿", "蓝", "无色", "D")]


def write_release(root: Path) -> Path:
    """The release in its original layout (S2S/...) under ``root``: `STORIES` and `QUESTIONS`, spoken."""
    english, chinese = EspeakTTS("en-us"), EspeakTTS("cmn")
    layout = {
        "en": ("S2S/StoryCloze/sStory_s2t.jsonl", "S2S/StoryCloze/s-story-firstspeech", english),
        "zh": ("S2S/StoryCloze/zh_story.jsonl", "S2S/StoryCloze/zh_story", chinese),
    }
    for language, (jsonl, wavs, tts) in layout.items():
        rows = []
        (root / wavs).mkdir(parents=True)
        for k, (first, good, bad) in enumerate(STORIES[language]):
            speech = tts.synthesize(first)
            for offset, last in enumerate((good, bad)):
                uttid = f"{2 * k + offset}_{language}"
                rows.append({"uttid": uttid, "first": first, "last": last})
                sf.write(root / wavs / f"{uttid}.wav", speech, 16000, subtype="PCM_16")  # both rows: the same wav
        (root / jsonl).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (root / "S2S/cmmlu/cmmlu_rewrite").mkdir(parents=True)
    rows = []
    for n, (first, a, b, c, d, answer) in enumerate(QUESTIONS):
        rows.append({"uttid": n, "first": first, "A": a, "B": b, "C": c, "D": d, "answer": answer})
        sf.write(root / f"S2S/cmmlu/cmmlu_rewrite/{n}.wav", chinese.synthesize(first), 16000, subtype="PCM_16")
    (root / "S2S/cmmlu/cmmlu_rewrite_4.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return root


def fake_snapshot_folder(cache: Path, repo_id: str = DEFAULT_DATASET, commit: str = COMMIT) -> Path:
    return cache / f"datasets--{repo_id.replace('/', '--')}" / "snapshots" / commit


def fake_snapshot(cache: Path, repo_id: str = DEFAULT_DATASET, commit: str = COMMIT) -> Path:
    """The snapshot folder of ``repo_id`` at ``commit`` in the cache, with refs/main pointing at it (empty)."""
    folder = fake_snapshot_folder(cache, repo_id, commit)
    (folder.parent.parent / "refs").mkdir(parents=True, exist_ok=True)
    (folder.parent.parent / "refs" / "main").write_text(commit)
    folder.mkdir(parents=True)
    return folder
