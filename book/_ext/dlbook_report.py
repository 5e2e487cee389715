"""The execution report: one row per executed page, with the data and the device it ran on.

myst-nb's own ``{nb-exec-table}`` shows when, how and how long each page executed, with
its status as an emoji that renders as an empty box without an emoji font. The
``{dlbook-exec-table}`` directive shows the same execution data (myst-nb's, from the
build environment), the status as a word, and two more columns read from the record
``dlbook.chapters.stamp`` glues on every page: the dataset (with its number of training
images) and the device.
"""

from __future__ import annotations

import datetime
import html
import json
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

STAMP_MIME = "application/vnd.dlbook.stamp+json"


class report_node(nodes.General, nodes.Element):
    """Placeholder replaced by the table when the page is resolved."""


class ExecTableDirective(SphinxDirective):
    has_content = False

    def run(self):
        self.env.dlbook_report_docs = getattr(self.env, "dlbook_report_docs", set()) | {self.env.docname}
        return [report_node()]


def _stamp(app, docname: str) -> dict:
    config = getattr(app.env, "mystnb_config", None)
    if config is None or not config.output_folder:
        return {}
    path = Path(config.output_folder) / f"{docname}.glue.json"
    if not path.is_file():
        return {}
    output = json.loads(path.read_text(encoding="utf-8")).get("dlbook_stamp", {})
    return output.get("data", {}).get(STAMP_MIME, {})


def fill_report(app, doctree, docname) -> None:
    placeholders = list(doctree.findall(report_node))
    if not placeholders:
        return
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
    table = (f'<table class="table dlbook-exec-table"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    for node in placeholders:
        node.replace_self(nodes.raw("", table, format="html"))


def always_outdated(app, env, added, changed, removed):
    """The report depends on every page's execution: read it again on every build."""
    return sorted(getattr(env, "dlbook_report_docs", set()))


def setup(app):
    app.add_node(report_node, html=(lambda self, node: None, lambda self, node: None))
    app.add_directive("dlbook-exec-table", ExecTableDirective)
    app.connect("env-get-outdated", always_outdated)
    app.connect("doctree-resolved", fill_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
