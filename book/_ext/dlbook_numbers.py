"""Figures, tables and exercises numbered per chapter: "Fig. 6.2" is chapter 6's second figure.

Sphinx numbers figures per section only under a numbered toctree; the book's toctree is
not numbered (each chapter's title carries its number, and the introduction and the
appendices have none), so Sphinx counts every figure, table and exercise across the
whole book ("Fig. 14" in chapter 6). After Sphinx has assigned its numbers
(``env-get-updated``), this renumbers each page's items of each kind from 1, prefixed
with the chapter's number, read from the page's name (``book/06-overfitting-...``):
chapter pages get ``(6, 1), (6, 2), ...``, and pages without a chapter number (the
introduction, ``00-``, and the appendices) get ``(1,), (2,), ...``. Captions, ``{numref}``
references and sphinx-exercise's "Exercise 6.1" / "Solution to Exercise 6.1" all read
these numbers (``env.toc_fignumbers``).
"""

from __future__ import annotations

import re

CHAPTER = re.compile(r"(?:^|/)(\d+)-[^/]*$")


def chapter_of(docname: str) -> int | None:
    """The chapter number in a page's name, or None (no number, or 0: the introduction).

    >>> chapter_of("book/06-overfitting-underfitting"), chapter_of("book/00-introduction")
    (6, None)
    >>> chapter_of("book/claims-ledger") is None
    True
    """
    match = CHAPTER.search(docname)
    return int(match.group(1)) or None if match else None


def number_per_chapter(app, env) -> list[str]:
    """Renumber every page's figures, tables and exercises; return the pages that changed."""
    changed = set()
    for docname, by_type in env.toc_fignumbers.items():
        chapter = chapter_of(docname)
        for numbers in by_type.values():
            in_page_order = sorted(numbers, key=numbers.get)
            for k, item in enumerate(in_page_order, start=1):
                number = (chapter, k) if chapter else (k,)
                if numbers[item] != number:
                    numbers[item] = number
                    changed.add(docname)
    return sorted(changed)


def setup(app):
    # After Sphinx's own TocTreeCollector (priority 500) has assigned the book-wide numbers.
    app.connect("env-get-updated", number_per_chapter, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
