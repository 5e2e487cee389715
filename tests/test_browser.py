"""A real browser reads every page of the built book.

Headless Chromium (Debian's ``chromium`` package, driven by Playwright's Python API;
never ``playwright install``) opens every page listed in ``_toc.yml`` from
``_build/html``, served by a local HTTP server on 127.0.0.1. Each page is loaded
once (the ``visits`` fixture) and what the browser saw is recorded; the tests below
then check it: the page loads, every image loads and has alt text, no output shows
an error, all math is typeset, every glued value is there, each code cell has a copy
button, each executed chapter offers its notebook as a download and says when it
executed, citations resolve, nothing is fetched from outside the local server, and
the console stays free of errors. A full-page screenshot of each page goes to
``_build/screenshots/``.

The book is built first, as ``make book`` builds it (``python -m dlbook build``), when
``_build/html`` is missing, older than its sources, or was built with other inputs
(data, versions, device, ``DLBOOK_*`` variables, dlbook's source: the build key of
``dlbook.build.build_inputs``, the one rule ``make book`` follows too). CI builds the
book once, before the tests, and they read that build.

Without ``/usr/bin/chromium`` the tests are skipped, except in CI (``$CI`` set),
where they fail: CI must run them.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dlbook.build import toc_pages

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
]
#: What the book's HTML is built from: newer than the HTML means the HTML is stale.
#: (Everything else the chapters depend on is in the build key; see ``_html_is_stale``.)
SOURCES = ["book", "_config.yml", "_toc.yml", "references.bib"]


PAGES = toc_pages(ROOT)
CHAPTERS = [p for p in PAGES if re.match(r"\d\d-", Path(p).name)]


def source_of(page: str) -> str:
    return (ROOT / f"{page}.md").read_text(encoding="utf-8")


def has_code_cells(page: str) -> bool:
    """Whether the page has a code cell (a fence at the start of a line, not one quoted in prose)."""
    return re.search(r"^```\{code-cell\}", source_of(page), re.M) is not None


# --------------------------------------------------------------------------- fixtures


def _require_browser():
    """Skip (fail under CI) when Chromium or Playwright is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed (pip install playwright)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but {problem}", pytrace=False)
        pytest.skip(problem)


def _html_is_stale() -> bool:
    from dlbook.build import build_key, recorded_build_key

    index = HTML / "index.html"
    if not index.is_file() or recorded_build_key(ROOT) != build_key(ROOT):
        return True
    built = index.stat().st_mtime
    for name in SOURCES:
        path = ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built and "__pycache__" not in f.parts for f in files):
            return True
    return False


@pytest.fixture(scope="session")
def built_html() -> Path:
    """``_build/html``, built first (as ``make book`` builds it) if it is missing or stale."""
    _require_browser()
    if _html_is_stale():
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        result = subprocess.run(
            [sys.executable, "-m", "dlbook", "build"],
            cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800,
        )
        assert result.returncode == 0, "the book build failed:\n" + (result.stdout + result.stderr)[-5000:]
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        # Browsers ask every server for /favicon.ico; the book has none. Answer "no
        # content" so that this request does not show up as a 404 console error.
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="session")
def server(built_html):
    """A threading HTTP server on 127.0.0.1 (random port) serving ``_build/html``; yields its base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(built_html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Visit:
    """What the browser saw on one page."""

    page: str
    status: int | None = None
    settled: bool = False
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    math_total: int = 0
    math_typeset: int = 0
    math_errors: int = 0
    pasted_text: int = 0
    glue_figures: int = 0
    prose: str = ""
    code_inputs: int = 0
    code_inputs_with_copy_button: int = 0
    notebook_href: str | None = None
    citations: list[str] = field(default_factory=list)
    stderr_outputs: list[str] = field(default_factory=list)
    wide_cells: list[str] = field(default_factory=list)
    visible_search_entries: int = 0
    error: str | None = None  # what went wrong on both tries to read the page, if anything


def _new_context(browser, base: str, visit_holder: list):
    """A browser context that records console errors and aborts (and records) any request leaving ``base``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])

    def route(route_):
        url = route_.request.url
        if url.startswith(base + "/") or url.startswith(("data:", "blob:", "about:")):
            route_.continue_()
        else:
            visit_holder[0].outside_requests.append(url)
            route_.abort()  # never wait on a network that may not be there

    context.route("**/*", route)
    # Generous limits: these tests check what a page shows, not how fast it shows it, and CI
    # runs them on two cores beside the build tests' kernels.
    context.set_default_timeout(_PATIENCE_MS)
    context.set_default_navigation_timeout(_PATIENCE_MS)
    return context


_PATIENCE_MS = 600_000

# A page has settled when MathJax has typeset it, its fonts are loaded and every image has
# loaded or failed. (Not Playwright's "networkidle": half a second without a request is a
# timing heuristic that a loaded machine can miss for longer than any timeout.)
# If something never settles, the page is read after two minutes anyway and the tests on
# what it shows (images loaded, maths typeset) fail by name instead of the run hanging.
_SETTLED = """async () => {
  const settled = (async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    await document.fonts.ready;
    await Promise.all(Array.from(document.images).filter(img => !img.complete)
        .map(img => new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
    await document.fonts.ready;
    return true;
  })();
  return Promise.race([settled, new Promise(done => setTimeout(() => done(false), 120000))]);
}"""


_INSPECT = """() => {
  const article = document.querySelector('article.bd-article') || document.body;
  const images = Array.from(document.images).map(img => ({
      src: img.getAttribute('src'), alt: img.getAttribute('alt'),
      complete: img.complete, naturalWidth: img.naturalWidth}));
  const outputs = Array.from(article.querySelectorAll('.cell_output')).map(o => ({
      classes: Array.from(o.querySelectorAll('*')).map(e => e.className).join(' '), text: o.innerText,
      red: o.querySelectorAll('[class*="ansi-red"]').length}));
  const maths = Array.from(article.querySelectorAll('.math'));
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .cell_input, script, style, mjx-container').forEach(e => e.remove());
  const inputs = Array.from(article.querySelectorAll('.cell_input div.highlight'));
  const nb = document.querySelector('a.btn-download-notebook-button, .dropdown-download-buttons a[href$=".ipynb"]');
  return {
    images, outputs,
    math_total: maths.length,
    math_typeset: maths.filter(m => m.querySelector('mjx-container')).length,
    math_errors: article.querySelectorAll('mjx-merror, .MathJax_Error').length,
    pasted_text: article.querySelectorAll('.pasted-text, .pasted-inline').length,
    glue_figures: article.querySelectorAll('figure img').length,
    prose: clone.innerText,
    code_inputs: inputs.length,
    code_inputs_with_copy_button: inputs.filter(h => h.querySelector('button.copybtn')).length,
    notebook_href: nb ? nb.href : null,
    citations: Array.from(article.querySelectorAll('.bibtex-citation a, a.bibtex')).map(a => a.href),
    stderr_outputs: Array.from(article.querySelectorAll('.cell_output .stderr, .cell_output .output.stderr'))
      .map(e => e.innerText.slice(0, 300)),
    wide_cells: Array.from(article.querySelectorAll('div.cell pre'))
      .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
      .map(pre => pre.innerText.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 120)),
    visible_search_entries: Array.from(document.querySelectorAll('.search-button-field, button.search-button'))
      .filter(e => e.offsetParent !== null && getComputedStyle(e).display !== 'none'
                   && getComputedStyle(e).visibility !== 'hidden').length,
  };
}"""


def _watched_page(context, holder: list):
    """A new page whose console errors, uncaught exceptions and failed responses go to ``holder[0]``."""
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and holder[0].console_errors.append(m.text))
    page.on("pageerror", lambda e: holder[0].console_errors.append(f"uncaught: {e}"))
    page.on("response", lambda r: r.status >= 400 and holder[0].failed_responses.append(f"{r.status} {r.url}"))
    return page


@pytest.fixture(scope="session")
def visits(browser, server) -> dict[str, Visit]:
    """Load every page in ``_toc.yml`` once; record what the browser saw; save a full-page screenshot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    holder = [Visit("")]
    context = _new_context(browser, server, holder)
    from playwright.sync_api import Error as PlaywrightError

    page = _watched_page(context, holder)
    results = {}
    for name in PAGES:
        # One page that the browser fails to read (a crashed renderer, a navigation that
        # dies on a loaded machine) is tried once more, then reported by that page's
        # test_page_loads, instead of erroring every test of every page.
        for attempt in (1, 2):
            visit = holder[0] = Visit(name)
            try:
                response = page.goto(f"{server}/{name}.html", wait_until="load")
                visit.status = response.status if response else None
                visit.settled = page.evaluate(_SETTLED)
                for key, value in page.evaluate(_INSPECT).items():
                    setattr(visit, key, value)
                page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '-')}.png"), full_page=True)
                break
            except PlaywrightError as exc:
                visit.error = f"try {attempt}: {type(exc).__name__}: {exc}"
                page.close()
                page = _watched_page(context, holder)
        results[name] = visit
    context.close()
    return results


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("name", PAGES)
def test_page_loads(visits, name):
    assert visits[name].error is None, visits[name].error
    assert visits[name].status == 200
    assert not visits[name].failed_responses, visits[name].failed_responses
    assert visits[name].settled, "maths, fonts or images still loading after two minutes"


@pytest.mark.parametrize("name", PAGES)
def test_no_console_errors(visits, name):
    assert visits[name].console_errors == []


@pytest.mark.parametrize("name", PAGES)
def test_no_request_leaves_the_local_server(visits, name):
    assert visits[name].outside_requests == []


_PATH_LIKE = re.compile(r"\.(png|jpe?g|gif|svg|pdf|webp)\b|(^|[/\\])(_images|_build|jupyter_execute)([/\\]|$)|^\S+$", re.I)


@pytest.mark.parametrize("name", PAGES)
def test_images_load_and_have_meaningful_alt_text(visits, name):
    for img in visits[name].images:
        assert img["complete"] and img["naturalWidth"] > 0, f"image did not load: {img['src']}"
        alt = (img["alt"] or "").strip()
        assert alt, f"image without alt text: {img['src']}"
        assert not _PATH_LIKE.search(alt), f"alt text is a path or a single word, not a description: {alt!r}"
        assert len(alt.split()) >= 4, f"alt text too short to describe a figure: {alt!r}"


_ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b\w*(Error|Exception):|\b\w*Warning:")


@pytest.mark.parametrize("name", PAGES)
def test_no_output_shows_an_error_or_warning(visits, name):
    for output in visits[name].outputs:
        classes = str(output["classes"]).split()
        assert "traceback" not in classes and "error" not in classes, output["text"][:500]
        assert output["red"] == 0, f"red (error) text in an output: {output['text'][:500]}"
        assert not _ERROR_TEXT.search(output["text"]), f"an output shows an error or warning: {output['text'][:500]}"


@pytest.mark.parametrize("name", PAGES)
def test_no_output_shows_stderr(visits, name):
    """A warning printed to stderr by a cell (torch's C++ warnings, a library's deprecation) is a defect of the page."""
    assert visits[name].stderr_outputs == [], visits[name].stderr_outputs


@pytest.mark.parametrize("name", PAGES)
def test_code_cells_fit_the_text_column(visits, name):
    """At a 1280-pixel window no code cell or output scrolls sideways."""
    assert visits[name].wide_cells == [], f"cells wider than the column; longest lines: {visits[name].wide_cells}"


@pytest.mark.parametrize("name", PAGES)
def test_one_search_entry_per_page(visits, name):
    assert visits[name].visible_search_entries == 1


@pytest.mark.parametrize("name", PAGES)
def test_math_renders(visits, name):
    visit = visits[name]
    src = source_of(name)
    if re.search(r"\$[^$\n]+\$|\{math\}", src):
        assert visit.math_total > 0, "the source has math but the page has no math elements"
    assert visit.math_typeset == visit.math_total, f"{visit.math_total - visit.math_typeset} math elements were not typeset by MathJax"
    assert visit.math_errors == 0, "MathJax reported a TeX error"


@pytest.mark.parametrize("name", PAGES)
def test_no_glued_value_is_missing(visits, name):
    src = source_of(name)
    visit = visits[name]
    prose = re.sub(r"``.+?``", "", src)  # a role quoted as inline code is not pasted
    roles = len(re.findall(r"\{glue(?::text|:any)?\}`", prose))
    figures = len(re.findall(r"```\{glue:figure\}", src))
    assert visit.pasted_text == roles, f"{roles} glue roles in the source, {visit.pasted_text} values on the page"
    assert visit.glue_figures >= figures, f"{figures} glue:figure directives, {visit.glue_figures} figures on the page"
    assert "{glue" not in visit.prose, "raw {glue...} markup shows in the text"


@pytest.mark.parametrize("name", PAGES)
def test_code_cells_have_copy_buttons(visits, name):
    visit = visits[name]
    assert visit.code_inputs_with_copy_button == visit.code_inputs


@pytest.mark.parametrize("name", PAGES)
def test_citations_resolve_to_the_references_page(visits, name):
    refs = visits.get("book/references")
    assert refs is not None, "no references page in _toc.yml"
    cites = len(re.findall(r"\{cite(?::[a-z]+)?\}`", source_of(name)))
    assert len(visits[name].citations) >= cites, f"{cites} {{cite}} roles in the source, {len(visits[name].citations)} citation links"
    for href in visits[name].citations:
        target = urlsplit(href)
        assert target.path.endswith("/book/references.html") and target.fragment, href
        assert f'id="{target.fragment}"' in (HTML / "book" / "references.html").read_text(encoding="utf-8"), href


# --------------------------------------------------------------------------- executed chapters


def _executed(name):
    if not has_code_cells(name):
        pytest.skip(f"{name} has no code cells: nothing executed")


@pytest.mark.parametrize("name", PAGES)
def test_executed_page_says_when_and_where_it_ran(visits, name):
    _executed(name)
    texts = [o["text"] for o in visits[name].outputs]
    assert any("This page executed" in t and "Data:" in t for t in texts), "no execution stamp in the outputs"


@pytest.mark.parametrize("name", PAGES)
def test_executed_notebook_downloads_from_the_page(visits, browser, server, name):
    _executed(name)
    href = visits[name].notebook_href
    assert href and href.endswith(f"{name}.ipynb"), f"no .ipynb in the page's download menu: {href}"
    context = _new_context(browser, server, [Visit(name)])
    try:
        response = context.request.get(href)
        assert response.status == 200
        nb = json.loads(response.text())
    finally:
        context.close()
    outputs = json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])
    assert "This page executed" in outputs, "the notebook holds no outputs: it was not executed"
    assert nb["metadata"].get("kernelspec", {}).get("language") == "python"


# --------------------------------------------------------------------------- whole book


def test_every_chapter_is_screenshotted(visits):
    for name in CHAPTERS:
        shot = SCREENSHOTS / f"{name.replace('/', '-')}.png"
        assert shot.is_file() and shot.stat().st_size > 10_000, shot


def test_references_page_lists_the_cited_works(visits):
    html = (HTML / "book" / "references.html").read_text(encoding="utf-8")
    assert html.count('role="doc-biblioentry"') >= 1
    cited = {urlsplit(h).fragment for v in visits.values() for h in v.citations}
    assert cited, "no page cites anything"


def test_search_finds_a_chapter_by_a_word_in_it(browser, server):
    holder = [Visit("search")]
    context = _new_context(browser, server, holder)
    try:
        page = context.new_page()
        page.goto(f"{server}/search.html?q=backpropagation")
        page.wait_for_selector("#search-results .search-summary")
        page.wait_for_function("() => !document.querySelector('#search-results .search-summary').innerText.includes('Searching')")
        links = page.eval_on_selector_all("#search-results ul.search a", "as => as.map(a => a.getAttribute('href'))")
    finally:
        context.close()
    assert any("02-backpropagation" in href for href in links), links
    assert holder[0].outside_requests == []


def _read_page(browser, server, name: str, queries: dict[str, tuple[str, str]]) -> dict:
    """Open page ``name`` in a fresh context and return, for each query ``key: (selector,
    script)``, the script's result on the elements the selector matches."""
    context = _new_context(browser, server, [Visit(name)])
    try:
        page = context.new_page()
        page.goto(f"{server}/{name}.html", wait_until="load")
        return {key: page.eval_on_selector_all(selector, script) for key, (selector, script) in queries.items()}
    finally:
        context.close()


def test_execution_report_lists_every_executed_page_with_its_time_data_and_device(browser, server, visits):
    from dlbook.data import resolve_dataset

    assert "book/execution-report" in PAGES, "no execution report page in _toc.yml"
    found = _read_page(browser, server, "book/execution-report", {
        "rows": ("article table.dlbook-exec-table tbody tr",
                 "trs => trs.map(tr => [tr.cells[0].querySelector('a').getAttribute('href'),"
                 " ...Array.from(tr.cells).map(td => td.innerText.trim())])"),
        "headers": ("article table thead th", "ths => ths.map(th => th.innerText.trim())"),
    })
    rows, headers = found["rows"], found["headers"]
    assert headers == ["page", "executed", "method", "run time (s)", "status", "dataset", "device"], headers
    by_doc = {row[0].removesuffix(".html"): dict(zip(headers, row[1:])) for row in rows}
    executed = [p for p in PAGES if has_code_cells(p)]
    expected_data = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "digits"}[resolve_dataset()[0]]
    missing = {p for p in executed if p.split("/")[-1] not in by_doc}
    assert executed and not missing, f"missing from the report: {missing}"
    for name in executed:
        row = by_doc[name.split("/")[-1]]
        assert float(row["run time (s)"]) > 0, row
        assert row["status"] == "ran", row
        assert row["dataset"].startswith(expected_data + " ("), row
        assert row["device"], row


def test_copy_button_copies_the_cell_code(browser, server):
    page_name = next((p for p in PAGES if has_code_cells(p)), None)
    if page_name is None:
        pytest.skip("no page has code cells")
    holder = [Visit(page_name)]
    context = _new_context(browser, server, holder)
    try:
        page = context.new_page()
        page.goto(f"{server}/{page_name}.html", wait_until="load")
        cell = page.locator(".cell_input div.highlight").first
        cell.hover()
        cell.locator("button.copybtn").click()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        shown = cell.locator("pre").inner_text()
    finally:
        context.close()
    assert copied.strip() and copied.strip() == shown.strip()


def test_the_claims_ledger_lists_claims_of_every_chapter_all_true_and_the_errata(browser, server, visits):
    assert "book/claims-ledger" in PAGES, "no claims ledger page in _toc.yml"
    found = _read_page(browser, server, "book/claims-ledger", {
        "claims": ("table.dlbook-ledger tbody tr",
                   "trs => trs.map(tr => [tr.id, tr.cells[0].querySelector('a').getAttribute('href'),"
                   " tr.cells[3].innerText])"),
        "errata": ("table.dlbook-errata tbody tr", "trs => trs.length"),
    })
    claims, errata = found["claims"], found["errata"]
    chapters = {p.split("/")[-1] for p in PAGES if re.match(r"\d\d-", p.split("/")[-1]) and has_code_cells(p)}
    by_chapter = {}
    for row_id, href, verdict in claims:
        by_chapter.setdefault(href.split("#")[0].removesuffix(".html"), []).append(verdict)
        anchor = href.split("#")[1]
        assert row_id == f"ledger-{anchor}", (row_id, href)  # the row and the sentence link both ways
    missing = sorted(chapters - set(by_chapter) - {"00-introduction"})
    assert not missing, f"chapters with no checked claim in the ledger: {missing}"
    false = [(c, v) for c, vs in by_chapter.items() for v in vs if v != "true"]
    assert not false, f"claims false in this build: {false}"
    assert errata > 0, "the errata table of the outline is empty"


def test_the_headline_network_reaches_the_published_level_on_the_real_data(built_html):
    """The introduction's converged network: its test accuracy (glued once, as a float) is in range.

    Fashion-MNIST's benchmark lists 88.3% for a fully connected network; far above the
    range points to test images leaking into training, below it to under-training.
    """
    glued = json.loads((ROOT / "_build" / "jupyter_execute" / "book" / "00-introduction.glue.json").read_text())
    acc = float(glued["headline_test_acc"]["data"]["text/plain"])
    data_name = glued["data_name"]["data"]["text/plain"].strip("'\"")
    low, high = {"Fashion-MNIST": (0.88, 0.92), "MNIST": (0.97, 0.995)}.get(data_name, (0.0, 1.0))
    assert low <= acc <= high, f"headline_test_acc = {acc} on {data_name}, expected {low} to {high}"
    if os.environ.get("CI"):
        assert data_name == "Fashion-MNIST", f"CI built the book on {data_name}"
