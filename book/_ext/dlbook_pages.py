"""What the book's generated pages share: reading a page's glue, and a directive that
becomes HTML once every page has been executed.

Two pages are generated from what the chapters glue: the claims ledger
(``dlbook_claims``) and the execution report (``dlbook_report``). Each needs

* :func:`read_glue`: a page's glued outputs, which myst-nb writes to
  ``<output folder>/<page>.glue.json`` when it executes the page;
* :func:`add_generated_directive`: a directive that leaves a placeholder where it
  stands and replaces it, when the page is resolved (after every page has been read and
  executed), with the HTML its ``render(app, docname)`` returns; the pages that use it
  are read again on every build, since they depend on every other page.

Both extensions call ``app.setup_extension("dlbook_pages")``, so the placeholder node is
registered once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
                node.replace_self(nodes.raw("", html, format="html"))

    def always_outdated(app, env, added, changed, removed):
        """The page depends on every other page's execution: read it again on every build."""
        return sorted(getattr(env, docs_attr, set()))

    app.add_directive(name, GeneratedDirective)
    app.connect("env-get-outdated", always_outdated)
    app.connect("doctree-resolved", resolve)


def setup(app):
    app.add_node(generated_node, html=(lambda self, node: None, lambda self, node: None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
