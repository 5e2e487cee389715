"""Command line: ``python -m dlbook run 04`` executes one chapter's code outside the book.

The chapter's MyST file is read with jupytext and executed in a fresh kernel by
nbclient, in a working directory of your choice (default: a new temporary one).
The executed notebook and every figure it drew are written there, and the command
prints where.
"""

from __future__ import annotations

import argparse
import sys

from dlbook.build import build_book, build_inputs, build_key, build_pdf, find_chapter, run_chapter


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m dlbook`` (and the ``dlbook`` console script)."""
    parser = argparse.ArgumentParser(prog="python -m dlbook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one chapter, e.g. 'run 04' or 'run optimizers'")
    run.add_argument("chapter", help="chapter number (04), file stem (04-optimizers) or topic (optimizers)")
    run.add_argument("--out", help="directory for the executed notebook and figures (default: a temp dir)")
    run.add_argument("--book", help="the book/ folder (default: found beside the package or in the cwd)")
    run.add_argument("--timeout", type=int, default=1200, help="seconds a single cell may run")
    run.add_argument("--visible", action="store_true", help="run only the code cells the page shows (what a reader copies)")
    build = sub.add_parser("build", help="build the whole book into _build/html (what 'make book' runs)")
    build.add_argument("--serial", action="store_true", help="execute the chapters one at a time (no parallel pre-fill)")
    sub.add_parser("pdf", help="build the PDF edition from the executed chapters (what 'make pdf' runs)")
    sub.add_parser("build-inputs", help="print what the cached chapters depend on besides their cells")
    args = parser.parse_args(argv)
    if args.command == "build":
        return build_book(".", parallel=not args.serial)
    if args.command == "pdf":
        return build_pdf(".")
    if args.command == "build-inputs":
        inputs = build_inputs(".")
        for name, value in inputs.items():
            print(f"{name}: {value}")
        print(f"key: {build_key('.', inputs)}")
        return 0
    try:
        path = find_chapter(args.chapter, args.book)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_chapter(path, args.out, timeout=args.timeout, visible_only=args.visible)
    print(f"ran {path.name}{' (visible cells only)' if args.visible else ''} in {result.seconds:.1f} s on {result.device}")
    print(f"notebook: {result.notebook}")
    for fig in result.figures:
        print(f"figure:   {fig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
