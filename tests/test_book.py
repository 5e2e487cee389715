"""The book pipeline itself: the table of contents, and the failure drills.

A deliberately broken copy of the book (a cell that raises; a page with a Sphinx
warning) must fail the build with a non-zero exit, and an intact one must pass, so
that CI cannot go green on a book that silently did not execute.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlbook.pages import glue_in_kernel, sci
from dlbook.build import find_chapter, run_chapter

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

"""

PAGES = {
    "intact": "```{code-cell} ipython3\nfrom myst_nb import glue\nglue('answer', 6 * 7, display=False)\n```\n\nThe answer is {glue:text}`answer`.\n",
    "cell_error": "```{code-cell} ipython3\nraise RuntimeError('this cell is broken on purpose')\n```\n",
    "sphinx_warning": "```{code-cell} ipython3\nx = 1\n```\n\nSee {ref}`a-label-that-does-not-exist`.\n",
    "missing_glue": "```{code-cell} ipython3\nx = 1\n```\n\nThe value is {glue:text}`never_glued`.\n",
    "wrong_solution": (
        "```{exercise}\n:label: ex-sum\n\nWhat is 2 + 2?\n```\n\n"
        "````{solution-start} ex-sum\n:class: dropdown\n````\n\n"
        "```{code-cell} ipython3\nanswer = 2 + 2\nassert answer == 5, f'the asserted answer is wrong: {answer}'\n```\n\n"
        "````{solution-end}\n````\n"
    ),
    "claims": (
        "```{code-cell} ipython3\n:tags: [remove-cell]\nfrom myst_nb import glue\nfrom dlbook import claims\n"
        "glue('c_true', claims.check('two-is-even', 2 % 2 == 0, 'two is even', '2 mod 2 = 0'), display=False)\n"
        "glue('c_false', claims.check('three-is-even', 3 % 2 == 0, 'three is even', '3 mod 2 = 1'), display=False)\n"
        "claims.erratum('pi-is-three', 'pi is 3', 'false', 'pi = 3.14159')\n```\n\n"
        "Two is even {glue:md}`c_true`. Three is even {glue:md}`c_false`.\n"
    ),
}
LEDGER = "# Ledger\n\n```{claims-ledger}\n```\n"


def test_toc_lists_the_introduction_and_fourteen_chapters_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc["chapters"]]
    numbered = [f for f in files if Path(f).name[:2].isdigit()]
    assert [int(Path(f).name[:2]) for f in numbered] == list(range(15))
    for f in files:
        assert (ROOT / f"{f}.md").is_file(), f


def build(tmp_path, page, *, ci=False):
    """Build a one-page book (with the real config) plus, for the claims page, a ledger page."""
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")  # the config's local extension
    toc = "format: jb-book\nroot: index\n"
    if page == "claims":
        toc += "chapters:\n  - file: claims-ledger\n"
        (tmp_path / "claims-ledger.md").write_text(LEDGER)
    (tmp_path / "_toc.yml").write_text(toc)
    (tmp_path / "index.md").write_text(HEADER + PAGES[page])
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.md")), ids=lambda p: p.stem)
def test_no_glue_role_in_a_directive_option(path):
    """A directive's options (``:alt:``, ``:name:``, ...) are plain strings: a glue role
    there reaches the reader as its literal source, so a result-dependent alt text is
    glued into the caption or checked instead."""
    bad = [f"{path.name}:{i}: {line.strip()}"
           for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           if re.match(r"\s*:[\w-]+:.*\{glue", line)]
    assert not bad, "glue roles in directive options:\n" + "\n".join(bad)


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed beside this Python")
@pytest.mark.parametrize("page,succeeds", [
    ("intact", True), ("cell_error", False), ("sphinx_warning", False), ("missing_glue", False), ("wrong_solution", False),
])
def test_build_fails_on_cell_errors_and_warnings(tmp_path, page, succeeds):
    result = build(tmp_path, page)
    log = result.stdout + result.stderr
    assert (result.returncode == 0) == succeeds, log[-3000:]
    if page == "intact":
        assert "The answer is" in (tmp_path / "_build/html/index.html").read_text()
        assert ">42<" in (tmp_path / "_build/html/index.html").read_text()
    if page == "cell_error":
        assert "this cell is broken on purpose" in log
    if page == "wrong_solution":
        assert "the asserted answer is wrong: 4" in log


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed beside this Python")
def test_a_false_claim_fails_a_ci_build_naming_the_claim_and_its_numbers(tmp_path):
    result = build(tmp_path, "claims", ci=True)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-3000:]
    assert "claim 'three-is-even' is false in this build: three is even (evidence: 3 mod 2 = 1)" in log, log[-3000:]


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed beside this Python")
def test_outside_ci_a_false_claim_is_a_warning_on_the_page_and_false_in_the_ledger(tmp_path):
    result = build(tmp_path, "claims", ci=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    page = (tmp_path / "_build/html/index.html").read_text()
    ledger = (tmp_path / "_build/html/claims-ledger.html").read_text()
    # beside the sentence: the true claim's mark links to its row; the false one is a visible warning
    assert 'id="claim-two-is-even"' in page and 'href="claims-ledger.html#ledger-claim-two-is-even"' in page
    assert "in this build the claim is false: three is even" in page
    # the ledger: both rows, linked back to the sentences, the false one marked; the erratum table
    assert 'id="ledger-claim-two-is-even"' in ledger and 'href="index.html#claim-two-is-even"' in ledger
    assert "FALSE in this build" in ledger and "1 of them false" in ledger
    assert "pi is 3" in ledger and "pi = 3.14159" in ledger


def test_find_chapter_by_number_stem_and_topic():
    assert find_chapter("02").name == find_chapter("backpropagation").name == "02-backpropagation.md"
    assert find_chapter("00").name == "00-introduction.md"
    with pytest.raises(ValueError, match="chapter"):
        find_chapter("gradient")


def test_run_chapter_executes_in_a_fresh_kernel_and_saves_figures(tmp_path):
    page = tmp_path / "book" / "07-demo.md"
    page.parent.mkdir()
    page.write_text(HEADER + "```{code-cell} ipython3\nimport matplotlib.pyplot as plt\nimport os\nplt.plot([1, 2]); plt.xlabel('x'); plt.ylabel('y'); plt.show()\nprint(os.getcwd())\n```\n")
    out = tmp_path / "out"
    result = run_chapter(page, out)
    assert result.notebook.is_file() and len(result.figures) == 1 and result.figures[0].stat().st_size > 0
    assert str(out) in result.notebook.read_text()  # the cell ran with out/ as its working directory


def test_cli_run_reports_where_outputs_went(tmp_path, capsys):
    from dlbook.__main__ import main

    page = tmp_path / "book" / "03-tiny.md"
    page.parent.mkdir()
    page.write_text(HEADER + "```{code-cell} ipython3\nprint('hello')\n```\n")
    assert main(["run", "3", "--book", str(page.parent), "--out", str(tmp_path / "o")]) == 0
    assert "notebook: " + str(tmp_path / "o" / "03-tiny.ipynb") in capsys.readouterr().out
    assert main(["run", "99", "--book", str(page.parent)]) == 2


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed beside this Python")
def test_parallel_execution_fills_the_cache_the_build_then_uses(tmp_path):
    """`python -m dlbook build` executes the pages in a pool first; the build renders them from the cache."""
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: second\n")
    for name in ("index", "second"):
        # Code cells that differ: jupyter-cache keys a notebook on its code alone, and two
        # pools workers caching one key at once collide (FileExistsError in jupyter-cache).
        (tmp_path / f"{name}.md").write_text(
            HEADER + f"```{{code-cell}} ipython3\nimport os\nfrom myst_nb import glue\npage = {name!r}\n"
            f"glue('pid', os.getpid(), display=False)\n```\n\n{name} ran in process {{glue:text}}`pid`.\n"
        )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "dlbook", "build"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "first build" in log and "executed 2 page(s) in parallel" in log, log[-3000:]
    assert log.count("Using cached notebook") == 2, log[-3000:]
    assert "Executed notebook in" not in log  # the build itself executed nothing
    assert "ran in process" in (tmp_path / "_build/html/second.html").read_text()
    # a second build with nothing changed reuses everything
    again = subprocess.run([sys.executable, "-m", "dlbook", "build"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "reusing them" in again.stdout, (again.stdout + again.stderr)[-3000:]


@pytest.mark.parametrize("x, digits, printed", [
    (1.8e-05, 1, "1.8 × 10⁻⁵"),
    (3e-16, 0, "3 × 10⁻¹⁶"),
    (-2.5e9, 1, "-2.5 × 10⁹"),
    (0.78, 1, "0.78"),          # exponent -1: written out
    (3.14159, 1, "3.1"),        # exponent 0: the mantissa
    (0.0996, 1, "0.1"),         # rounds up into the plain range
    (9.96, 1, "1.0 × 10¹"),     # rounds up out of it
    (0.0, 1, "0"),
    (float("inf"), 1, "inf"),
])
def test_sci_prints_numbers_as_a_book_does(x, digits, printed):
    assert sci(x, digits) == printed


def test_sci_takes_zero_dimensional_tensors_and_rejects_what_is_not_a_number():
    import torch

    assert sci(torch.tensor(2e-7)) == "2.0 × 10⁻⁷"
    for bad in ("1e-5", None, True, torch.ones(2)):
        with pytest.raises(TypeError, match="real number"):
            sci(bad)
    with pytest.raises(ValueError, match="digits"):
        sci(1.0, -1)


def test_glue_in_kernel_is_a_no_op_outside_a_kernel(capsys):
    assert glue_in_kernel("anything", 1) is False
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed beside this Python")
def test_figures_tables_and_exercises_are_numbered_per_chapter(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: 00-introduction\nchapters:\n  - file: 07-numbers\n  - file: appendix\n")
    table = "```{{table}} {caption}\n:name: {name}\n\n| a |\n|---|\n| 1 |\n```\n\n"
    exercise = "```{{exercise}}\n:label: {label}\n\nText.\n```\n\n"
    (tmp_path / "00-introduction.md").write_text(HEADER + table.format(caption="Intro", name="t-intro"))
    (tmp_path / "07-numbers.md").write_text(
        HEADER + table.format(caption="First", name="t-first") + table.format(caption="Second", name="t-second")
        + exercise.format(label="ex-a") + exercise.format(label="ex-b") + "See {numref}`t-second`.\n")
    (tmp_path / "appendix.md").write_text(HEADER + table.format(caption="Appendix", name="t-app"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([str(JUPYTER_BOOK), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    html = {name: (tmp_path / "_build" / "html" / f"{name}.html").read_text()
            for name in ("00-introduction", "07-numbers", "appendix")}
    assert "Table 7.1" in html["07-numbers"] and "Table 7.2" in html["07-numbers"]
    assert "Exercise 7.1" in html["07-numbers"] and "Exercise 7.2" in html["07-numbers"]
    assert '<span class="std std-numref">Table 7.2</span>' in html["07-numbers"]  # the {numref} reads it too
    assert "Table 3" not in html["07-numbers"] and "Exercise 1" not in html["07-numbers"]
    assert "Table 1" in html["00-introduction"] and "Table 1" in html["appendix"]  # no chapter number: 1, 2, ...


def test_make_pdf_refuses_to_run_without_the_executed_chapters(tmp_path, capsys):
    # The PDF renders what `make book` executed; it never executes a chapter itself.
    from dlbook.build import build_pdf

    assert build_pdf(tmp_path) == 2
    assert "run `make book` first" in capsys.readouterr().err
