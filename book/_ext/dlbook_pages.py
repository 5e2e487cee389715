"""What the book's generated pages share: reading a page's glue, and a directive that
becomes HTML once every page has been executed.

Two pages are generated from what the chapters glue: the claims ledger
(``dlbook_claims``) and the execution report (``dlbook_report``). Each needs

* :func:`read_glue`: a page's glued outputs, which myst-nb writes to
  ``<output folder>/<page>.glue.json`` when it executes the page;
* :func:`add_generated_directive`: a directive that leaves a placeholder where it
  stands and replaces it, when the page is resolved (after every page has been read and
  executed), with the HTML its ``render(app, docname)`` returns (for the PDF edition,
  the same paragraphs and tables as docutils nodes: :func:`html_to_nodes`); the pages
  that use it are read again on every build, since they depend on every other page.

Both extensions call ``app.setup_extension("dlbook_pages")``, so the placeholder node is
registered once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class generated_node(nodes.General, nodes.Element):
    """Placeholder for a generated table; ``node["directive"]`` names its directive."""


def read_glue(app, docname: str) -> dict:
    """The outputs ``docname`` glued in this build (name → output), or ``{}`` if none."""
    config = getattr(app.env, "mystnb_config", None)
    if config is None or not config.output_folder:
        return {}
    path = Path(config.output_folder) / f"{docname}.glue.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


class _Blocks(HTMLParser):
    """The paragraphs, headings and tables of the generated HTML, as text (links and emphasis dropped)."""

    def __init__(self):
        super().__init__()
        self.blocks: list[tuple] = []  # ("p", text) | ("h", text) | ("table", headers, rows)
        self.text: list[str] | None = None
        self.row: list[str] | None = None
        self.table: tuple | None = None
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "h2", "td", "th"):
            self.text = []
        elif tag == "table":
            self.table = ("table", [], [])
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr":
            self.row = []

    def handle_endtag(self, tag):
        text = " ".join("".join(self.text or []).split())
        if tag == "p":
            self.blocks.append(("p", text))
        elif tag == "h2":
            self.blocks.append(("h", text))
        elif tag in ("td", "th") and self.row is not None:
            self.row.append(text)
        elif tag == "tr" and self.table is not None:
            (self.table[1] if self.in_head else self.table[2]).append(self.row)
        elif tag == "thead":
            self.in_head = False
        elif tag == "table":
            self.blocks.append(self.table)
            self.table = None
        if tag in ("p", "h2", "td", "th"):
            self.text = None

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)


def _breakable(text: str):
    """A table cell's paragraph in which a long dotted name may break after a dot or a slash.

    A name such as ``torch.autograd.functional.jacobian`` is wider than a narrow column and
    has no space to break at; LaTeX would let it run into the next column.
    """
    import re

    paragraph = nodes.paragraph()
    for word in re.split(r"( )", text):
        pieces = re.split(r"([./_])", word) if len(word) > 15 else [word]
        for piece in pieces:
            paragraph += nodes.Text(piece)
            if len(pieces) > 1 and piece in {".", "/", "_"}:
                paragraph += nodes.raw("", r"\allowbreak{}", format="latex")
    return paragraph


def html_to_nodes(html: str) -> list:
    """The generated HTML as docutils nodes, for builders other than HTML (the PDF).

    Each table becomes a table whose columns share the page width (``\\X`` columns in
    LaTeX, which wrap), a long one breaking across pages; headings become rubrics.
    """
    parser = _Blocks()
    parser.feed(html)
    out = []
    for block in parser.blocks:
        if block[0] == "p":
            out.append(nodes.paragraph(text=block[1]))
        elif block[0] == "h":
            out.append(nodes.rubric(text=block[1]))
        elif block[2]:  # a table with rows (an empty one is left out: its summary line says so)
            headers, rows = block[1][0], block[2]
            table = nodes.table(classes=["colwidths-given"])
            group = nodes.tgroup(cols=len(headers))
            table += group
            for _ in headers:
                group += nodes.colspec(colwidth=1)
            head, body = nodes.thead(), nodes.tbody()
            for cells, parent in [(headers, head)] + [(row, body) for row in rows]:
                row_node = nodes.row()
                for cell in cells:
                    row_node += nodes.entry("", _breakable(cell))
                parent += row_node
            group += head
            group += body
            out.append(table)
    return out


def add_generated_directive(app, name: str, render: Callable[[object, str], str]) -> None:
    """Add directive ``name``: a placeholder replaced by ``render(app, docname)``'s HTML."""
    docs_attr = "dlbook_generated_" + name.replace("-", "_")

    class GeneratedDirective(SphinxDirective):
        has_content = False

        def run(self):
            setattr(self.env, docs_attr, getattr(self.env, docs_attr, set()) | {self.env.docname})
            return [generated_node(directive=name)]

    def resolve(app, doctree, docname) -> None:
        found = [n for n in doctree.findall(generated_node) if n.get("directive") == name]
        if found:
            html = render(app, docname)
            for node in found:
                if app.builder.format == "html":
                    node.replace_self(nodes.raw("", html, format="html"))
                else:  # the PDF edition: the same paragraphs and tables as docutils nodes
                    node.replace_self(html_to_nodes(html))

    def always_outdated(app, env, added, changed, removed):
        """The page depends on every other page's execution: read it again on every build."""
        return sorted(getattr(env, docs_attr, set()))

    app.add_directive(name, GeneratedDirective)
    app.connect("env-get-outdated", always_outdated)
    app.connect("doctree-resolved", resolve)


def setup(app):
    app.add_node(generated_node, html=(lambda self, node: None, lambda self, node: None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
