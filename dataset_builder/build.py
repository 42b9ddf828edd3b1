"""Build and publish the S2SBench Hub dataset: the front door of `s2sbench build` (no logic here).

    python dataset_builder/build.py convert --release path/to/S2SBench --output hub/s2sbench
    python dataset_builder/build.py source --input my_quiz.csv --task-id my_quiz --language en \
        --context-column question --choice-columns A B C D --label-column answer \
        --voices en-us,en-gb --rates 150,175 --workers 2 --output hub/my_quiz
    python dataset_builder/build.py samples --output hub/samples
    python dataset_builder/build.py push --folder hub/s2sbench --repo ORG/s2sbench --dry-run

Same arguments as ``s2sbench build ...`` (``-h`` lists them); the work is done by
``s2sbench_hf.data.release`` (convert), ``s2sbench_hf.data.builder`` (source,
samples) and ``s2sbench_hf.data.hub_folder`` (the folder layout, card, eval.yaml, push).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from s2sbench_hf.cli import main

if __name__ == "__main__":  # synthesis workers are spawned processes that import this file: keep the guard
    sys.exit(main(["build", *sys.argv[1:]]))
