"""The metric Space's page: scores mode of the S2SBench module in a small Gradio interface.

Hand-written with ``gr.Blocks`` (evaluate's ``launch_gradio_widget`` does not run on
current Gradio). Model mode needs the model's weights and usually a GPU: run it in
Python (see the card). Every number comes from the module, i.e. from
``s2sbench_hf.evaluate_metric``; this file only lays out the page.
"""

import json
from pathlib import Path

import evaluate
import gradio as gr

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
                    ["auto", "sstorycloze", "zh_sstorycloze", "scmmlu"],
                    value="auto",
                    label="task (decides the tie rule; auto: by the number of choices)",
                )
                tie_policy = gr.Dropdown(["reference", "half"], value="reference", label="tie policy")
            with gr.Row():
                n_bootstrap = gr.Number(value=1000, precision=0, minimum=0, maximum=10000, label="bootstrap resamples")
                seed = gr.Number(value=0, precision=0, label="seed")
            button = gr.Button("compute", variant="primary")
        result = gr.JSON(label="result")
    button.click(compute, inputs=[scores, task, tie_policy, n_bootstrap, seed], outputs=result, api_name="compute")

if __name__ == "__main__":
    demo.launch()
