"""The S2SBench leaderboard as a Hugging Face Space (Gradio).

It shows the same table as ``s2sbench leaderboard`` (markdown and static HTML):
every logic step (download, re-validation, ranking, formatting, the plot) is
`s2sbench_hf.leaderboard`; this file only lays out the page. Everything a
submitter wrote (model names, paths, validation messages) is shown as plain
text (`s2sbench_hf.files.plain`: one line, any surrogate or undecodable byte as
its backslash escape): the tables are ``datatype="str"`` and no submission field
reaches a Markdown or HTML component. A submission that cannot be read or
validated is one row of the failed table; the others are shown as usual. The
speech-LM table (ranked, partial, other: `leaderboard.SPEECH_LM`) is shown below
S2SBench's and above the failed submissions, as in ``leaderboard.md``, in the
same text-only tables, only when a submission has a speech-LM set.

Settings (Space variables / secrets):
  S2SBENCH_RESULTS_REPO  the Hub results dataset with submissions/, or a local folder (required: unset, the page
                         says what to set; unreadable, it names the dataset and the cause, instead of a board)
  S2SBENCH_RESULTS_REVISION  optional revision of it
  S2SBENCH_ACCEPTED_DATASETS  the datasets whose runs are ranked, DATASET[@REVISION] separated by commas
                         (default: the official S2SBench release); runs on anything else are listed apart
  HF_TOKEN               only for a private results dataset
"""

import io
import logging
import os

import gradio as gr
import pandas as pd
from PIL import Image

from s2sbench_hf import leaderboard
from s2sbench_hf.failures import offline_unless_hub_answers
from s2sbench_hf.render import escape_markdown

RESULTS_VARIABLE = "S2SBENCH_RESULTS_REPO"
RESULTS_REPO = os.environ.get(RESULTS_VARIABLE, "").strip() or None
"""No default: a board of somebody else's results (or none) must never stand in for a setting left out."""
REVISION = os.environ.get("S2SBENCH_RESULTS_REVISION") or None
ACCEPTED = [a.strip() for a in os.environ.get("S2SBENCH_ACCEPTED_DATASETS", "").split(",") if a.strip()]
NOT_CONFIGURED = (
    f"**No results dataset is set.** Set the Space variable `{RESULTS_VARIABLE}` to the Hub results dataset that "
    "holds the submissions (for example `ORG/s2sbench-results`), or to a local folder with `submissions/`, then "
    "restart the Space."
)
"""What the page shows, instead of a board, when `RESULTS_VARIABLE` is not set."""

TEXT_TABLE = {"interactive": False, "wrap": True, "datatype": "str"}
"""Every table shows text as text: no submission field reaches a Markdown or HTML component."""
_board = None


class Unavailable(Exception):
    """The board cannot be shown; the message (Markdown) says why and what to do, for the page itself to show."""


def _load(refresh: bool = False) -> leaderboard.Board:
    """Download and re-validate the submissions once; later calls only re-rank. Raises `Unavailable` with one
    line naming the source and the cause (`leaderboard.source_problem`) when it is not set or cannot be read."""
    global _board
    if RESULTS_REPO is None:
        raise Unavailable(NOT_CONFIGURED)
    if _board is None or refresh:
        try:
            with offline_unless_hub_answers():  # no network: one line in seconds, not the Hub client's retries
                _board = leaderboard.build_board(
                    RESULTS_REPO,
                    revision=REVISION,
                    token=os.environ.get("HF_TOKEN"),
                    accepted=ACCEPTED or leaderboard.DEFAULT_ACCEPTED,
                )
        # any failure to reach or read the source (Hub, network, disk; HTTP backends' errors share no base class)
        # becomes the page's one line instead of Gradio's generic error
        except Exception as err:
            logging.getLogger(__name__).warning("cannot build the board of %r", RESULTS_REPO, exc_info=True)
            problem = leaderboard.source_problem(RESULTS_REPO, err)
            raise Unavailable(f"**The board cannot be shown.** {escape_markdown(problem)}") from err
    return _board


def _frame(table):
    """A (headers, rows) table of the library as a DataFrame."""
    headers, rows = table
    return pd.DataFrame(rows, columns=headers)


def _speech_lm(board: leaderboard.Board) -> tuple:
    """The speech-LM column (visible only when a submission has a speech-LM set: most boards have none), its summary
    line and its ranked, partial and other tables (`leaderboard.GROUPS` of `leaderboard.SPEECH_LM`)."""
    shown = any(board.group(name, leaderboard.SPEECH_LM) for name in leaderboard.GROUPS)
    return (
        gr.update(visible=shown),
        f"{board.speech_lm_counts()} {leaderboard.SPEECH_LM_NOTE}",
        *(
            _frame(leaderboard.board_table(board, group=name, view=leaderboard.SPEECH_LM))
            for name in leaderboard.GROUPS
        ),
    )


def show(sort_by: str, refresh: bool = False) -> tuple:
    """The notice (shown only when there is no board, saying why), the board's column and the speech-LM column
    (hidden then), the sort menu narrowed to the columns that hold a value (`leaderboard.sort_choices`), the summary
    line, the ranked table, the plot, the partial runs, the unranked runs, the failed submissions, then the speech-LM
    summary and tables (`_speech_lm`); every text is the library's `plain` text (a bad file is one failed row, never
    an error)."""
    try:
        board = _load(refresh)
    except Unavailable as err:
        hidden = gr.update(visible=False)
        emptied = [None] * (len(outputs) - 4)  # the board's own outputs, hidden with its columns
        return gr.update(value=str(err), visible=True), hidden, hidden, gr.update(), *emptied
    choices = leaderboard.sort_choices(board)
    board = leaderboard.rank_board(board, sort_by if sort_by in choices else leaderboard.DEFAULT_SORT)
    summary = (
        f"{board.counts()} Pairwise accuracy in %, gap = text - audio in points; per-task cells show the 95% "
        "paired-bootstrap interval."
    )
    speech_lm_column, *speech_lm = _speech_lm(board)
    return (
        gr.update(value="", visible=False),
        gr.update(visible=True),
        speech_lm_column,
        gr.update(choices=choices, value=board.sort_by),
        summary,
        _frame(leaderboard.board_table(board)),
        Image.open(io.BytesIO(leaderboard.scatter_png(board))),
        *(_frame(leaderboard.board_table(board, group=name)) for name in leaderboard.UNRANKED),
        _frame(leaderboard.invalid_table(board)),
        *speech_lm,
    )


with gr.Blocks(title="S2SBench leaderboard") as demo:
    gr.Markdown(
        "# S2SBench leaderboard\n"
        "How much does a speech LLM lose when it **hears** the context instead of **reading** it? "
        "Every submission is re-validated (schema, per-item records, metrics recomputed, dataset fingerprint)."
    )
    notice = gr.Markdown(visible=False)
    with gr.Column() as board_column:
        gr.Textbox(f"s2sbench submit RUN_DIR --repo {RESULTS_REPO}", label="submit yours with", interactive=False)
        with gr.Row():
            # every valid key until the board is read (the API checks a value against these), then its own
            sort_by = gr.Dropdown(leaderboard.sort_choices(), value=leaderboard.DEFAULT_SORT, label="rank by")
            refresh = gr.Button("reload submissions")
        summary = gr.Textbox(label="submissions", interactive=False)
        table = gr.Dataframe(label="ranked", **TEXT_TABLE)
        plot = gr.Image(label="text vs speech-context accuracy", type="pil")
        unranked = [gr.Dataframe(label=title, **TEXT_TABLE) for title in leaderboard.UNRANKED.values()]
        with gr.Column(visible=False) as speech_lm_column:
            gr.Markdown("## Speech LM: the speech-LM sets")
            speech_lm_summary = gr.Textbox(label="speech-LM submissions", interactive=False)
            speech_lm_tables = [
                gr.Dataframe(label=f"speech LM: {title}", **TEXT_TABLE)
                for title in ("ranked", *leaderboard.UNRANKED.values())
            ]
        invalid = gr.Dataframe(label="failed validation (not ranked)", **TEXT_TABLE)
    outputs = [notice, board_column, speech_lm_column, sort_by, summary, table, plot, *unranked, invalid]
    outputs += [speech_lm_summary, *speech_lm_tables]
    # outside the queue: the page's first request returns the table (no event stream to wait for)
    demo.load(show, inputs=sort_by, outputs=outputs, api_name="show", queue=False)
    sort_by.input(show, inputs=sort_by, outputs=outputs, api_name=False)
    refresh.click(lambda key: show(key, refresh=True), inputs=sort_by, outputs=outputs, api_name="reload")

if __name__ == "__main__":
    demo.launch()
