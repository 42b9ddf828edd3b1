"""Mimi, Kyutai's speech codec, as the families that score its codes use it (Moshi, Llama-Mimi).

A clip is encoded on its own (no batch padding can reach its codes), and its
number of frames is known from its length before it is decoded, to plan batches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from transformers import MimiConfig


@torch.inference_mode()
def mimi_codes(mimi: Any, waveform: np.ndarray | torch.Tensor, num_quantizers: int) -> torch.Tensor:
    """A clip's codes (num_quantizers, frames) under ``mimi`` (a `MimiModel`): the mono clip, at Mimi's rate,
    encoded alone."""
    values = torch.as_tensor(waveform, dtype=torch.float32, device=mimi.device)[None, None]
    return mimi.encode(values, num_quantizers=num_quantizers).audio_codes[0]


def frame_samples(config: MimiConfig) -> int:
    """Samples per Mimi frame (1920 at 24 kHz: 12.5 frames a second)."""
    return round(config.sampling_rate / config.frame_rate)


def mimi_frames(seconds: float, config: MimiConfig) -> int:
    """Mimi frames of a clip of ``seconds``: one per started frame of samples."""
    return max(1, math.ceil(round(seconds * config.sampling_rate) / frame_samples(config)))
