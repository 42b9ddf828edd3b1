"""Test set-up: never touch the network, keep caches inside a per-session temp folder; shared tiny models and runs."""

import importlib.util
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The bundled sample sets are synthesized once per test session, never into the user's cache.
# A TemporaryDirectory is removed when the process exits, so a session leaves no cache behind (each xdist worker
# makes and removes its own).
_CACHE_DIR = tempfile.TemporaryDirectory(prefix="s2sbench-test-cache-")
_CACHE = _CACHE_DIR.name
os.environ["S2SBENCH_CACHE"] = _CACHE
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")

import pytest  # noqa: E402
import torch  # noqa: E402
from cli_helpers import run_cli  # noqa: E402

from s2sbench_hf.real_tokenizers import save_real_tokenizer  # noqa: E402
from s2sbench_hf.scoring.family import Requirement  # noqa: E402
from s2sbench_hf.scoring.registry import ADAPTERS  # noqa: E402
from s2sbench_hf.testing import (  # noqa: E402
    MISSING_BACKENDS,
    backend_stand_ins,
    make_tiny_model,
)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per worker process: `make test` runs one worker per core, and torch's own threads on top
    # would fight over the same cores (the scores are compared with relative bounds, not bit for bit).
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test run for a family (its ``family`` parameter) that the installed transformers is too old for skips,
    naming the release it needs (`Family.missing_transformers`), so the suite passes on every transformers
    from the package's floor (`registry.TRANSFORMERS_FLOOR`) on."""
    for item in items:
        family = getattr(item, "callspec", None) and item.callspec.params.get("family")
        missing = ADAPTERS[family].missing_transformers() if family in ADAPTERS else None
        if missing is not None:
            item.add_marker(pytest.mark.skip(reason=missing))


CLI_RUN = {"tasks": ["sstorycloze", "scmmlu"], "limit": 6, "bootstrap": 100}
"""What the shared `cli_run` ran: the tiny Qwen2-Audio on two tasks of the bundled samples, both settings."""


@pytest.fixture(scope="session")
def causal_lm_path(tmp_path_factory):
    return make_tiny_model("causal-lm", tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def qwen2_audio_path(tmp_path_factory):
    return make_tiny_model("qwen2-audio", tmp_path_factory.mktemp("tiny-qwen2-audio"))


def stood_in() -> set[str]:
    """The packages that `backend_stand_ins` stands in for here: those of `MISSING_BACKENDS` that are missing, and
    torchvision with timm (timm imports it; the stand-in for timm needs none). The others are the real ones."""
    missing = {package for package in MISSING_BACKENDS if importlib.util.find_spec(package) is None}
    return missing | ({"torchvision"} if "timm" in missing else set())


@pytest.fixture(scope="module")
def tiny_model_backends():
    """For a module of tiny-model tests: the families' optional packages, and one torch thread.

    torchaudio (Granite Speech's, Fun-ASR-Nano's feature extractor) and timm (Gemma 3n's vision tower) are the
    real packages where installed (their families' extras, `Family.needs`), and stand-ins
    (`s2sbench_hf.testing.backend_stand_ins`) where not. The dev extra leaves them out: next to the CPU build of
    torch (``torch==2.13.0+cpu``), PyPI's torchaudio (2.11.1) and torchvision (0.28.0, which timm needs) are CUDA
    builds that fail to import (``libc10_cuda.so`` not found), and their CPU builds are on PyTorch's CPU index
    only. Next to PyPI's torch 2.13.0 (the CUDA build), the real ones pass these tests (run on the CPU). With a
    stand-in, the family's registry check counts the package as installed (`stood_in`). librosa, scipy and jiwer
    (Nemotron-H Omni, Inkling, the cascade) are always the real ones: the dev extra installs them.

    One torch thread: the tiny models' operations are too small to gain from more, and on a shared machine extra
    threads only wait for each other (5x slower here). Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    fakes = stood_in()
    real_installed = Requirement.installed
    try:
        with backend_stand_ins(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(Requirement, "installed", lambda need: need.package in fakes or real_installed(need))
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def qwen_tokenizer_dir(tmp_path_factory):
    """The real Qwen BPE (`s2sbench_hf.real_tokenizers`), built once per session from the dashscope wheel."""
    return save_real_tokenizer("qwen", tmp_path_factory.mktemp("qwen-tokenizer"))


@pytest.fixture(scope="session")
def real_qwen2_audio_path(qwen_tokenizer_dir, tmp_path_factory):
    """A tiny Qwen2-Audio on the real Qwen vocabulary (151,643 ranks + its special tokens)."""
    return make_tiny_model("qwen2-audio", tmp_path_factory.mktemp("real-qwen2-audio"), tokenizer=qwen_tokenizer_dir)


@pytest.fixture(scope="session")
def real_qwen_causal_lm_path(qwen_tokenizer_dir, tmp_path_factory):
    """A tiny Llama-style causal LM on the real Qwen vocabulary (for lm-evaluation-harness, which loads causal LMs)."""
    return make_tiny_model("causal-lm", tmp_path_factory.mktemp("real-qwen-lm"), tokenizer=qwen_tokenizer_dir)


@pytest.fixture(scope="session")
def cli_run(qwen2_audio_path, tmp_path_factory):
    """A run folder of the tiny Qwen2-Audio made through the CLI, exactly as a user makes one (`CLI_RUN`).

    Shared by the whole session: read it, or copy it to change it.
    """
    out = tmp_path_factory.mktemp("cli-run")
    code = run_cli(
        qwen2_audio_path,
        out,
        tasks=CLI_RUN["tasks"],
        dataset="samples",
        limit=CLI_RUN["limit"],
        device="cpu",
        n_bootstrap=CLI_RUN["bootstrap"],
        no_progress=True,
    )
    assert code == 0
    return out
