"""Building the book and running one chapter: the tooling behind ``make book``, ``make pdf`` and ``python -m dlbook``.

* one chapter: :func:`find_chapter`, :func:`run_chapter` (``python -m dlbook run NN``,
  ``--visible`` for :func:`visible_code`), :func:`chapter_figures`;
* the whole book: :func:`build_inputs` and :func:`build_key` (what a cached chapter
  depends on), :func:`prepare_build`, :func:`execute_in_parallel`, :func:`build_book`;
* the PDF edition: :func:`build_pdf`, :func:`link_pdf_in_html`.

Needs the ``book`` extra (jupytext, nbclient, ipykernel, Jupyter Book). The helpers a
chapter page itself calls are in :mod:`dlbook.pages`.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ChapterRun:
    """What :func:`run_chapter` produced: the executed notebook, the figures, the time taken."""

    notebook: Path
    figures: list[Path]
    seconds: float
    device: str


def _default_book_dir() -> Path:
    here = Path(__file__).resolve()
    for candidate in (Path.cwd() / "book", here.parents[2] / "book"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("cannot find the book/ folder: pass --book PATH or run from the repository root")


def find_chapter(key: str, book_dir: str | Path | None = None) -> Path:
    """The chapter file for ``key``: a number (``"4"``, ``"04"``), a stem (``"04-optimizers"``) or a topic (``"optimizers"``).

    >>> find_chapter("1").name
    '01-gradients.md'
    >>> find_chapter("backpropagation").name
    '02-backpropagation.md'
    >>> find_chapter("99")
    Traceback (most recent call last):
    ...
    ValueError: Invalid chapter: '99' (no book/ file matches; try a number 00-14 or a topic such as 'gradients')
    """
    book = Path(book_dir) if book_dir is not None else _default_book_dir()
    chapters = sorted(p for p in book.glob("[0-9][0-9]-*.md"))
    key = str(key).strip().lower().removesuffix(".md")
    if key.isdigit():
        key = f"{int(key):02d}"
    matches = [p for p in chapters if p.stem == key or p.stem.split("-", 1)[0] == key or p.stem.split("-", 1)[1] == key]
    if len(matches) != 1:
        raise ValueError(
            f"Invalid chapter: {key!r} (no book/ file matches; try a number 00-14 or a topic such as 'gradients')"
        )
    return matches[0]


#: Cell tags that hide a cell's code from the reader (``remove-input`` still shows the output).
HIDDEN_CODE_TAGS = frozenset({"remove-cell", "remove-input"})


def visible_code(nb):
    """The notebook a reader gets by copying, in order, only the code cells the page shows.

    Code cells tagged ``remove-cell`` or ``remove-input`` (:data:`HIDDEN_CODE_TAGS`) are
    dropped, outputs cleared; folded cells (``hide-input``, solutions) are shown on the
    page and stay. Every visible cell must run in this notebook: a visible cell that
    uses a name only a hidden cell defines fails here with ``NameError``.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["remove-cell"]}),
    ...     nbformat.v4.new_markdown_cell("Some prose."),
    ...     nbformat.v4.new_code_cell("print(x)"),
    ...     nbformat.v4.new_code_cell("glue('x', x)", metadata={"tags": ["remove-input"]})])
    >>> [cell.source for cell in visible_code(nb).cells]
    ['print(x)']
    """
    import copy

    nb = copy.deepcopy(nb)
    kept = []
    for cell in nb.cells:
        if cell.cell_type != "code" or HIDDEN_CODE_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        cell.outputs, cell.execution_count = [], None
        kept.append(cell)
    nb.cells = kept
    return nb


def run_chapter(
    path: str | Path, out_dir: str | Path | None = None, *, timeout: int = 1200, visible_only: bool = False
) -> ChapterRun:
    """Execute the chapter at ``path`` in a fresh kernel, working in ``out_dir``; save notebook and figures there.

    Every figure the chapter shows, displayed or glued (see :func:`chapter_figures`),
    is written as a PNG file beside the notebook. With ``visible_only=True`` only the
    code a reader sees runs (:func:`visible_code`): what a reader who copies the
    page's cells into a fresh notebook gets.

    Any cell error raises ``nbclient.exceptions.CellExecutionError`` naming the cell.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    from dlbook.device import describe_device

    path = Path(path).resolve()
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"dlbook-{path.stem}-"))
    out.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(path)
    if visible_only:
        nb = visible_code(nb)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    with single_threaded_kernels():  # as the book is built, so the numbers are the book's
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    seconds = time.perf_counter() - start
    notebook = out / f"{path.stem}.ipynb"
    nbformat.write(nb, notebook)
    figures = [fig.write(out / fig.filename(path.stem)) for fig in chapter_figures(nb)]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # describe the device as the kernel saw it: one thread
    try:
        device = describe_device()
    finally:
        torch.set_num_threads(threads)
    return ChapterRun(notebook=notebook, figures=figures, seconds=seconds, device=device)


@dataclass
class Figure:
    """One PNG figure of an executed chapter: shown in a cell, or glued for ``{glue:figure}``."""

    cell: int
    index: int
    png: str  # base64, as the notebook stores it
    glue_name: str | None = None

    def filename(self, stem: str) -> str:
        """``<stem>-<glue name>.png`` for a glued figure, else ``<stem>-cellNN-K.png``."""
        return f"{stem}-{self.glue_name}.png" if self.glue_name else f"{stem}-cell{self.cell:02d}-{self.index}.png"

    def write(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.png))
        return path


def chapter_figures(nb) -> list[Figure]:
    """Every PNG figure in an executed notebook: displayed ones and glued ones.

    The chapters glue their figures (``glue(name, fig, display=False)``), which
    stores them under myst-nb's glue MIME type (``application/papermill.record/image/png``)
    and not as a displayed image; both kinds count here.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
    ...     nbformat.v4.new_output("display_data", data={"image/png": "iVBO"}),
    ...     nbformat.v4.new_output("display_data", data={"application/papermill.record/image/png": "iVBO"},
    ...                            metadata={"scrapbook": {"name": "fig_loss"}})])])
    >>> [f.filename("04-optimizers") for f in chapter_figures(nb)]
    ['04-optimizers-cell00-0.png', '04-optimizers-fig_loss.png']
    """
    figures = []
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            for mime, payload in output.get("data", {}).items():
                if mime == "image/png" or mime.endswith("/image/png"):
                    name = output.get("metadata", {}).get("scrapbook", {}).get("name")
                    figures.append(Figure(i, j, payload, name))
                    break
    return figures


# --------------------------------------------------------------------------- building the book

#: Where the build records the key of the inputs its cached chapters were executed with.
BUILD_KEY_FILE = Path(".jupyter_cache") / "dlbook-build-key"


def build_inputs(repo: str | Path = ".") -> dict[str, str]:
    """Everything besides a chapter's own cells that its executed outputs depend on.

    jupyter-cache keys a chapter on its cells alone. These are the other inputs, so
    that one cache never mixes chapters run with different ones: the data the chapters
    would load (its name and a hash of its files' decompressed content, which is the
    same whether they come from Debian's package or the data directory), PyTorch's and
    torchvision's versions, the device kind, every ``DLBOOK_*`` environment variable,
    and the sources of ``dlbook`` and of the book's Sphinx extension.

    >>> inputs = build_inputs()
    >>> sorted(inputs)[:3], inputs["device"] in {"cpu", "cuda", "mps"}
    (['data', 'data files', 'device'], True)
    """
    import gzip
    import hashlib

    import torch
    import torchvision

    from dlbook.data import resolve_dataset
    from dlbook.device import get_device

    repo = Path(repo)
    name, files = resolve_dataset()
    data_hash = hashlib.sha256()
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                data_hash.update(chunk)
    sources = hashlib.sha256()
    for path in sorted([*(repo / "src" / "dlbook").rglob("*.py"), *(repo / "book" / "_ext").glob("*.py")]):
        sources.update(path.relative_to(repo).as_posix().encode() + b"\0" + path.read_bytes())
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("DLBOOK_")}
    return {
        "data": name,
        "data files": data_hash.hexdigest()[:16] if files else "none",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": get_device().type,
        "environment": " ".join(f"{k}={v}" for k, v in env.items()) or "no DLBOOK_* variables",
        "sources": sources.hexdigest()[:16],
    }


def build_key(repo: str | Path = ".", inputs: dict[str, str] | None = None) -> str:
    """A short hash of :func:`build_inputs`: the cache is valid only for the key it was filled with.

    >>> len(build_key())
    16
    """
    import hashlib
    import json

    inputs = build_inputs(repo) if inputs is None else inputs
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def recorded_build_key(repo: str | Path = ".") -> str | None:
    """The :func:`build_key` the cached chapters were executed with (:data:`BUILD_KEY_FILE`), or ``None``.

    ``None`` when nothing is recorded yet or the record cannot be read.

    >>> import tempfile
    >>> recorded_build_key(tempfile.mkdtemp()) is None
    True
    """
    import json

    record = Path(repo) / BUILD_KEY_FILE
    try:
        return json.loads(record.read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def prepare_build(repo: str | Path = ".") -> tuple[str, str]:
    """Drop the execution cache and ``_build`` unless they were made with today's :func:`build_key`; record the key.

    Returns ``(key, message)``: the message says whether this is a first build, a
    rebuild with the same inputs, or which inputs changed. Used by ``make book``
    (through ``python -m dlbook build``) and by the browser tests' rebuild check,
    so that both follow one rule.
    """
    import json
    import shutil

    repo = Path(repo)
    inputs = build_inputs(repo)
    key = build_key(repo, inputs)
    record = repo / BUILD_KEY_FILE
    cache, build = repo / ".jupyter_cache", repo / "_build"
    if not record.is_file():
        message = "first build: executing every chapter" if not cache.exists() else \
            "no record of what the cached chapters ran with: executing every chapter again"
        old = None
    else:
        try:
            old = json.loads(record.read_text())
        except ValueError:
            old = {}
        if old.get("key") == key:
            return key, "same data, versions, device and dlbook source as the cached chapters: reusing them"
        changed = sorted(k for k in inputs if old.get("inputs", {}).get(k) != inputs[k])
        message = f"{', '.join(changed) or 'the build key'} changed since the last build: executing every chapter again"
    if old is not None or cache.exists():
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(build, ignore_errors=True)
    # Recorded now, not after a successful build: every chapter the cache will hold is executed
    # with these inputs, and a build that fails on a warning must not cost a full re-execution.
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"key": key, "inputs": inputs}, indent=1))
    return key, message


def toc_pages(repo: str | Path = ".") -> list[str]:
    """Every document of ``_toc.yml`` (``book/01-gradients``), in reading order: root first,
    then parts, chapters and sections as they nest.

    >>> toc_pages()[:2]
    ['book/00-introduction', 'book/01-gradients']
    """
    import yaml

    toc = yaml.safe_load((Path(repo) / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key))

    for key in ("parts", "chapters", "sections"):
        walk(toc.get(key))
    return pages


def notebook_pages(repo: str | Path = ".") -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (MyST files with a ``kernelspec``), in reading order.

    >>> [p.name for p in notebook_pages()][:2]
    ['00-introduction.md', '01-gradients.md']
    """

    def front_matter(path: Path) -> str:
        text = path.read_text(encoding="utf-8")
        return text.split("---", 2)[1] if text.startswith("---") else ""

    pages = [Path(repo) / f"{page}.md" for page in toc_pages(repo)]
    return [p for p in pages if p.is_file() and "kernelspec:" in front_matter(p)]


#: The variables that set the number of threads of PyTorch's CPU kernels (OpenMP, MKL).
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class single_threaded_kernels:
    """While active, kernels started from this process run PyTorch with one CPU thread.

    The book is built this way (:func:`build_book`), and :func:`run_chapter` runs a chapter
    this way too, so that ``python -m dlbook run NN`` prints the book's numbers: in a few
    chaotic settings (a huge learning rate) the thread count changes the last digits.
    """

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
        os.environ.update({k: "1" for k in _THREAD_VARIABLES})
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def _execution_settings(repo: Path) -> dict:
    """The ``execute:`` section of the book's ``_config.yml``."""
    import yaml

    return yaml.safe_load((repo / "_config.yml").read_text(encoding="utf-8")).get("execute", {})


def _cache_with_pages(repo: Path, cache_dir: Path):
    """The jupyter-cache at ``cache_dir`` with every notebook page in its project, read as myst-nb reads them."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    pages = notebook_pages(repo)
    for page in pages:
        cache.add_nb_to_project(str(page), read_data={"name": "myst_nb_md", "type": "plugin"})
    return cache, pages


def execute_in_parallel(repo: str | Path = ".", *, timeout: int | None = None) -> dict[str, int]:
    """Execute every notebook page into the build's jupyter-cache, as many at once as there are cores.

    Jupyter Book 1 executes notebooks one at a time. jupyter-cache's ``temp-parallel``
    executor runs them in a pool of processes (each in a fresh temporary directory, as
    the book's ``run_in_temp`` does) and stores each executed notebook in the very
    cache the build then reads, so the build finds every chapter executed ("Using
    cached notebook"). Each kernel runs with one thread (``OMP_NUM_THREADS=1``), one
    kernel per core. A page whose execution fails is not cached: the build executes
    it again and reports its error there. Returns the counts of succeeded, excepted
    and errored pages.
    """
    import logging

    from jupyter_cache.executors import load_executor

    repo = Path(repo).resolve()
    config = _execution_settings(repo)
    timeout = timeout or int(config.get("timeout", 900))
    cache, _ = _cache_with_pages(repo, repo / config.get("cache", ".jupyter_cache"))
    logger = logging.getLogger("dlbook.build")
    logger.setLevel(logging.WARNING)
    executor = load_executor("temp-parallel", cache=cache, logger=logger)
    # One kernel per core, each with one thread: two-thread kernels side by side on two
    # cores spend their time spinning in OpenMP barriers instead of computing.
    with single_threaded_kernels(), _spawned_pool_workers():
        result = executor.run_and_cache(timeout=timeout, allow_errors=False)
    return {"succeeded": len(result.succeeded), "excepted": len(result.excepted), "errored": len(result.errored)}


class _spawned_pool_workers:
    """While active, ``multiprocessing.Pool()`` starts its workers fresh (``spawn``) instead of forking this process.

    jupyter-cache's parallel executor makes its pool with the default start method, which
    is ``fork`` on Linux: each worker inherits this process's open connection to the
    cache's SQLite database and any lock another thread held at that moment. A worker
    that inherits a held lock waits on it forever, and the pool never finishes (seen
    once in a CI run: one worker asleep on a futex from its first second, the other
    executing every chapter alone). A spawned worker starts from a clean interpreter
    and opens its own connection.
    """

    def __enter__(self):
        import multiprocessing

        self.previous = multiprocessing.get_start_method(allow_none=True)
        multiprocessing.set_start_method("spawn", force=True)
        return self

    def __exit__(self, *exc):
        import multiprocessing

        multiprocessing.set_start_method(self.previous, force=True)
        return False


#: The PDF edition, as ``make pdf`` writes it, and the copy beside the HTML book that its pages link.
PDF_FILE = Path("_build") / "latex" / "dlbook.pdf"
PDF_IN_HTML = Path("_build") / "html" / "dlbook.pdf"


def uncached_pages(repo: str | Path = ".") -> list[str]:
    """The notebook pages with no executed copy in the build's jupyter-cache (none after ``make book``)."""
    repo = Path(repo).resolve()
    cache_dir = repo / _execution_settings(repo).get("cache", ".jupyter_cache")
    if not cache_dir.is_dir():
        return [str(p.relative_to(repo)) for p in notebook_pages(repo)]
    cache, pages = _cache_with_pages(repo, cache_dir)
    return [str(page.relative_to(repo)) for page in pages if cache.get_cached_project_nb(str(page)) is None]


def link_pdf_in_html(html_dir: str | Path) -> int:
    """Offer ``dlbook.pdf`` in the download menu of every page of the HTML book in ``html_dir``; return how many.

    The PDF is built after the HTML (it renders the chapters the HTML build executed), so
    ``make pdf`` adds the entry to the pages already written: a link to the PDF beside
    them, relative to each page (its ``data-content_root``). A page that has the entry
    already is left as it is, so running ``make pdf`` twice adds it once.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> page = '<html data-content_root="../"><div class="dropdown dropdown-download-buttons">'
    >>> _ = (d / "a.html").write_text(page + '<ul class="dropdown-menu"><li>.md</li></ul></div>')
    >>> link_pdf_in_html(d), link_pdf_in_html(d)
    (1, 0)
    >>> 'href="../dlbook.pdf"' in (d / "a.html").read_text()
    True
    """
    import re

    linked = 0
    for page in Path(html_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        menu = text.find("dropdown-download-buttons")
        if menu < 0 or "dlbook-pdf-edition" in text:
            continue
        ul = text.find('<ul class="dropdown-menu">', menu)
        root = re.search(r'data-content_root="([^"]*)"', text)
        if ul < 0 or root is None:
            continue
        entry = (
            f'<li><a href="{root.group(1)}dlbook.pdf" class="btn btn-sm dropdown-item dlbook-pdf-edition" '
            'title="The whole book as one PDF" download><span class="btn__icon-container">'
            '<i class="fas fa-book"></i></span><span class="btn__text-container">book .pdf</span></a></li>'
        )
        end = ul + len('<ul class="dropdown-menu">')
        page.write_text(text[:end] + entry + text[end:], encoding="utf-8")
        linked += 1
    return linked


def build_pdf(repo: str | Path = ".", extra_args: tuple[str, ...] = ()) -> int:
    """Build the PDF edition (``make pdf``) from the cache ``make book`` filled; return the exit code.

    Jupyter Book's LaTeX builder under XeLaTeX, with the PDF's own table of contents
    (``_toc_pdf.yml``: a title page, then the web book's pages). It never executes a
    chapter: if the cache was filled with another :func:`build_key` (a source, the data or
    a version changed since) or a page has no executed copy, it says to run ``make book``
    first and returns 2. The PDF is written to :data:`PDF_FILE` and copied beside the HTML
    book (:data:`PDF_IN_HTML`), whose pages then offer it in their download menu
    (:func:`link_pdf_in_html`).
    """
    import shutil
    import subprocess
    import sys

    repo = Path(repo).resolve()
    if recorded_build_key(repo) != build_key(repo):
        print("dlbook: the executed chapters are missing or stale: run `make book` first", file=sys.stderr)
        return 2
    missing = uncached_pages(repo)
    if missing:
        print(f"dlbook: no executed copy of {', '.join(missing)}: run `make book` first", file=sys.stderr)
        return 2
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", ".", "--builder", "pdflatex", "--toc", "_toc_pdf.yml", "-W", "-n", "--keep-going", *extra_args],
        cwd=repo,
    )
    pdf = repo / PDF_FILE
    if result.returncode != 0 or not pdf.is_file():
        return result.returncode or 1
    if (repo / PDF_IN_HTML).parent.is_dir():
        shutil.copyfile(pdf, repo / PDF_IN_HTML)
        link_pdf_in_html(repo / PDF_IN_HTML.parent)
    print(f"dlbook: wrote {PDF_FILE}" + (f" and {PDF_IN_HTML}" if (repo / PDF_IN_HTML).is_file() else ""), flush=True)
    return 0


def build_book(repo: str | Path = ".", extra_args: tuple[str, ...] = (), *, parallel: bool = True) -> int:
    """Build the whole book (``jupyter-book build . -W -n --keep-going``) with a valid cache; return the exit code.

    With ``parallel=True`` the chapters are first executed into the cache several at a
    time (:func:`execute_in_parallel`); the build then only renders them. Every kernel
    runs with one thread either way, so a serial and a parallel build print the same
    numbers.
    """
    import subprocess
    import sys

    repo = Path(repo).resolve()
    key, message = prepare_build(repo)
    print(f"dlbook: {message} (build key {key})", flush=True)
    if parallel:
        start = time.perf_counter()
        counts = execute_in_parallel(repo)
        print(
            f"dlbook: executed {counts['succeeded']} page(s) in parallel in {time.perf_counter() - start:.0f} s"
            + (f"; {counts['excepted'] + counts['errored']} failed, the build runs them again to report why"
               if counts["excepted"] + counts["errored"] else ""),
            flush=True,
        )
    jb = Path(sys.executable).with_name("jupyter-book")
    # A chapter the build itself executes (serial, or one the pool failed) also gets one thread:
    # in chaotic settings (a huge learning rate) the thread count changes the numbers.
    with single_threaded_kernels():
        result = subprocess.run([str(jb), "build", ".", "-W", "-n", "--keep-going", *extra_args], cwd=repo)
    return result.returncode
