"""Model family adapters, one module per family, all on the shared base (`base.HFScorer`).

They are imported lazily through `s2sbench_hf.scoring.registry`, never from here.
"""
