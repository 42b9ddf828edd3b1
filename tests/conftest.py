"""Test set-up: never touch the network, keep caches inside a per-session temp folder."""

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The bundled sample sets are synthesized once per test session, never into the user's cache.
_CACHE = tempfile.mkdtemp(prefix="s2sbench-test-cache-")
os.environ["S2SBENCH_CACHE"] = _CACHE
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")

import pytest  # noqa: E402

from s2sbench_hf.testing import make_tiny_causal_lm, make_tiny_qwen2_audio  # noqa: E402


@pytest.fixture(scope="session")
def causal_lm_path(tmp_path_factory):
    return make_tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def qwen2_audio_path(tmp_path_factory):
    return make_tiny_qwen2_audio(tmp_path_factory.mktemp("tiny-qwen2-audio"))
