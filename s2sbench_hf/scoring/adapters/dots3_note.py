"""``dots3-note``: `Dots3NoteForConditionalGeneration` (rednote's dots3 Note, omni), text and audio.

Speech is the placeholder ``<|audio_comp_pad|>``, which `Dots3NoteProcessor`
expands to one position per 1280 samples (its encoder's three stride-2
convolutions over 10 ms mel frames, 12.5 a second), counted for each 60 s chunk
of the clip on its own. The processor is built without its image and video
processors (`speech_processor`).

The LM uses DeepSeek sparse attention: an indexer keeps the ``index_topk``
(2048) best keys of each query, whose indexer keys the shared-prefix cache keeps
with the others. While a prompt and its continuation fit in ``index_topk``
positions every key is kept and the scores are exact; beyond, the keys
transformers' indexer keeps for a position change with the tokens that follow
it (a plain forward pass shows it, no cache needed), so scores would depend on
the batch. Such items are refused (an error for that item alone).
"""

from __future__ import annotations

import math

from transformers import Dots3NoteForConditionalGeneration, Dots3NoteProcessor

from s2sbench_hf.scoring.adapters.base import ProcessorAudioScorer


class Dots3NoteScorer(ProcessorAudioScorer):
    name = "dots3-note"
    audio_window_seconds = None  # its processor cuts a clip into 60 s chunks itself
    position_limit_source = "keys its sparse attention keeps, index_topk; beyond, scores depend on the batch"
    model_class = Dots3NoteForConditionalGeneration
    processor_class = Dots3NoteProcessor
    input_names = ("input_ids", "attention_mask", "input_features", "chunk_sample_lengths")

    def speech_positions(self, seconds: float) -> int:
        fe = self.processor.feature_extractor
        samples = round(seconds * self.sampling_rate)
        chunks = [min(fe.n_samples, samples - start) for start in range(0, samples, fe.n_samples)]
        return sum(math.ceil(n / (fe.hop_length * 8)) for n in chunks)  # as its feature extractor counts

    def position_limit(self) -> int | None:
        text = self.model.config.get_text_config()
        return min(text.index_topk, getattr(text, "max_position_embeddings", text.index_topk))
