"""s2sbench-hf: S2SBench (intelligence degradation of speech LLMs) on the Hugging Face stack."""

__version__ = "0.1.0"
