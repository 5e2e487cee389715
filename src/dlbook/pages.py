"""What a chapter page calls: its opening stamp, glued values, numbers and words for prose, tables.

The helpers every chapter imports (``from dlbook import pages``): :func:`stamp` (the quiet
line under the first cell), :func:`glue_in_kernel` and :func:`glue_markdown` (values the
prose shows), :func:`sci` and :func:`and_join` (numbers and lists as a book writes them),
:func:`table` (a Markdown table to glue) and :func:`without_docstring` (a listing).
The statistics the prose reports (mean ± spread, comparisons) are in :mod:`dlbook.claims`;
building the book and running a chapter are in :mod:`dlbook.build`.
"""

from __future__ import annotations

import datetime
import html
import inspect
import math
import platform

from dlbook.device import describe_device
from dlbook.validation import check_int, check_real


class Stamp:
    """The line :func:`stamp` returns: Markdown for a notebook, HTML for the book, ``.data`` as text.

    A page built on the fallback digits gets a warning box (an admonition in the
    built book) above the line, not a footnote.
    """

    def __init__(self, lines: list[str], warning: str | None = None) -> None:
        self.lines = lines
        self.warning = warning

    @property
    def data(self) -> str:
        """The stamp as Markdown text (the warning first, if any)."""
        head = [f"**Warning:** {self.warning}"] if self.warning else []
        return "\n\n".join(head + [" ".join(self.lines) + f" [Execution report]({REPORT_PAGE}.md)."])

    def _repr_markdown_(self) -> str:
        return self.data

    def _repr_html_(self) -> str:
        line = html.escape(" ".join(self.lines), quote=False)
        parts = [f'<p class="dlbook-stamp">{line} <a href="{REPORT_PAGE}.html">Execution report</a>.</p>']
        if self.warning:
            parts.insert(
                0,
                '<div class="admonition warning dlbook-fallback"><p class="admonition-title">'
                "Not the book's dataset</p>"
                f"<p>{html.escape(self.warning, quote=False)}</p></div>",
            )
        return "".join(parts)

    def __str__(self) -> str:
        return self.data


#: The execution report's page name, beside the chapters (``book/execution-report``).
REPORT_PAGE = "execution-report"


#: The MIME type of the record :func:`stamp` glues for the execution report (dataset and device per page).
STAMP_MIME = "application/vnd.dlbook.stamp+json"


def glue_in_kernel(name: str, obj) -> bool:
    """Glue ``obj`` under ``name`` (not displayed) when running in a kernel; say whether it did.

    What the build's generated pages read (the stamp's record, a claim for the ledger)
    goes through here: a plain Python session or a doctest has no page to glue to, and
    ``myst_nb.glue`` would print there, so outside IPython this does nothing.

    >>> glue_in_kernel("dlbook_example", 1)
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book extra
        return False
    if get_ipython() is None:
        return False
    from myst_nb import glue

    glue(name, obj, display=False)
    return True


def _glue_stamp(data, device) -> None:
    """Inside a kernel, glue (not shown) what the page ran on, for the execution report's columns."""
    class _Record:
        def _repr_mimebundle_(self, include=None, exclude=None):
            record = {
                "dataset": data.name,
                "training images": len(data.x_train) + len(data.x_val),
                "source": data.source,
                "device": describe_device(device),
            }
            return {STAMP_MIME: record, "text/plain": ""}

    glue_in_kernel("dlbook_stamp", _Record())


def stamp(data, device) -> Stamp:
    """The quiet line under every chapter's first cell: when it executed, on what, with which data.

    One line, linking to the execution report (which says where each page found its
    data). It names the dataset and the size of each split, never a path of the
    machine that built the page. On scikit-learn's digits, the last-resort stand-in,
    a warning box above the line says so and why.

    Returns a :class:`Stamp`, which a notebook shows as Markdown and the built book
    as HTML; ``.data`` is the plain text.

    >>> from dlbook.data import load_digits
    >>> import torch
    >>> s = stamp(load_digits(), torch.device("cpu"))
    >>> "1,079 to train on" in s.data and "CPU" in s.data and s.warning is not None
    True
    """
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_fit, n_val, n_test = len(data.x_train), len(data.x_val), len(data.x_test)
    lines = [
        f"This page executed on {when} on {describe_device(device)} with Python {platform.python_version()}.",
        f"Data: {data.name} ({n_fit:,} to train on, {n_val:,} for validation, {n_test:,} to test;"
        f" {data.image_shape[0]}×{data.image_shape[1]} pixels, {data.num_classes} classes).",
    ]
    _glue_stamp(data, device)
    warning = None
    if data.is_fallback:
        why = " ".join(data.notes) or (
            "This page was built on scikit-learn's 8×8 digits (DLBOOK_DATASET=digits), not on "
            "Fashion-MNIST: 1,079 small training images, on which the differences between methods "
            "are a few images and the numbers are not the book's."
        )
        warning = why
    else:
        lines += list(data.notes)
    return Stamp(lines, warning)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(x, digits: int = 1) -> str:
    """A number as a book prints it: ``1.8 × 10⁻⁵`` rather than ``1.8e-05``.

    ``digits`` digits after the mantissa's point; between 0.1 and 10 (exponent −1 or 0)
    the number is written out plainly (``0.78``, ``3.1``); 0 is ``0``; NaN and infinities
    are written as Python writes them.

    >>> sci(1.8e-05), sci(3e-16, 0), sci(0.78), sci(3.14159), sci(0.0), sci(-2.5e9)
    ('1.8 × 10⁻⁵', '3 × 10⁻¹⁶', '0.78', '3.1', '0', '-2.5 × 10⁹')
    """
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:  # a 0-d tensor or array
        x = x.item()
    x = check_real("x", x)
    digits = check_int("digits", digits, low=0)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    exponent = int(exponent)
    if exponent == 0:
        return mantissa
    if exponent == -1:
        return f"{x:.{digits + 1}g}"
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def and_join(items) -> str:
    """Words joined as prose joins them: ``'a'``, ``'a and b'``, ``'a, b and c'``.

    >>> and_join(["ReLU"]), and_join(["ReLU", "GELU"]), and_join(["ReLU", "GELU", "tanh"])
    ('ReLU', 'ReLU and GELU', 'ReLU, GELU and tanh')
    """
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def glue_markdown(name: str, text: str) -> bool:
    """Glue a generated phrase under ``name`` (not displayed), to show with ``{glue:md}`name```.

    Through :func:`glue_in_kernel`: outside a kernel it does nothing and says so.

    >>> glue_markdown("verdict", "**no measurable difference**")
    False
    """
    from IPython.display import Markdown

    return glue_in_kernel(name, Markdown(text))


def without_docstring(obj) -> str:
    """The source of a function or class (:func:`inspect.getsource`) with its docstring left out.

    For listings in the chapters, where the prose explains what the docstring says.

    >>> print(without_docstring(and_join))
    def and_join(items) -> str:
        items = list(items)
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    """
    lines = inspect.getsource(obj).splitlines()
    start = next(i for i, line in enumerate(lines) if '"""' in line)
    end = start if lines[start].count('"""') == 2 else next(
        i for i in range(start + 1, len(lines)) if '"""' in lines[i])
    return "\n".join(lines[:start] + lines[end + 1:])


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
