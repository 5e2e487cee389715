"""The PDF edition: what the LaTeX builder needs that the HTML book does not; a local Sphinx extension.

``make pdf`` builds the book with Jupyter Book's LaTeX builder (XeLaTeX) from the same
executed cache as the HTML, with its own table of contents, ``_toc_pdf.yml``, whose root
is ``book/pdf`` (a title page only: the HTML book's root, the introduction, would
otherwise have its sections turned into chapters). For the LaTeX builder only, this
extension then makes the PDF's numbers the HTML book's:

1. **Chapter numbers.** The introduction is chapter 0 (its file is ``00-introduction``),
   so chapter *N*'s figures are Fig. *N*.1, *N*.2, … as on the web pages; the appendices
   (the build appendix, the claims ledger, the execution report, the references) are
   lettered A, B, C, D.
2. **Titles.** A chapter's title carries its number on the web (``1. Gradients``); LaTeX
   numbers chapters itself, so the number is taken off the title (``Chapter 1:
   Gradients``, not ``Chapter 1: 1. Gradients``).
"""

from __future__ import annotations

import re

from docutils import nodes

#: The first page of the appendices in the PDF (every page after it is an appendix).
FIRST_APPENDIX = "book/appendix-build"
#: The introduction: chapter 0.
INTRODUCTION = "book/00-introduction"
_NUMBERED_TITLE = re.compile(r"^\d+\.\s+")


def _files(doctree):
    """The ``start_of_file`` nodes the LaTeX builder wraps around each included page, in order."""
    from sphinx import addnodes

    return list(doctree.findall(addnodes.start_of_file))


def _number_chapters(app, doctree, docname: str) -> None:
    if app.builder.format != "latex":
        return
    for node in _files(doctree):
        page = node.get("docname", "")
        if page == INTRODUCTION:
            node.insert(0, nodes.raw("", r"\setcounter{chapter}{-1}", format="latex"))
        elif page == FIRST_APPENDIX:
            node.insert(0, nodes.raw("", r"\appendix", format="latex"))
        if re.match(r"book/\d\d-", page):
            section = next(node.findall(nodes.section), None)
            title = section.next_node(nodes.title) if section is not None else None
            if title is not None and title.children and isinstance(title[0], nodes.Text):
                text = str(title[0])
                if _NUMBERED_TITLE.match(text):
                    title[0] = nodes.Text(_NUMBERED_TITLE.sub("", text, count=1))


def setup(app):
    app.connect("doctree-resolved", _number_chapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
