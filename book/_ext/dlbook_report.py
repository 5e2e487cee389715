"""The execution report: one row per executed page, with the data and the device it ran on.

myst-nb's own ``{nb-exec-table}`` shows when, how and how long each page executed, with
its status as an emoji that renders as an empty box without an emoji font. The
``{dlbook-exec-table}`` directive shows the same execution data (myst-nb's, from the
build environment), the status as a word, and two more columns read from the record
``dlbook.pages.stamp`` glues on every page: the dataset (with its number of training
images) and the device.
"""

from __future__ import annotations

import datetime
import html

from dlbook_pages import add_generated_directive, read_glue

STAMP_MIME = "application/vnd.dlbook.stamp+json"


def _stamp(app, docname: str) -> dict:
    return read_glue(app, docname).get("dlbook_stamp", {}).get("data", {}).get(STAMP_MIME, {})


def render_report(app, docname: str) -> str:
    """The table: one row per executed page."""
    from myst_nb.sphinx_ import NbMetadataCollector

    rows = []
    for doc, data in sorted(NbMetadataCollector.get_doc_data(app.env).items()):
        exec_data = data.get("exec_data")
        if not exec_data:
            continue
        title = app.env.titles[doc].astext() if doc in app.env.titles else doc
        stamp = _stamp(app, doc)
        when = exec_data.get("mtime")
        runtime = exec_data.get("runtime")
        dataset = stamp.get("dataset", "")
        if stamp.get("training images"):
            dataset += f" ({stamp['training images']:,} training images)"
        cells = [
            f'<a href="{app.builder.get_relative_uri(docname, doc)}">{html.escape(title)}</a>',
            datetime.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M") if when else "",
            html.escape(str(exec_data.get("method", ""))),
            "" if runtime is None else f"{runtime:.1f}",
            "ran" if exec_data.get("succeeded") else "<strong>FAILED</strong>",
            html.escape(dataset),
            html.escape(stamp.get("device", "")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in
                   ["page", "executed", "method", "run time (s)", "status", "dataset", "device"])
    return (f'<table class="table dlbook-exec-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def setup(app):
    app.setup_extension("dlbook_pages")
    add_generated_directive(app, "dlbook-exec-table", render_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
