"""The claims ledger: a page generated from every chapter's checked claims and outline errata.

A chapter states a claim as code with ``dlbook.claims.check`` and records an error of the
source outline with ``dlbook.claims.erratum``; both glue a record (``dlbook_claim_<key>``,
``dlbook_erratum_<key>``) that myst-nb writes to ``_build/jupyter_execute/<page>.glue.json``.
The ``{claims-ledger}`` directive (on ``book/claims-ledger.md``) becomes two tables, filled
once every page has been read and executed:

1. every checked claim: chapter, claim, evidence, verdict; each row links to the marker
   beside the sentence (``#claim-<key>``), and the marker links back to the row;
2. the errata of the outline: chapter, what the outline says, verdict, correct value.

The ledger page is re-written on every build (it depends on every chapter), and two claims
with one key (the anchors would clash) are a build warning, so an error under ``-W``.
"""

from __future__ import annotations

import html

from dlbook_pages import add_generated_directive, read_glue
from sphinx.util import logging

logger = logging.getLogger(__name__)

CLAIM_MIME = "application/vnd.dlbook.claim+json"
ERRATUM_MIME = "application/vnd.dlbook.erratum+json"


def collect(app) -> tuple[list[dict], list[dict]]:
    """Every claim and erratum glued by the book's pages, in table-of-contents order."""
    claims, errata = [], []
    order = list(app.env.found_docs)
    with_toc = [d for d in _toc_order(app) if d in app.env.found_docs]
    order = with_toc + sorted(set(order) - set(with_toc))
    for docname in order:
        data = read_glue(app, docname)
        title = app.env.titles[docname].astext() if docname in app.env.titles else docname
        for name, output in sorted(data.items()):
            bundle = output.get("data", {})
            if name.startswith("dlbook_claim_") and CLAIM_MIME in bundle:
                claims.append({"doc": docname, "title": title, **bundle[CLAIM_MIME]})
            elif name.startswith("dlbook_erratum_") and ERRATUM_MIME in bundle:
                errata.append({"doc": docname, "title": title, **bundle[ERRATUM_MIME]})
    return claims, errata


def _toc_order(app) -> list[str]:
    root = app.config.root_doc
    order, stack, seen = [], [root], set()
    while stack:
        doc = stack.pop(0)
        if doc in seen:
            continue
        seen.add(doc)
        order.append(doc)
        stack[0:0] = app.env.toctree_includes.get(doc, [])
    return order


def _table(headers: list[str], rows: list[list[str]], css: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr" + row[0] + ">" + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>" for row in rows)
    return f'<table class="table {css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_ledger(app, docname: str) -> str:
    """The two tables, with a summary line above each."""
    claims, errata = collect(app)
    seen: dict[str, str] = {}
    for c in claims:
        if c["key"] in seen and seen[c["key"]] != c["doc"]:
            logger.warning(f"[dlbook_claims] claim key {c['key']!r} is used by both {seen[c['key']]} and {c['doc']}")
        seen[c["key"]] = c["doc"]
    rel = app.builder.get_relative_uri
    claim_rows = []
    for c in claims:
        href = f"{rel(docname, c['doc'])}#claim-{html.escape(c['key'])}"
        verdict = "true" if c["holds"] else "<strong>FALSE in this build</strong>"
        claim_rows.append([
            f' id="ledger-claim-{html.escape(c["key"])}"' + ("" if c["holds"] else ' class="dlbook-claim-false"'),
            f'<a href="{href}">{html.escape(c["title"])}</a>',
            html.escape(c["claim"]),
            html.escape(c["evidence"]),
            verdict,
        ])
    errata_rows = [
        [
            "",
            f'<a href="{rel(docname, e["doc"])}">{html.escape(e["title"])}</a>',
            html.escape(e["outline_says"]),
            html.escape(e["verdict"]),
            html.escape(e["correct"]),
        ]
        for e in errata
    ]
    n_false = sum(not c["holds"] for c in claims)
    summary = (
        f"<p>{len(claims)} claims checked in this build, in {len({c['doc'] for c in claims})} pages; "
        + (f"<strong>{n_false} of them false</strong>." if n_false else "all of them true.")
        + "</p>"
    )
    parts = [
        summary,
        _table(["chapter", "claim", "evidence", "verdict"], claim_rows, "dlbook-ledger"),
        "<h2 id='errata-of-the-outline'>Errata of the source outline</h2>",
        f"<p>{len(errata)} statements of the outline that the chapters test.</p>",
        _table(["chapter", "the outline says", "verdict", "correct value"], errata_rows, "dlbook-errata"),
    ]
    return "\n".join(parts)


def setup(app):
    app.setup_extension("dlbook_pages")
    add_generated_directive(app, "claims-ledger", render_ledger)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
