"""Sybil collects the doctests: ``>>>`` examples in every ``src/dlbook`` docstring and
in the ```` ```python ```` blocks of the chapters in ``book/``. The chapters'
``{code-cell}`` blocks are left to the book build, which executes them. A block after a
``% skip: next`` comment (a MyST comment: the page does not show it) is shown, not run:
code for a machine this one is not, such as the appendix's workers against a PostgreSQL
server.

Also: Hypothesis's profile (derandomized, no example database), and how pytest-xdist
hands out the tests (whole files; the files that build the book together)."""

from hypothesis import settings
from sybil import Sybil
from sybil.parsers.myst import DocTestDirectiveParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.rest import DocTestParser

package_docstrings = Sybil(parsers=[DocTestParser()], patterns=["*.py"], path="src/dlbook")
chapters = Sybil(
    parsers=[PythonCodeBlockParser(), DocTestDirectiveParser(), SkipParser()],
    patterns=["*.md"],
    path="book",
)

pytest_collect_file = (package_docstrings + chapters).pytest()

# Hypothesis: no example database (a run leaves no .hypothesis/ folder in the repository), and
# derandomized draws (each test's examples follow from its own code), so CI and a laptop draw
# the same examples; no per-example deadline (a loaded CI machine is slow, not wrong).
settings.register_profile("dlbook", database=None, derandomize=True, deadline=None)
settings.load_profile("dlbook")


def pytest_terminal_summary(terminalreporter):
    """Say how many Sybil examples (doctests) ran, from how many files, and how they fared."""
    counts = {}
    files = set()
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if report.when == "call" and ":line:" in report.nodeid:
                counts[outcome] = counts.get(outcome, 0) + 1
                files.add(report.nodeid.split("::")[0])
    total = sum(counts.values())
    detail = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
    terminalreporter.write_line(f"Sybil examples run: {total} from {len(files)} files ({detail})")


#: The test files that build the book or run every chapter: under pytest-xdist they run in one
#: worker, one after another, so at most two of their kernels run at once.
BUILD_TEST_FILES = frozenset({"test_drills.py", "test_visible_code.py", "test_readme.py"})


def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (``make test``: ``-n auto``), hand out whole files, the build tests as one.

    Each file's tests run in one worker, as with ``--dist loadfile``: a file's doctests share
    one namespace (an import in one example serves the next) and a module fixture is built
    once. The files of :data:`BUILD_TEST_FILES` form one unit, so they run one after another
    in a single worker while the other workers take the unit tests and doctests.
    """
    from xdist.scheduler import LoadScopeScheduling

    class WholeFilesBuildsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "the book builds" if path.rsplit("/", 1)[-1] in BUILD_TEST_FILES else path

    return WholeFilesBuildsTogether(config, log)
