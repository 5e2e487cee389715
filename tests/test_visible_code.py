"""Visible code runs on its own.

A reader who copies the code cells a chapter shows, in order, into a fresh notebook
must be able to run them: no visible cell may use a name that only a hidden cell
(``remove-cell``, ``remove-input``) defines. Each chapter is executed here from its
visible cells alone (:func:`dlbook.build.visible_code`), on scikit-learn's digits
(``DLBOOK_DATASET=digits``), which is quick and runs the same code as Fashion-MNIST.
The book's build, on the real data, runs every cell, hidden ones included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook.build import run_chapter
from test_book import HEADER  # a minimal MyST page's front matter and title

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]-*.md"))


def test_every_chapter_is_covered():
    assert len(CHAPTERS) == 15, [p.name for p in CHAPTERS]


@pytest.fixture(scope="module")
def visible_runs(tmp_path_factory):
    """Each chapter's visible cells, run once, as many chapters at a time as there are cores.

    Maps a chapter's stem to the error its run raised, or ``None``.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    from dlbook.build import single_threaded_kernels

    saved = os.environ.get("DLBOOK_DATASET")
    os.environ["DLBOOK_DATASET"] = "digits"

    def run(path):
        try:
            run_chapter(path, tmp_path_factory.mktemp(path.stem), visible_only=True)
        except Exception as exc:  # reported by the chapter's own test below
            return path.stem, exc
        return path.stem, None

    try:
        with single_threaded_kernels(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            return dict(pool.map(run, CHAPTERS))
    finally:
        if saved is None:
            os.environ.pop("DLBOOK_DATASET", None)
        else:
            os.environ["DLBOOK_DATASET"] = saved


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_visible_cells_of_a_chapter_run_on_their_own(visible_runs, path):
    error = visible_runs[path.stem]
    if error is not None:
        raise error


PAGE = HEADER + """```{code-cell} ipython3
:tags: [%s]
helper = 41
```

```{code-cell} ipython3
print(helper + 1)
```
"""


@pytest.mark.parametrize("tag", ["remove-cell", "remove-input"])
def test_a_visible_cell_that_uses_a_hidden_name_fails(tmp_path, tag):
    page = tmp_path / "00-page.md"
    page.write_text(PAGE % tag, encoding="utf-8")
    run_chapter(page, tmp_path / "all")  # the whole page runs
    with pytest.raises(Exception, match="NameError") as error:
        run_chapter(page, tmp_path / "visible", visible_only=True)
    assert type(error.value).__name__ == "CellExecutionError"  # nbclient's, naming the cell


def test_a_folded_cell_counts_as_visible(tmp_path):
    page = tmp_path / "00-page.md"
    page.write_text(PAGE % "hide-input", encoding="utf-8")
    run = run_chapter(page, tmp_path / "visible", visible_only=True)
    assert run.notebook.is_file()
