"""One document model and one renderer for everything the package writes as markdown or HTML: the reports, the
tables the commands print and the model cards quote, and the leaderboard.

A `Document` is a title and a list of blocks (`Heading`, `Paragraph`, `Bullets`, `Table`, `Image`);
`markdown` and `html` render it through the Jinja2 templates of ``s2sbench_hf/templates/`` (``*.md.j2``,
``*.html.j2``, one set). A block's text is a `Text`: the package's own words (``str``) and, wrapped in a
`Quote`, text from outside (a model id, a folder name, a validation message, anything read from a file).

**The one escaping rule.** Text from outside first becomes `files.plain` text: one line, a lone surrogate or a
byte that is not UTF-8 written as its backslash escape. Then:

* in HTML, every value a template prints goes through Jinja2's autoescape (``& < > " '``), the package's own
  words included: no element or attribute can come out of a text;
* in markdown, each `Quote` goes through `escape_markdown` (``& < >`` as HTML entities, markdown punctuation
  and ``|`` backslash-escaped, leading and trailing white space as character references): no link, image,
  emphasis, code, HTML, autolink, list, heading, table cell or line break can come out of it. The package's own
  words are written as they are (they are markdown), with ``|`` escaped in a table cell.

So a string shows the same literal text in both formats, whatever its bytes (``tests/test_render.py`` renders
every hostile string of ``tests/attack_cases.py`` both ways and compares the cells).
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from s2sbench_hf.files import plain

if TYPE_CHECKING:
    from jinja2 import Environment

# ------------------------------------------------------------------------------------------------ text


@dataclass(frozen=True)
class Quote:
    """Text from outside (read from a file, a folder name, a submission): literal in every format, never markup."""

    text: str


Text = str | Quote | tuple[str | Quote, ...]
"""A block's text: the package's own words (``str``, written as they are), a `Quote`, or a sequence of both."""


def parts(text: Text) -> tuple[str | Quote, ...]:
    """The pieces of a `Text`."""
    return text if isinstance(text, tuple) else (text,)


def join(texts: Iterable[Text], separator: str) -> tuple[str | Quote, ...]:
    """``separator.join`` for texts that may hold quotes."""
    joined: list[str | Quote] = []
    for i, text in enumerate(texts):
        joined += [separator, *parts(text)] if i else parts(text)
    return tuple(joined)


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCTUATION = frozenset("\\`*_{}[]()#+!|~:@=$^.")
"""What can start markdown syntax (links, images, emphasis, code, tables, autolinks: ``:`` ``@`` ``.``)."""


def escape_markdown(value: object) -> str:
    """``value`` as literal markdown text: no element (link, image, emphasis, code, HTML, list, heading, table cell,
    line break) can come out of it, in a paragraph, a heading or a table cell.

    `files.plain` first (one line; a lone surrogate as ``\\udcff``); then ``& < >`` become HTML entities, markdown
    punctuation is backslash-escaped (an underscore between two letters or digits stays: it can neither open nor
    close emphasis), a leading ``-`` too (a list item), and white space at either end becomes a character
    reference (indentation would make a code block; a table cell would lose it).
    """
    text = plain(value)
    out = []
    for i, ch in enumerate(text):
        if ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        elif ch == "_" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
            out.append(ch)
        elif ch in _MD_PUNCTUATION or (ch == "-" and i == 0):
            out.append("\\" + ch)
        elif ch.isspace() and (not text[:i].strip() or not text[i:].strip()):
            out.append(f"&#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------------------------------- the model


@dataclass
class Heading:
    text: Text
    level: int = 2
    kind: ClassVar[str] = "heading"


@dataclass
class Paragraph:
    text: Text
    kind: ClassVar[str] = "paragraph"


@dataclass
class Bullets:
    items: Sequence[Text]
    kind: ClassVar[str] = "bullets"


@dataclass
class Image:
    """A PNG: markdown links ``path`` (relative to the folder the markdown is written into); HTML inlines the image
    (``data``, by default the file's bytes) as a data URI, so the page is one self-contained file."""

    path: str | Path
    alt: str
    caption: str = ""
    data: bytes | None = None
    id: str = ""
    kind: ClassVar[str] = "image"


@dataclass(frozen=True)
class Column:
    label: str
    text: bool | None = None
    """Words (left-aligned in HTML) or numbers (right-aligned); None: each cell by its look (`Cell`)."""
    key: str = ""
    """HTML: a sortable column's key (``data-key``, with ``data-type`` and ``data-order``), for a page's script."""
    order: str = "asc"
    """HTML: the direction of a sortable column's first sort."""


@dataclass
class Cell:
    """A table cell: its text, and what HTML shows besides (markdown: the note after the text, the items after it,
    separated by ``; ``)."""

    text: Text
    note: str = ""
    """Shown small under the text in HTML (an interval)."""
    title: Text = ""
    """HTML: the tooltip."""
    value: str | None = None
    """HTML: ``data-value``, what a page's script sorts by (None: no attribute)."""
    items: Sequence[Text] = ()
    """A list under the text (HTML ``<ul>``)."""
    css: str = ""
    """HTML: a class besides ``text`` (which words get)."""


_NUMERIC = re.compile(r"^[-+]?(\d|\.\d)")


@dataclass
class Row:
    cells: Sequence[Cell | Text]
    data: Mapping[str, Text] = field(default_factory=dict)
    """HTML: the row's ``data-*`` attributes (name without ``data-``)."""
    css: str = ""

    def __post_init__(self) -> None:
        self.cells = [c if isinstance(c, Cell) else Cell(c) for c in self.cells]


@dataclass
class Table:
    columns: Sequence[Column | str]
    rows: Sequence[Row | Sequence[Cell | Text]]
    caption: str = ""
    id: str = ""
    data: Mapping[str, Text] = field(default_factory=dict)
    """HTML: the table's ``data-*`` attributes (name without ``data-``)."""
    kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        self.columns = [c if isinstance(c, Column) else Column(c) for c in self.columns]
        self.rows = [r if isinstance(r, Row) else Row(r) for r in self.rows]


Block = Heading | Paragraph | Bullets | Table | Image


@dataclass
class Document:
    title: Text
    blocks: list[Block] = field(default_factory=list)
    footer: Text = ""
    """HTML: the page's footer."""
    page: str = "report"
    """The HTML page template (``templates/<page>.html.j2``): its style and script."""

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self


# --------------------------------------------------------------------------------------- the renderers


def _text(value: Text) -> str:
    return "".join(part.text if isinstance(part, Quote) else part for part in parts(value))


def _html_value(value: Any) -> Any:
    """What an HTML template prints, before autoescape: `files.plain` text of anything but markup (a macro's
    output: what has ``__html__`` is escaped already)."""
    if hasattr(value, "__html__"):
        return value
    return plain(_text(value) if isinstance(value, (Quote, tuple)) else value)


def _md(text: Text, cell: bool = False) -> str:
    """Markdown of a text: each `Quote` through `escape_markdown`, own words as written (in a table ``cell``, with
    ``|`` escaped: a cell separator never comes from a text)."""
    return "".join(
        escape_markdown(p.text) if isinstance(p, Quote) else p.replace("|", "\\|") if cell else p for p in parts(text)
    )


def _md_value(value: Any) -> str:
    """What a markdown template prints: `_md` of a text, anything else (a number) as ``str``."""
    return _md(value) if isinstance(value, (str, Quote, tuple)) else str(value)


def _md_cell(cell: Cell | Text) -> str:
    """A markdown table cell: its text, then its note and its items (separated by ``; ``), each `_md` in a cell."""
    if not isinstance(cell, Cell):
        cell = Cell(cell)
    texts = (cell.text, cell.note, join(cell.items, "; "))
    return " ".join(piece for piece in (_md(text, cell=True) for text in texts) if piece)


def _html_class(column: Column, cell: Cell) -> str:
    """``text`` for words (left-aligned); numbers get none. A column without a kind decides per cell: a `Quote` or
    text that does not start like a number is words."""
    words = column.text
    if words is None:
        value = cell.text
        words = not (isinstance(value, str) and (_NUMERIC.match(value) or value in ("", "-")))
    return " ".join(c for c in ("text" if words else "", cell.css) if c)


def _link(image: Image, base: str | Path | None) -> str:
    path = str(image.path) if base is None else os.path.relpath(image.path, base)
    return path.replace(os.sep, "/")


def _data_uri(image: Image) -> str:
    data = image.data if image.data is not None else Path(image.path).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@functools.cache
def _environment(name: str) -> Environment:
    """The Jinja2 environment of ``html`` (autoescape on) or ``markdown`` (`escape_markdown` for each `Quote`), made
    on first use."""
    # Jinja2 when a first document is rendered: `s2sbench --help` and the commands that write none (the families
    # table's module imports this one) start without it
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("s2sbench_hf", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=name == "html",
        finalize=_html_value if name == "html" else _md_value,
    )
    env.globals.update(html_class=_html_class, link=_link, data_uri=_data_uri)
    env.filters["md_cell"] = _md_cell
    return env


def markdown(item: Document | Block, base: str | Path | None = None) -> str:
    """A document (or one block) as markdown; images link their path relative to ``base`` (where the file goes)."""
    if isinstance(item, Document):
        return _environment("markdown").get_template("document.md.j2").render(doc=item, base=base)
    return _environment("markdown").get_template("block.md.j2").render(block=item, base=base)


def html(doc: Document) -> str:
    """A document as one self-contained HTML page (``templates/<doc.page>.html.j2``): inline style and script,
    images as data URIs, no external asset."""
    return _environment("html").get_template(f"{doc.page}.html.j2").render(doc=doc)
