# Copyright 2025 The s2sbench-hf authors. Licensed under the Apache License, Version 2.0.
"""S2SBench as an `evaluate` metric: text accuracy, audio accuracy and the degradation of a speech LLM.

A thin front door: the work is done by the ``s2sbench_hf`` library
(`s2sbench_hf.evaluate_metric`), the same code as the ``s2sbench`` command line.
evaluate parses this file's imports to check dependencies, so there is one
import per line; the ``# From:`` comment is the install command evaluate prints
when s2sbench_hf is missing.
"""

import datasets
import evaluate

from s2sbench_hf import evaluate_metric  # From: git+https://github.com/<owner>/s2sbench-hf@v0.1.0

_CITATION = """\
@article{fang2025s2sbench,
  title   = {S2SBench: A Benchmark for Quantifying Intelligence Degradation in Speech-to-Speech Large Language Models},
  author  = {Fang, Yuanbo and Sun, Haoze and Liu, Jun and Zhang, Tao and Zhou, Zenan and Chen, Weipeng and Xing, Xiaofen and Xu, Xiangmin},
  journal = {arXiv preprint arXiv:2505.14438},
  year    = {2025}
}
"""  # noqa: E501 - the paper's BibTeX entry, verbatim

_DESCRIPTION = """\
S2SBench measures how much a speech LLM loses when it hears a context instead of reading it. The model
scores k text continuations (a plausible and an implausible story ending, or a question's answer and
three distractors) once after the text context and once after the spoken context; the pairwise accuracy
is how often the answer has the lower perplexity than a distractor (chance 50%), and the degradation is
text accuracy minus audio accuracy. Tasks: sstorycloze (English), zh_sstorycloze (Chinese), scmmlu
(Chinese, 4 options).
"""

_KWARGS_DESCRIPTION = """
Two ways to call it.

Model mode: the metric runs the model (a transformers speech LLM the s2sbench_hf adapters know).
Args:
    model_id (`str`): Hub id or local folder. The loaded model is kept for the next compute with the same
        model_id, adapter, device, dtype and revision.
    model, processor (optional): an already loaded model and its processor/tokenizer instead of model_id.
    adapter (`str`, optional): model family (`qwen2-audio`, `causal-lm`, ...); detected when omitted.
    tasks (`list[str]`): any of `sstorycloze`, `zh_sstorycloze`, `scmmlu` (default: all three).
    settings (`list[str]`): `text` and/or `audio` (default: both).
    dataset (`str`, optional): Hub dataset id, local folder, or `"samples"` (the bundled sample sets, not the
        benchmark); default: `undobug/S2SBench`, the S2SBench release (downloaded once into the Hub cache).
    limit (`int`, optional): first N items per task.
    batch_size (`int`): items per forward pass (default: the fastest for the device and setting).
    device, dtype (`str`, optional): e.g. `cuda`, `bfloat16` (default: a GPU and bf16 if there is one).
    revision, trust_remote_code, scoring_rule (`mean`|`sum`|`bytes`), tie_policy (`reference`|`half`),
    n_bootstrap (default 1000), seed (default 0), output_dir (also write the run folder), progress.

Scores mode: scores from any model, one number per choice, lower is better (e.g. mean NLL per token).
Args:
    references (`list[int]`): index of each item's answer.
    text_scores (`list[list[float]]`): per item, the score of each choice after the text context.
    audio_scores (`list[list[float]]`): the same after the spoken context.
    task (`str`, optional): decides the tie rule (2 choices: the story tasks, 4: scmmlu by default).
    tie_policy, n_bootstrap, seed: as above. scores_are_losses (`bool`): also report answer/distractor means.
    Works with `add_batch` / `add` for streaming.

Returns:
    text_accuracy, audio_accuracy, degradation (text - audio), relative_degradation: fractions, the
        unweighted mean over tasks;
    tasks: per task `n_items`, `text_accuracy`, `text_accuracy_ci`, `audio_accuracy`, `audio_accuracy_ci`,
        `degradation`, `degradation_ci` (paired bootstrap), `relative_degradation`, `degradation_p_value`,
        argmin accuracies and (model mode) answer/distractor losses;
    model, errors (model mode).

Examples:
    >>> s2sbench = evaluate.load("s2sbench")
    >>> out = s2sbench.compute(references=[0, 0, 1], text_scores=[[1.0, 2.0], [2.0, 1.5], [3.0, 1.0]],
    ...                        audio_scores=[[2.0, 1.0], [2.0, 2.5], [3.0, 1.0]])
    >>> round(out["text_accuracy"], 3), round(out["audio_accuracy"], 3), round(out["degradation"], 3)
    (0.667, 0.667, 0.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class S2sbench(evaluate.Metric):
    """Text vs spoken-context pairwise accuracy and their gap; all logic in `s2sbench_hf.evaluate_metric`.

    (evaluate names a module after its class in snake case: ``S2sbench`` -> ``s2sbench``.)
    """

    def _info(self):
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    # float64, not int64: evaluate would truncate 1.7 to 1; compute_scores refuses it instead
                    "references": datasets.Value("float64"),
                    "text_scores": datasets.Sequence(datasets.Value("float64")),
                    "audio_scores": datasets.Sequence(datasets.Value("float64")),
                }
            ),
            homepage="https://arxiv.org/abs/2505.14438",
            codebase_urls=["https://github.com/undobug/S2SBench"],
            reference_urls=["https://arxiv.org/abs/2505.14438"],
        )

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Model mode when ``model_id`` or ``model`` is given (no per-item inputs to collect), else scores mode."""
        if kwargs.get("model_id") is not None or kwargs.get("model") is not None:
            if references is not None or kwargs.get("text_scores") is not None:
                raise ValueError(
                    "give either model_id/model (model mode) or references + scores (scores mode), not both"
                )
            return evaluate_metric.compute_model(**kwargs)
        return super().compute(predictions=predictions, references=references, **kwargs)

    def _compute(self, references, text_scores, audio_scores, **kwargs):
        return evaluate_metric.compute_scores(references, text_scores, audio_scores, **kwargs)
