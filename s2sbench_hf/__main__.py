"""``python -m s2sbench_hf`` (and ``accelerate launch -m s2sbench_hf``) runs the CLI."""

import sys

from s2sbench_hf.cli import main

sys.exit(main())
