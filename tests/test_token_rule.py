"""The token rule on the real Qwen BPE: every prompt segment is encoded on its own, so every continuation is
scored on exactly ``encode(separator + ending)`` and the model input decodes to the framed text.

The tiny models here carry the real vocabulary of Qwen2-Audio (the dashscope wheel's ``qwen.tiktoken``,
`s2sbench_hf.real_tokenizers`), which merges across a boundary that has no space (``"a panic.She"`` ->
``"a", " panic", ".She"``); the stand-in tokenizers of the other tests never do. Items: the bundled sample
sets and a held-out set written to sit on such boundaries (`heldout`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from heldout import heldout_items

from s2sbench_hf.data.sources import load_task
from s2sbench_hf.scoring.adapters.base import TOKEN_RULE
from s2sbench_hf.scoring.engine import make_request, score_items
from s2sbench_hf.scoring.registry import load_scorer
from s2sbench_hf.tasks import AS_SHIPPED_FRAMING, TASKS, Framing, Item
from s2sbench_hf.testing import REL_TOL, make_tiny_model, noise_clip, relative_deviation

FRAMINGS = {"intended": None, "reference-as-shipped": AS_SHIPPED_FRAMING}
"""Preset -> the framing every task gets (None: the task's own)."""


def items_of(task_id: str, setting: str) -> list[Item]:
    """The bundled items and the held-out ones; in the audio setting each gets a short noise clip as its
    speech (the rule is about the text around the speech, and short clips keep the test fast)."""
    items = list(load_task(task_id, "samples").items) + heldout_items(task_id)
    if setting == "audio":
        items = [
            Item(i.task, i.id, i.context, i.choices, i.label, audio=noise_clip(0.5 + n % 3 / 4, n), sampling_rate=16000)
            for n, i in enumerate(items)
        ]
    return items


def framed_text(framing: Framing, item: Item, setting: str, j: int, speech: str) -> str:
    """The prompt and continuation ``j`` as one string: what the model input must decode to."""
    if setting == "text":
        return framing.text_context(item.context) + framing.text_separator + item.choices[j]
    return framing.audio_prefix + speech + framing.audio_separator + item.choices[j]


def unpadded_prefixes(scorer, requests) -> list[list[int]]:
    """The prompt token ids the scorer feeds for each request (one batch), padding removed."""
    inputs = scorer.prefix_inputs(requests)
    return [ids[mask.bool()].tolist() for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"], strict=True)]


@pytest.fixture(scope="module")
def scorer(real_qwen2_audio_path):
    return load_scorer(str(real_qwen2_audio_path), device="cpu", dtype="float32")


def test_the_real_qwen_bpe_merges_across_a_boundary_without_space(scorer):
    """Why the rule matters: encoded whole, a context ending in "." and an ending without a separator
    share a token, so a split of the whole string loses the ending's first word."""
    assert scorer.tokenizer.tokenize("a panic.She") == ["a", "Ġpanic", ".She"]
    assert scorer.describe()["token_rule"] == TOKEN_RULE


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["text", "audio"])
@pytest.mark.parametrize("preset", list(FRAMINGS))
def test_every_continuation_is_scored_on_its_own_tokens(scorer, preset, setting):
    """Bundled and held-out items, both framings, both settings: each record's ``n_tokens`` is
    ``len(encode(separator + ending))``, and prompt + continuation decode to the framed text exactly."""
    tok = scorer.tokenizer
    speech_marks = (tok.convert_tokens_to_ids("<|audio_bos|>"), scorer.model.config.audio_token_id)
    for task_id, task in TASKS.items():
        framing = FRAMINGS[preset] or task.framing
        separator = framing.text_separator if setting == "text" else framing.audio_separator
        items = items_of(task_id, setting)
        records, errors = score_items(scorer, task.with_framing(framing), items, [setting], progress=False)
        assert not errors and len(records) == sum(len(i.choices) for i in items)
        by_item = {i.id: i for i in items}
        for record in records:
            ending = by_item[record.item_id].choices[record.choice]
            assert record.n_tokens == len(scorer.encode(separator + ending)), (task_id, record.item_id)
        requests = [make_request(task, item, setting, framing, 16000) for item in items]
        for item, request, prefix in zip(items, requests, unpadded_prefixes(scorer, requests), strict=True):
            if setting == "audio":  # the framing text encoded alone, then the speech markup
                n_text = len(scorer.encode(framing.audio_prefix))
                assert prefix[:n_text] == scorer.encode(framing.audio_prefix)
                assert prefix[n_text] == speech_marks[0] and speech_marks[1] in prefix
            speech = "<|audio_bos|>" + "<|AUDIO|>" * prefix.count(speech_marks[1]) + "<|audio_eos|>"
            for j, cont in enumerate(scorer.continuation_ids(request)):
                assert cont == scorer.encode(separator + item.choices[j])
                assert tok.decode(prefix + cont) == framed_text(framing, item, setting, j, speech)


def test_chat_framing_encodes_the_template_the_context_and_the_reply_each_alone(real_qwen2_audio_path):
    scorer = load_scorer(str(real_qwen2_audio_path), device="cpu", dtype="float32", chat_template=True)
    before, after = scorer.chat_parts()
    task, item = TASKS["sstorycloze"], heldout_items("sstorycloze")[0]
    request = make_request(task, item, "text", AS_SHIPPED_FRAMING, None)
    prefix = scorer.text_prefix_ids(request)
    assert prefix == scorer.encode(before) + scorer.encode(item.context) + scorer.encode(after)
    cont = scorer.continuation_ids(request)[0]
    assert scorer.tokenizer.decode(prefix + cont) == before + item.context + after + item.choices[0]
    audio = Item(item.task, item.id, item.context, item.choices, 0, audio=noise_clip(1.0, 0), sampling_rate=16000)
    spoken = make_request(task, audio, "audio", AS_SHIPPED_FRAMING, 16000)
    ids = unpadded_prefixes(scorer, [spoken])[0]
    head = scorer.encode(before) + scorer.encode(AS_SHIPPED_FRAMING.audio_prefix)
    assert ids[: len(head)] == head and ids[-len(scorer.encode(after)) :] == scorer.encode(after)


@torch.inference_mode()
def full_forward(scorer, context_ids: list[int], cont: list[int]) -> float:
    ids = torch.tensor([context_ids + cont])
    logprobs = torch.log_softmax(scorer.model(input_ids=ids).logits[0, -len(cont) - 1 : -1].float(), -1)
    return -float(logprobs.gather(1, torch.tensor(cont)[:, None]).sum())


def lm_eval_nll(model_path, pairs: list[tuple[str, str]]) -> list[float]:
    lm_eval_hf = pytest.importorskip("lm_eval.models.huggingface")
    from lm_eval.api.instance import Instance

    lm = lm_eval_hf.HFLM(pretrained=str(model_path), device="cpu", batch_size=4)
    instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    return [-ll for ll, _ in lm.loglikelihood(instances, disable_tqdm=True)]


def test_lm_evaluation_harness_agrees_where_nothing_merges_and_differs_where_a_token_does(real_qwen_causal_lm_path):
    """The intended English framing puts a space before the ending: nothing merges, and our text scores
    equal lm-evaluation-harness's. Without the space (the shipped framing), lm-eval splits
    ``encode(context + ending)`` after ``len(encode(context))`` tokens and drops the merged first word;
    we score all of ``encode(ending)`` after ``encode(context)``, which a plain forward pass confirms."""
    scorer = load_scorer(str(real_qwen_causal_lm_path), device="cpu", dtype="float32")
    task, items = TASKS["sstorycloze"], list(load_task("sstorycloze", "samples").items)[:4]
    spaced = [make_request(task, i, "text", task.framing, None) for i in items]
    ours = [s.nll_sum for scores in scorer.score(spaced) for s in scores]
    theirs = lm_eval_nll(real_qwen_causal_lm_path, [(r.context, c) for r in spaced for c in r.continuations])
    assert relative_deviation(ours, theirs) < REL_TOL

    merged = [make_request(task, i, "text", AS_SHIPPED_FRAMING, None) for i in items]
    scores = [s for r in merged for s in scorer.score([r])[0]]
    theirs = lm_eval_nll(real_qwen_causal_lm_path, [(r.context, c) for r in merged for c in r.continuations])
    plain = [full_forward(scorer, scorer.encode(r.context), scorer.encode(c)) for r in merged for c in r.continuations]
    assert relative_deviation([s.nll_sum for s in scores], plain) < REL_TOL
    assert [s.n_tokens for s in scores] == [len(scorer.encode(c)) for r in merged for c in r.continuations]
    assert np.all(np.abs(np.array([s.nll_sum for s in scores]) - np.array(theirs)) > 1e-3)


@pytest.fixture(scope="module")
def tekken_voxtral(tmp_path_factory):
    """A tiny Voxtral on the real Tekken vocabulary (`real_tokenizers.tekken_tokenizer`, ``[AUDIO]`` at id 24)."""
    return make_tiny_model("voxtral", tmp_path_factory.mktemp("tekken-voxtral"), tokenizer="tekken")


@pytest.mark.slow
def test_voxtral_on_the_real_tekken_vocabulary_follows_the_rule(tekken_voxtral):
    """Voxtral builds its prompts as token ids (``<s>`` + framing + ``[BEGIN_AUDIO]`` + placeholders): the same
    rule holds there. Tekken merges across a boundary too (``"a panic.She"``: ``.S`` + ``he``)."""
    scorer = load_scorer(str(tekken_voxtral), device="cpu", dtype="float32")
    tok = scorer.tokenizer
    assert ".S" in tok.tokenize("a panic.She")
    for setting in ("text", "audio"):
        for task_id, task in TASKS.items():
            items = items_of(task_id, setting)[-8:]  # bundled and held-out items
            for framing in (task.framing, AS_SHIPPED_FRAMING):
                separator = framing.text_separator if setting == "text" else framing.audio_separator
                requests = [make_request(task, item, setting, framing, 16000) for item in items]
                prefixes = unpadded_prefixes(scorer, requests)
                scores = scorer.score(requests)
                for item, request, prefix, item_scores in zip(items, requests, prefixes, scores, strict=True):
                    speech = tok.decode(prefix[1 + len(scorer.encode(framing.audio_prefix)) :])
                    assert setting == "text" or speech == "[BEGIN_AUDIO]" + "[AUDIO]" * 375  # one 30 s chunk
                    for j, (cont, score) in enumerate(zip(scorer.continuation_ids(request), item_scores, strict=True)):
                        assert cont == scorer.encode(separator + item.choices[j]) and score.n_tokens == len(cont)
                        text = framed_text(framing, item, setting, j, speech)
                        assert prefix[0] == tok.bos_token_id and tok.decode(prefix[1:] + cont) == text
