"""The S2SBench leaderboard as a Hugging Face Space (Gradio).

It shows the same table as ``s2sbench leaderboard`` (markdown and static HTML):
every logic step (download, re-validation, ranking, formatting, the plot) is
`s2sbench_hf.leaderboard`; this file only lays out the page. Everything a
submitter wrote (model names, paths, validation messages) is shown as plain
text (`s2sbench_hf.files.plain`: one line, any surrogate or undecodable byte as
its backslash escape): the tables are ``datatype="str"`` and no submission field
reaches a Markdown or HTML component. A submission that cannot be read or
validated is one row of the failed table; the others are shown as usual.

Settings (Space variables / secrets):
  S2SBENCH_RESULTS_REPO  the Hub results dataset with submissions/, or a local folder (required)
  S2SBENCH_RESULTS_REVISION  optional revision of it
  S2SBENCH_ACCEPTED_DATASETS  the datasets whose runs are ranked, DATASET[@REVISION] separated by commas
                         (default: the official S2SBench release); runs on anything else are listed apart
  HF_TOKEN               only for a private results dataset
"""

import io
import os

import gradio as gr
import pandas as pd
from PIL import Image

from s2sbench_hf import leaderboard

RESULTS_REPO = os.environ.get("S2SBENCH_RESULTS_REPO", "s2sbench/results")
REVISION = os.environ.get("S2SBENCH_RESULTS_REVISION") or None
ACCEPTED = [a.strip() for a in os.environ.get("S2SBENCH_ACCEPTED_DATASETS", "").split(",") if a.strip()]

TEXT_TABLE = {"interactive": False, "wrap": True, "datatype": "str"}
"""Every table shows text as text: no submission field reaches a Markdown or HTML component."""
_board = None


def _load(refresh=False):
    """Download and re-validate the submissions once; later calls only re-rank."""
    global _board
    if _board is None or refresh:
        _board = leaderboard.build_board(
            RESULTS_REPO,
            revision=REVISION,
            token=os.environ.get("HF_TOKEN"),
            accepted=ACCEPTED or leaderboard.DEFAULT_ACCEPTED,
        )
    return _board


def _frame(table):
    """A (headers, rows) table of the library as a DataFrame."""
    headers, rows = table
    return pd.DataFrame(rows, columns=headers)


def show(sort_by, refresh=False):
    """The summary line, the ranked table, the plot, the partial runs, the unranked runs and the failed
    submissions; every text is the library's `plain` text (a bad file is one failed row, never an error)."""
    board = leaderboard.rank_board(_load(refresh), sort_by)
    summary = (
        f"{board.counts()} Pairwise accuracy in %, gap = text - audio in points; per-task cells show the 95% "
        "paired-bootstrap interval."
    )
    return (
        summary,
        _frame(leaderboard.board_table(board)),
        Image.open(io.BytesIO(leaderboard.scatter_png(board))),
        *(_frame(leaderboard.board_table(board, group=name)) for name in leaderboard.UNRANKED),
        _frame(leaderboard.invalid_table(board)),
    )


with gr.Blocks(title="S2SBench leaderboard") as demo:
    gr.Markdown(
        "# S2SBench leaderboard\n"
        "How much does a speech LLM lose when it **hears** the context instead of **reading** it? "
        "Every submission is re-validated (schema, per-item records, metrics recomputed, dataset fingerprint)."
    )
    gr.Textbox(f"s2sbench submit RUN_DIR --repo {RESULTS_REPO}", label="submit yours with", interactive=False)
    with gr.Row():
        sort_by = gr.Dropdown(leaderboard.sort_choices(), value=leaderboard.DEFAULT_SORT, label="rank by")
        refresh = gr.Button("reload submissions")
    summary = gr.Textbox(label="submissions", interactive=False)
    table = gr.Dataframe(label="ranked", **TEXT_TABLE)
    plot = gr.Image(label="text vs speech-context accuracy", type="pil")
    unranked = [gr.Dataframe(label=title, **TEXT_TABLE) for title in leaderboard.UNRANKED.values()]
    invalid = gr.Dataframe(label="failed validation (not ranked)", **TEXT_TABLE)
    outputs = [summary, table, plot, *unranked, invalid]
    # outside the queue: the page's first request returns the table (no event stream to wait for)
    demo.load(show, inputs=sort_by, outputs=outputs, api_name="show", queue=False)
    sort_by.change(show, inputs=sort_by, outputs=outputs, api_name=False)
    refresh.click(lambda key: show(key, refresh=True), inputs=sort_by, outputs=outputs, api_name="reload")

if __name__ == "__main__":
    demo.launch()
