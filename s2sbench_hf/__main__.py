"""``python -m s2sbench_hf`` (and ``accelerate launch -m s2sbench_hf``) runs the CLI."""

from s2sbench_hf.cli import entry

entry()
