"""Running one chapter outside the book: find its MyST file, execute it, collect its figures.

Used by ``python -m dlbook run NN``; see the README's "Run one chapter yourself".
Needs the ``book`` extra (jupytext, nbclient, ipykernel).
"""

from __future__ import annotations

import base64
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


def stamp(data, device) -> "object":
    """The box at the top of every chapter: when it executed, on what, with which data.

    Returns an ``IPython.display.Markdown`` object, so a notebook (and the built
    book) shows it as formatted text; ``str()`` of it is the plain text.

    >>> from dlbook.data import load_digits
    >>> import torch
    >>> text = stamp(load_digits(), torch.device("cpu")).data
    >>> "digits: 1079 train" in text and "CPU" in text
    True
    """
    import datetime
    import platform

    from IPython.display import Markdown

    from dlbook.device import describe_device

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"**This page executed** on {when}, Python {platform.python_version()}, "
        f"on {describe_device(device)}.",
        f"**Data:** {data.summary()}. {data.description}.",
    ]
    lines += [f"**Note:** {note}" for note in data.notes]
    return Markdown("\n\n".join(lines))


def table(rows, headers, formats=None) -> "object":
    """A Markdown table, to ``glue`` into a chapter and show with ``{glue:md}`name```.

    Args:
        rows: a sequence of rows, each a sequence of cells (numbers or strings).
        headers: one header per column.
        formats: optional format spec per column (e.g. ``[None, ".3f", ".1%"]``);
            ``None`` uses ``str``.

    Returns an ``IPython.display.Markdown``; its ``.data`` is the Markdown text.

    >>> print(table([["SGD", 0.91234], ["Adam", 0.95]], ["optimizer", "accuracy"], [None, ".1%"]).data)
    | optimizer | accuracy |
    |---|---|
    | SGD | 91.2% |
    | Adam | 95.0% |
    >>> table([[1, 2]], ["only one header"])
    Traceback (most recent call last):
    ...
    ValueError: Invalid rows: row 0 has 2 cells for 1 headers
    """
    from IPython.display import Markdown

    formats = list(formats) if formats is not None else [None] * len(headers)
    if len(formats) != len(headers):
        raise ValueError(f"Invalid formats: {len(formats)} formats for {len(headers)} headers")
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(headers):
            raise ValueError(f"Invalid rows: row {i} has {len(row)} cells for {len(headers)} headers")
        try:
            cells = [format(c, f) if f else str(c) for c, f in zip(row, formats)]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid formats: {formats!r} do not fit row {i} ({exc})") from exc
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


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


def run_chapter(path: str | Path, out_dir: str | Path | None = None, *, timeout: int = 1200) -> ChapterRun:
    """Execute the chapter at ``path`` in a fresh kernel, working in ``out_dir``; save notebook and figures there.

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
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    seconds = time.perf_counter() - start
    notebook = out / f"{path.stem}.ipynb"
    nbformat.write(nb, notebook)
    figures = []
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                fig = out / f"{path.stem}-cell{i:02d}-{j}.png"
                fig.write_bytes(base64.b64decode(png))
                figures.append(fig)
    return ChapterRun(notebook=notebook, figures=figures, seconds=seconds, device=describe_device())
