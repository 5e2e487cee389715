"""Two fixes to the HTML that Jupyter Book 1 writes; a local Sphinx extension listed in ``_config.yml``.

1. **The executed notebook as a download.** For a chapter written in MyST Markdown the
   theme's download menu offers only the ``.md`` source and "print to PDF"; it adds an
   ``.ipynb`` entry only when a launch button (Binder, Colab, ...) is configured, and this
   book has none. Here every page that myst-nb executed gets its executed notebook
   written next to its source, ``_sources/<page>.ipynb``, and the theme's menu offers it
   (the theme reads ``context["ipynb_source"]``). The notebook myst-nb leaves in
   ``_build/jupyter_execute/`` is not enough: with ``execute_notebooks: cache`` (myst-nb
   1.4) it is the notebook as read, without outputs, so the outputs are merged in from
   jupyter-cache, as myst-nb itself does when it renders the page.

3. **A style sheet** (``static/dlbook.css``): code cells wrap instead of scrolling
   sideways, one search entry per page, and the marks of checked claims.

2. **Each inline script once.** Sphinx 7.4 keeps an inline ``<script>`` that an extension
   registers after the builder started (sphinx-thebe's ``const THEBE_JS_URL = ...``,
   sphinx-togglebutton's selector) twice: once as ``filename=None`` and once, from its
   registry, as ``filename=''``; the two compare unequal, so both are written. A second
   ``const`` declaration is a ``SyntaxError`` in the browser console on every page. The
   handler below removes the repeats from each page's script list.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _has_outputs(nb) -> bool:
    return any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")


def executed_notebook(app, pagename: str):
    """The executed notebook of ``pagename`` (an ``nbformat`` node), or ``None`` if there is none."""
    import nbformat

    config = getattr(app.env, "mystnb_config", None)
    if config is None or not config.output_folder:
        return None
    written = Path(config.output_folder, *f"{pagename}.ipynb".split("/"))
    if not written.is_file():
        return None
    nb = nbformat.read(written, as_version=4)
    if not _has_outputs(nb) and config.execution_mode == "cache" and config.execution_cache_path:
        from jupyter_cache import get_cache

        from myst_nb.ext.glue import extract_glue_data_cell

        with suppress(KeyError):  # no cached execution matches this notebook's code
            _, nb = get_cache(config.execution_cache_path).merge_match_into_notebook(nb)
            for cell in nb.cells:  # drop glue(..., display=False) records, as on the page
                if cell.cell_type == "code":
                    extract_glue_data_cell(cell)
    return nb if _has_outputs(nb) else None


def offer_executed_notebook(app, pagename, templatename, context, doctree) -> None:
    """Write ``_sources/<page>.ipynb`` (the executed notebook) and tell the theme to offer it."""
    if doctree is None or "kernelspec" not in app.env.metadata.get(pagename, {}):
        return  # not a notebook page (a plain Markdown page has nothing executed)
    nb = executed_notebook(app, pagename)
    if nb is None:
        logger.info(f"[dlbook_html] no executed notebook for {pagename}: no .ipynb download")
        return
    import nbformat

    target = Path(app.outdir, "_sources", *f"{pagename}.ipynb".split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of any scripts that are equal up to ``filename`` ``None`` versus ``''``."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (
            getattr(script, "filename", script) or "",
            getattr(script, "priority", None),
            tuple(sorted(getattr(script, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the template renders this very list


def add_style_sheet(app) -> None:
    """Serve ``static/dlbook.css`` (beside this file) on every page."""
    app.config.html_static_path.append(str(Path(__file__).with_name("static")))
    app.add_css_file("dlbook.css")


def setup(app):
    app.connect("builder-inited", add_style_sheet)
    # Before the theme builds its download menu (sphinx-book-theme's handler has priority 501).
    app.connect("html-page-context", offer_executed_notebook, priority=400)
    # After every extension has added its per-page scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
