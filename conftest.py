"""Sybil collects the doctests: ``>>>`` examples in every ``src/dlbook`` docstring and
in the ```` ```python ```` blocks of the chapters in ``book/``. The chapters'
``{code-cell}`` blocks are left to the book build, which executes them."""

from sybil import Sybil
from sybil.parsers.myst import DocTestDirectiveParser, PythonCodeBlockParser
from sybil.parsers.rest import DocTestParser

package_docstrings = Sybil(parsers=[DocTestParser()], patterns=["*.py"], path="src/dlbook")
chapters = Sybil(
    parsers=[PythonCodeBlockParser(), DocTestDirectiveParser()],
    patterns=["*.md"],
    path="book",
)

pytest_collect_file = (package_docstrings + chapters).pytest()
