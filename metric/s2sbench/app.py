"""The metric Space's page: scores mode of the S2SBench module in a small Gradio interface.

Hand-written with ``gr.Blocks`` (evaluate's ``launch_gradio_widget`` does not run on
current Gradio). Model mode needs the model's weights and usually a GPU: run it in
Python (see the card). Every number comes from the module, i.e. from
``s2sbench_hf.evaluate_metric``; this file only lays out the page.
"""

import json
from dataclasses import fields
from pathlib import Path

import evaluate
import gradio as gr

from s2sbench_hf.options import MAX_COUNT, RunOptions
from s2sbench_hf.tasks import TASKS

# This Space's own module file (a bare "s2sbench" would look for evaluate-metric/s2sbench on the Hub).
module = evaluate.load(str(Path(__file__).resolve().parent / "s2sbench.py"), module_type="metric")

EXAMPLE = json.dumps(
    {
        "references": [0, 0, 1],
        "text_scores": [[1.0, 2.0], [2.0, 1.5], [3.0, 1.0]],
        "audio_scores": [[2.0, 1.0], [2.0, 2.5], [3.0, 1.0]],
    },
    indent=1,
)
INPUTS = ("references", "text_scores", "audio_scores")
OPTIONS = {f.name: f for f in fields(RunOptions)}
"""The run options (`s2sbench_hf.options`): every control takes its default, range and choices from them."""


def option_number(name: str, label: str) -> gr.Number:
    """A whole-number control for the option ``name``, with the option's default and range (``minimum``/``maximum``,
    no maximum meaning `MAX_COUNT`, as `options.range_problems` reads it), so that the page offers exactly the values
    the module takes: Gradio refuses the others before the module is called."""
    option = OPTIONS[name]
    return gr.Number(
        value=option.default,
        precision=0,
        minimum=option.metadata["minimum"],
        maximum=option.metadata["maximum"] or MAX_COUNT,
        label=label,
    )


def compute(scores: str, task: str, tie_policy: str, n_bootstrap: float, seed: float) -> dict:
    """The module's scores-mode result for the JSON object in ``scores``; a bad input is shown as an error."""
    try:
        data = json.loads(scores)
    except json.JSONDecodeError as err:
        raise gr.Error(f"the scores are not valid JSON ({err}); see the example.") from err
    if not isinstance(data, dict) or set(data) != set(INPUTS):
        raise gr.Error(f"give one JSON object with exactly the keys {', '.join(INPUTS)}; see the example.")
    try:
        return module.compute(
            **data,
            task=None if task == "auto" else task,
            tie_policy=tie_policy,
            n_bootstrap=int(n_bootstrap),
            seed=int(seed),
        )
    except (TypeError, ValueError) as err:
        raise gr.Error(str(err)) from err


with gr.Blocks(title="S2SBench metric") as demo:
    gr.Markdown(
        "# S2SBench\n"
        "Text-context vs spoken-context pairwise accuracy of a speech LLM, and the degradation between them. "
        "Paste one score per choice for every item (lower is better, e.g. mean NLL per token) after the text and "
        "after the spoken context, and each item's answer index. Model mode (the metric runs your model) is in "
        "Python: `evaluate.load(...).compute(model_id=...)`, see the card."
    )
    with gr.Row():
        with gr.Column():
            scores = gr.Code(value=EXAMPLE, language="json", label="references, text_scores, audio_scores")
            with gr.Row():
                task = gr.Dropdown(
                    ["auto", *TASKS],
                    value="auto",
                    label="task (decides the tie rule; auto: by the number of choices)",
                )
                tie_policy = gr.Dropdown(
                    list(OPTIONS["tie_policy"].metadata["choices"]),
                    value=OPTIONS["tie_policy"].default,
                    label="tie policy",
                )
            with gr.Row():
                numbers = {
                    "n_bootstrap": option_number("n_bootstrap", "bootstrap resamples"),
                    "seed": option_number("seed", "seed"),
                }
            button = gr.Button("compute", variant="primary")
        result = gr.JSON(label="result")
    button.click(compute, inputs=[scores, task, tie_policy, *numbers.values()], outputs=result, api_name="compute")

if __name__ == "__main__":
    demo.launch()
