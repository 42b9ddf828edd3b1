# The Space's entry point, as evaluate's own metric Spaces have it: a table widget for scores mode.
from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget


# This Space's own module file (a bare "s2sbench" would look for evaluate-metric/s2sbench on the Hub).
module = evaluate.load(str(Path(__file__).resolve().parent / "s2sbench.py"), module_type="metric")
launch_gradio_widget(module)
