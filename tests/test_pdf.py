"""The PDF edition (``make pdf``), read back as text with ``pdftotext`` (Debian's poppler-utils).

``.ci/run`` builds the HTML book, then the PDF from the same executed chapters, then runs
these tests; on a laptop without ``_build/latex/dlbook.pdf`` they are skipped, under CI
they fail. What they hold the PDF to:

* every page of the book is in it, in the web book's order, under its own title;
* its numbered figures are the HTML book's, number for number (Fig. 6.2 is Fig. 6.2);
* the numbers the web pages glue into their prose appear in it exactly as the pages
  show them;
* no reference is left unresolved (``??``), no character went missing from a font, and
  nothing runs past its table column or off the page (no line overfull by more than 6 pt);
* the HTML book's download menu offers the PDF.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from dlbook.build import PDF_FILE, PDF_IN_HTML

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / PDF_FILE
LOG = PDF.with_suffix(".log")
HTML = ROOT / "_build" / "html"
TOC = yaml.safe_load((ROOT / "_toc_pdf.yml").read_text(encoding="utf-8"))
PAGES = [entry["file"] for entry in TOC["chapters"]]


@pytest.fixture(scope="module", autouse=True)
def _require_pdf():
    problem = None
    if not PDF.is_file():
        problem = f"{PDF_FILE} is missing: run `make book` then `make pdf`"
    elif shutil.which("pdftotext") is None:
        problem = "pdftotext is missing: install Debian's poppler-utils"
    elif not (HTML / "index.html").is_file():
        problem = "_build/html is missing: run `make book`"
    elif PDF.stat().st_mtime < (HTML / "index.html").stat().st_mtime:
        problem = "the PDF is older than the HTML book: run `make pdf`"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the PDF edition, but {problem}", pytrace=False)
        pytest.skip(problem)


@lru_cache(maxsize=None)
def pdf_text() -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], capture_output=True, text=True, check=True).stdout


TITLE = "dlbook: deep learning fundamentals, every number computed"
_FOOTER = re.compile(r"^(\d+|(Chapter \d+|Appendix [A-Z])\. .*|\d+(\.\d+)*\.? .*)$")


def body_text(text: str) -> str:
    """The PDF's text without each page's running head and foot, which can fall inside a sentence."""
    pages = []
    for page in text.split("\f"):
        lines = [line for line in page.splitlines() if line.strip() != TITLE]
        while lines and not lines[-1].strip():
            lines.pop()
        for _ in range(2):  # the foot: a page number and a chapter or section title, in either order
            if lines and _FOOTER.match(lines[-1].strip()) and len(lines[-1]) < 80:
                lines.pop()
                while lines and not lines[-1].strip():
                    lines.pop()
        pages.append("\n".join(lines))
    return "\n".join(pages)


def squeeze(text: str) -> str:
    """Text without whitespace or soft hyphens: line breaks fall in different places in a PDF."""
    return re.sub(r"[\s\u00ad]+", "", text)


def title_of(page: str) -> str:
    """A page's title as the PDF prints it: its first heading, without the chapter number."""
    for line in (ROOT / f"{page}.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return re.sub(r"^\d+\.\s+", "", line[2:].strip())
    raise AssertionError(f"{page}.md has no title")


class _Collector(HTMLParser):
    """The figure numbers (``span.caption-number`` of figures) and inline glued text (``span.pasted-text``) of a page."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.figures: list[str] = []
        self.glued: list[str] = []
        self._capture: list | None = None
        self._depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self._capture is not None:
            self._depth += 1
        elif tag == "span" and "caption-number" in classes and any("figure" in c for _, c in self.stack):
            self._capture, self._depth, self._text = self.figures, 1, []
        elif tag == "span" and "pasted-text" in classes:
            self._capture, self._depth, self._text = self.glued, 1, []
        self.stack.append((tag, " ".join(classes) + (" figure" if tag == "figure" else "")))

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
        if self._capture is not None:
            self._depth -= 1
            if self._depth == 0:
                self._capture.append("".join(self._text).strip())
                self._capture = None

    def handle_data(self, data):
        if self._capture is not None:
            self._text.append(data)


@lru_cache(maxsize=None)
def html_page(page: str) -> _Collector:
    collector = _Collector()
    collector.feed((HTML / f"{page}.html").read_text(encoding="utf-8"))
    return collector


def test_every_page_is_in_the_pdf_in_order_under_its_title():
    text = squeeze(body_text(pdf_text()))
    position = -1
    for page in PAGES:
        title = squeeze(title_of(page))
        found = text.find(title, position + 1)
        assert found > position, f"{title_of(page)!r} ({page}) is missing from the PDF or out of order"
        position = found


def test_the_numbered_figures_are_the_html_books():
    in_html = [number for page in PAGES for number in html_page(page).figures]
    in_html = [re.sub(r"\s+", " ", n).strip().rstrip(":") for n in in_html]
    in_pdf = re.findall(r"^(Fig\. \d+(?:\.\d+)?):", pdf_text(), flags=re.M)  # the introduction's: Fig. 1
    assert in_html, "the HTML book has no numbered figure"
    assert sorted(in_pdf) == sorted(in_html), (
        f"{len(in_pdf)} numbered figures in the PDF, {len(in_html)} in the HTML book; "
        f"only in the PDF: {sorted(set(in_pdf) - set(in_html))}, only in HTML: {sorted(set(in_html) - set(in_pdf))}"
    )


def test_glued_numbers_read_as_on_the_web_pages():
    # The glued numbers (with their units and intervals: up to 40 characters). Whole generated
    # sentences are left out: where one wraps around a displayed formula, pdftotext may
    # interleave the formula's symbols with its words.
    text = squeeze(body_text(pdf_text()))
    glued = {value for page in PAGES for value in html_page(page).glued if re.search(r"\d", value) and len(value) <= 40}
    assert len(glued) > 100, f"only {len(glued)} glued numbers found in the HTML book"
    missing = sorted(value for value in glued if squeeze(value) not in text)
    assert not missing, f"{len(missing)} of {len(glued)} glued values are not in the PDF as the web shows them: {missing[:20]}"


def test_no_unresolved_reference():
    lines = [line for line in pdf_text().splitlines() if "??" in line]
    assert not lines, f"unresolved references in the PDF: {lines[:10]}"


def test_no_character_went_missing_from_a_font():
    log = LOG.read_text(encoding="utf-8", errors="replace")
    missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not missing, f"characters XeLaTeX could not set (dropped from the PDF): {missing}"


def test_nothing_runs_off_the_page():
    log = LOG.read_text(encoding="utf-8", errors="replace")
    overfull = [float(points) for points in re.findall(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)", log)]
    worst = max(overfull, default=0.0)
    # A few points is a hyphen's worth; more is a word running into the next table column
    # (where it is cut off by that column's text) or into the margin.
    assert worst <= 6, f"{sum(p > 6 for p in overfull)} lines run more than 6 pt past their column or margin (worst {worst:.0f} pt)"


def test_the_html_pages_offer_the_pdf_in_their_download_menu():
    assert (ROOT / PDF_IN_HTML).read_bytes() == PDF.read_bytes(), "_build/html/dlbook.pdf is not the PDF edition"
    for page in PAGES:
        html = (HTML / f"{page}.html").read_text(encoding="utf-8")
        assert 'class="btn btn-sm dropdown-item dlbook-pdf-edition"' in html, f"{page}.html does not link the PDF"
        assert re.search(r'href="(\.\./)*dlbook\.pdf"', html), f"{page}.html links the PDF at a wrong address"
