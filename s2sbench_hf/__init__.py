"""s2sbench-hf: S2SBench (intelligence degradation of speech LLMs) on the Hugging Face stack.

The public scorer interface is importable from here, for bring-your-own models::

    from s2sbench_hf import ContinuationScore, Request, Scorer
"""

from s2sbench_hf._version import __version__
from s2sbench_hf.scoring.interface import ContinuationScore, Request, Scorer

__all__ = ["ContinuationScore", "Request", "Scorer", "__version__"]
