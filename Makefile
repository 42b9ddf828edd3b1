# s2sbench-hf: `make demo` installs and runs the demo; `make test` installs and runs the tests.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
TORCH_VERSION ?= 2.13.0
DEMO_MODEL ?= .cache/tiny-qwen2-audio
DEMO_OUTPUT ?= demo-output
export S2SBENCH_CACHE ?= $(CURDIR)/.cache/s2sbench_hf

.PHONY: install samples demo test bench bench-tts

# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build on a fresh machine.
install:
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[dev]"

# Rebuilds the bundled sample sets (espeak-ng, through the dataset builder) into $(S2SBENCH_CACHE).
samples: install
	s2sbench build samples --force

demo: install
	s2sbench tiny-model --family qwen2-audio --output $(DEMO_MODEL)
	HF_HUB_OFFLINE=1 s2sbench run --model $(DEMO_MODEL) --tasks sstorycloze zh_sstorycloze scmmlu \
		--dataset samples --settings text audio --device cpu --dtype float32 --output $(DEMO_OUTPUT)

test: install
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q

# Speed and memory against the reference algorithm and lm-evaluation-harness (prints a table; see README).
bench: install
	HF_HUB_OFFLINE=1 $(PYTHON) benchmarks/bench.py

# espeak-ng synthesis throughput of the dataset builder, 1 vs 2 worker processes (see README, "The Hub dataset").
bench-tts:
	$(PYTHON) benchmarks/bench_tts.py --workers 1 2
