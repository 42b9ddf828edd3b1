"""Issue 23, item 4: one renderer, one escaping rule. Every hostile string of ``tests/attack_cases.py`` goes into a
document as a title, a heading, a paragraph, a list item, a table cell, a tooltip and a ``data-*`` attribute, and
through the reports and the board; both formats must show it as the same literal text (`files.plain` of it),
and no element, attribute, row or column may come out of it.

Markdown is read back with markdown-it (HTML and linkify on, tables and strikethrough too: the most a renderer such
as GitHub's makes of it); HTML with `html.parser`.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from attack_cases import HOSTILE_TEXTS, make_runs
from markdown_it import MarkdownIt

from s2sbench_hf import leaderboard, plots, render, report, tables
from s2sbench_hf.files import plain
from s2sbench_hf.render import Bullets, Cell, Column, Document, Heading, Paragraph, Quote, Row, Table
from s2sbench_hf.validate import ValidationReport

BENIGN = "acme/steady"
"""The string every hostile one is compared with: the same document around it must have the same structure."""
PNG = b"\x89PNG\r\n\x1a\n"
MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(["table", "linkify", "strikethrough"])
OWN_BLOCKS = {
    "heading_open",
    "heading_close",
    "paragraph_open",
    "paragraph_close",
    "inline",
    "bullet_list_open",
    "bullet_list_close",
    "list_item_open",
    "list_item_close",
    "table_open",
    "table_close",
    "thead_open",
    "thead_close",
    "tbody_open",
    "tbody_close",
    "tr_open",
    "tr_close",
    "th_open",
    "th_close",
    "td_open",
    "td_close",
}
"""The markdown tokens a document of headings, paragraphs, bullets and tables makes (no code, quote, rule...)."""
INLINE_TEXT = {"text", "text_special"}
"""The only inline tokens text may make: no link, image, emphasis, code, HTML, line break or strikethrough."""


def _ids(texts):
    return [repr(t)[:40] for t in texts]


# ------------------------------------------------------------------------------------------ readers


class _Page(HTMLParser):
    """Every element with its attributes, and the text of each element of interest (by tag, in order)."""

    KEPT = ("title", "h1", "h2", "p", "li", "th", "td", "small", "footer")

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.texts: dict[str, list[str]] = {tag: [] for tag in self.KEPT}
        self.open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.KEPT:
            self.texts[tag].append("")
            self.open.append(tag)

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self.open:
            self.texts[self.open[-1]][-1] += data

    def attributes(self, tag: str, name: str) -> list[str]:
        return [attrs[name] for t, attrs in self.tags if t == tag and name in attrs]


def _inline_text(token) -> str:
    return "".join(child.content for child in token.children or [] if child.type in INLINE_TEXT)


def _markdown(text: str) -> tuple[list, dict[str, list[str]]]:
    """(block tokens, texts by the block that holds them: heading, paragraph, list item, th, td)."""
    tokens = MARKDOWN.parse(text)
    texts: dict[str, list[str]] = {"heading": [], "paragraph": [], "th": [], "td": []}
    holder = []
    for token in tokens:
        if token.type.endswith("_open"):
            holder.append(token.type.removesuffix("_open"))
        elif token.type.endswith("_close"):
            holder.pop()
        elif token.type == "inline":
            texts.setdefault(holder[-1], []).append(_inline_text(token))
    return tokens, texts


def _inline_kinds(tokens) -> set[str]:
    return {child.type for t in tokens if t.type == "inline" for child in t.children or []}


def _table_shape(tokens) -> list[int]:
    """The number of cells of each row of each table, in order."""
    shape, cells = [], 0
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            shape.append(cells)
            cells = 0
    return shape


# ------------------------------------------------------------------------------------------ the rule


def _document(text: str) -> Document:
    """A document that puts ``text`` (as a `Quote`) everywhere a text can go."""
    quoted = Quote(text)
    return Document(
        quoted,
        [
            Heading(("Section: ", quoted)),
            Paragraph(("Model ", quoted, ".")),
            Bullets([quoted, ("error: ", quoted)]),
            Table(
                [Column("model", True, key="model"), "n", Column("notes", True)],
                [
                    Row([Cell(quoted, title=quoted, value=text), "1", quoted], {"model": quoted}),
                    ["plain", "2", Cell("x", items=[quoted])],
                ],
                caption="Own words.",
                id="t",
                data={"source": quoted},
            ),
        ],
        footer=quoted,
    )


NON_EMPTY = [t for t in HOSTILE_TEXTS if t]
"""An empty list item has no paragraph in markdown: the empty string is left out where blocks are compared."""


@pytest.mark.parametrize("text", NON_EMPTY, ids=_ids(NON_EMPTY))
def test_markdown_shows_every_hostile_string_as_text(text):
    expected = plain(text)
    md = render.markdown(_document(text))
    tokens, texts = _markdown(md)
    benign_tokens, _ = _markdown(render.markdown(_document(BENIGN)))
    assert [t.type for t in tokens] == [t.type for t in benign_tokens], md  # same blocks, rows and cells
    assert {t.type for t in tokens} <= OWN_BLOCKS and _inline_kinds(tokens) <= INLINE_TEXT, md
    assert _table_shape(tokens) == [3, 3, 3], md  # a '|' or a line break makes no cell and no row
    assert texts["heading"] == [expected, "Section: " + expected]
    assert texts["paragraph"] == ["Model " + expected + ".", expected, "error: " + expected, "Own words."]
    assert texts["td"] == [expected, "1", expected, "plain", "2", "x " + expected]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=_ids(HOSTILE_TEXTS))
def test_html_shows_every_hostile_string_as_text(text):
    expected = plain(text)
    page = render.html(_document(text))
    parsed, benign = _Page(page), _Page(render.html(_document(BENIGN)))
    assert [tag for tag, _ in parsed.tags] == [tag for tag, _ in benign.tags], page  # no element from the text
    assert [sorted(attrs) for _, attrs in parsed.tags] == [sorted(attrs) for _, attrs in benign.tags]  # no attribute
    assert page.lower().count("<script") == 1 and "javascript:" not in "".join(parsed.attributes("img", "src"))
    assert parsed.texts["title"] == parsed.texts["h1"] == [expected]
    assert parsed.texts["h2"] == ["Section: " + expected]
    assert parsed.texts["p"] == ["Model " + expected + ".", "Own words."]
    assert parsed.texts["li"] == [expected, "error: " + expected, expected]
    assert parsed.texts["td"] == [expected, "1", expected, "plain", "2", "x"]
    assert parsed.texts["footer"] == [expected]
    assert parsed.attributes("td", "title") == parsed.attributes("td", "data-value") == [expected]
    assert parsed.attributes("tr", "data-model") == parsed.attributes("table", "data-source") == [expected]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=_ids(HOSTILE_TEXTS))
def test_the_two_formats_agree_on_every_cell(text):
    """A cell's text, its note (markdown: after it; HTML: small under it), own words with a '|': the same text."""
    table = Table(["a", "b"], [[Quote(text), Quote(text + " | 2")], [Cell(Quote(text), note="[1, 2]"), "own | words"]])
    _, md = _markdown(render.markdown(table))
    page = _Page(render.html(Document("t", [table])))
    cells = [plain(text), plain(text + " | 2"), plain(text), "own | words"]
    assert page.texts["td"] == cells and page.texts["small"] == ["[1, 2]"]
    assert md["td"] == [*cells[:2], " ".join(filter(None, (cells[2], "[1, 2]"))), cells[3]]


def test_escape_markdown_is_the_one_rule():
    assert render.escape_markdown("<b>*x*</b>|\\") == "&lt;b&gt;\\*x\\*&lt;/b&gt;\\|\\\\"
    assert render.escape_markdown("- a_b _c_\n  ") == "\\- a_b \\_c\\_&#32;&#32;&#32;"  # the line break: a space
    assert render.escape_markdown("tiny\udcff") == "tiny\\\\udcff"  # the surrogate's escape, itself escaped
    assert render.escape_markdown(3) == "3"


def test_own_words_stay_markdown_and_a_table_keeps_its_columns():
    """The package's own words are written as they are (a table printed in a terminal stays readable), with '|'
    escaped in a cell; a table alone renders without a trailing newline, as the commands print it."""
    table = Table(["task", "text acc % [95% CI]"], [["`x` a|b", Cell("50.0", note="[40.0, 60.0]")]])
    assert render.markdown(table) == "| task | text acc % [95% CI] |\n|---|---|\n| `x` a\\|b | 50.0 [40.0, 60.0] |"


# ------------------------------------------------------------------------------------------ the callers


@pytest.fixture(scope="module")
def honest_run(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("render-runs")).honest


@pytest.fixture
def no_plots(monkeypatch):
    """The report's figure replaced by a stub PNG (matplotlib takes names literally: tests/test_attacks.py)."""

    def stub(res, path, **kwargs):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG)
        return path

    monkeypatch.setattr(plots, "plot_run", stub)
    monkeypatch.setattr(plots, "plot_compare", stub)


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=_ids(HOSTILE_TEXTS))
def test_a_report_shows_every_hostile_string_as_text(text, honest_run, tmp_path, no_plots):
    """As model id, revision, note, item error and command of a results file; and as a compared run's name."""
    folder = shutil.copytree(honest_run, tmp_path / "run", ignore=shutil.ignore_patterns("cache", "reference"))
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    data["model"].update(model_id=text, revision=text)
    data["notes"] = [text]
    data["errors"] = [{"task": "scmmlu", "item_id": text, "problem": text, "fix": text}]
    data.setdefault("environment", {})["command"] = text
    (folder / "results.json").write_text(json.dumps(data), encoding="ascii")  # a surrogate as its escape
    md_path, html_path = report.write_report(report.run_report(folder), tmp_path / "out")
    tokens, texts = _markdown(md_path.read_text(encoding="utf-8"))
    assert {t.type for t in tokens} <= OWN_BLOCKS
    assert _inline_kinds(tokens) <= INLINE_TEXT | {"image", "em_open", "em_close"}  # the figure, its caption
    assert texts["heading"][0] == ("S2SBench report: " + plain(text) if text else "S2SBench report:")
    assert "Model: " + plain(text) in texts["paragraph"][0]
    page = _Page(html_path.read_text(encoding="utf-8"))
    assert page.texts["h1"] == ["S2SBench report: " + plain(text)]
    assert [tag for tag, _ in page.tags if tag in ("script", "img", "a", "iframe", "svg", "em")] == ["img", "script"]
    assert not text or "Command: " + plain(text) in page.texts["li"]  # an empty command is left out

    compared = report.compare_report([folder], tmp_path / "cmp", names=[text])
    tokens, texts = _markdown(render.markdown(compared, tmp_path / "cmp"))
    header, rows = tables.compare_table({"x": data})
    assert _table_shape(tokens) == [len(header)] * (1 + len(rows))
    assert texts["td"][0] == plain(text)


def test_the_board_shows_every_hostile_string_as_text():
    """Every hostile string as the source, a failed submission's folder and its problem: one row each, in both."""
    board = leaderboard.Board(source=" ".join(HOSTILE_TEXTS), sort_by=leaderboard.DEFAULT_SORT, accepted=())
    for text in HOSTILE_TEXTS:
        validation = ValidationReport(path=Path(text or "."))
        validation.add("malformed", text)
        board.invalid.append(leaderboard.Submission(text, validation))
    md = leaderboard.render_markdown(board, image="scatter.png")
    tokens, texts = _markdown(md)
    assert _inline_kinds(tokens) <= INLINE_TEXT | {"image"}
    assert _table_shape(tokens) == [len(leaderboard.columns(board))] + [4] * (1 + len(HOSTILE_TEXTS))
    names = [plain(sub.name) for sub in board.invalid]
    assert texts["td"][1::4] == names and texts["td"][2::4] == [plain(t) for t in HOSTILE_TEXTS]
    page = _Page(leaderboard.render_html(board, png=PNG))
    assert page.texts["td"][1::4] == names and page.texts["td"][2::4] == [plain(t) for t in HOSTILE_TEXTS]
    assert page.attributes("tr", "data-path") == [plain(t) for t in HOSTILE_TEXTS]
    assert [li.removeprefix("[malformed] ") for li in page.texts["li"]] == [plain(t) for t in HOSTILE_TEXTS]
    assert [tag for tag, _ in page.tags if tag in ("script", "img", "a", "iframe", "svg", "em")] == ["img", "script"]
