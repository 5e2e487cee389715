"""Every command the README documents works as written.

The commands are read from README.md's ```` ```bash ```` blocks (one command a line, a
comment after two spaces and ``#``), so a command added to the README later is picked
up here, and it must have a check in ``CHECKS`` saying what the README promises it
produces. The set-up commands, ``make book``, ``make pdf`` and ``make test``, are left to
CI, which runs them anyway (``tests/test_pdf.py`` checks the PDF).

They run in README order in a scratch copy of the repository that shares ``.venv`` and
starts from a copy of the current build and cache, so that ``make book`` afterwards is a
rebuild; ``make clean`` runs last. A command marked ``# interactive`` (JupyterLab) is
started, must serve its page, and is stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SET_UP = ("make book", "make test", "make pdf")


def documented_commands(text: str | None = None) -> list[tuple[str, str]]:
    """``(command, comment)`` for every line of every bash block of the README, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                command, _, comment = line.partition("  #")
                commands.append((command.strip(), comment.strip()))
    return commands


def test_commands_are_read_from_the_bash_blocks():
    text = "x\n```bash\nmake book   # build\n# a comment line\necho hi\n```\n```python\nprint(1)\n```\n"
    assert documented_commands(text) == [("make book", "build"), ("echo hi", "")]


# --------------------------------------------------------------------------- what each command promises


def _printed_paths(out: str, label: str, cwd: Path) -> list[Path]:
    """The paths printed after ``label:``, relative ones taken from the command's working directory."""
    paths = [Path(line.split(":", 1)[1].strip()) for line in out.splitlines() if line.startswith(f"{label}:")]
    return [p if p.is_absolute() else cwd / p for p in paths]


def _check_run(scratch: Path, result, command: str) -> None:
    out = result.stdout
    chapter = re.search(r"run (\d\d)", command).group(1)
    source = next((scratch / "book").glob(f"{chapter}-*.md"))
    assert f"ran {source.name} in " in out, out
    notebooks = _printed_paths(out, "notebook", scratch)
    assert len(notebooks) == 1 and notebooks[0].is_file(), out
    figures = _printed_paths(out, "figure", scratch)
    assert all(f.is_file() and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures), out
    # every figure the chapter shows: each {glue:figure} at least (glued figures are not "displayed")
    shown = len(re.findall(r"^```\{glue:figure\}", source.read_text(encoding="utf-8"), re.M))
    assert len(figures) >= shown, f"{len(figures)} figure files for {shown} glued figures:\n{out}"
    if "--out" in command:
        out_dir = scratch / command.split("--out", 1)[1].split()[0]
        assert notebooks[0].parent.resolve() == out_dir.resolve()
        assert shown == 0 or len(figures) > 0
    if command.startswith("DLBOOK_DATASET=digits"):
        assert "digits" in notebooks[0].read_text(encoding="utf-8")


def _check_jupytext(scratch: Path, result, command: str) -> None:
    target = scratch / command.split("--output", 1)[1].split()[0]
    assert target.is_file() and '"cells"' in target.read_text(encoding="utf-8")
    assert not list((scratch / "book").glob("*.ipynb")), "a notebook was written into book/"


def _check_mkdir(scratch: Path, result, command: str) -> None:
    assert (scratch / command.split()[-1]).is_dir(), command


def _check_build_inputs(scratch: Path, result, command: str) -> None:
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert {"data", "torch", "device", "sources", "key"} <= lines.keys(), result.stdout


CHECKS: list[tuple[str, Callable]] = [
    (r"^(DLBOOK_DATASET=\w+ )?\.venv/bin/python -m dlbook run \d\d\b", _check_run),
    (r"^mkdir -p _build/\w+$", _check_mkdir),
    (r"^\.venv/bin/jupytext --to notebook --output _build/", _check_jupytext),
    (r"^\.venv/bin/python -m dlbook build-inputs$", _check_build_inputs),
    (r"^\.venv/bin/jupyter lab ", None),  # interactive: see _serve
    (r"^make clean$", None),  # run last: see the test
]


def _check_for(command: str):
    matches = [check for pattern, check in CHECKS if re.search(pattern, command)]
    assert len(matches) == 1, f"README command {command!r} has {len(matches)} checks in tests/test_readme.py: add one"
    return matches[0]


def test_every_documented_command_has_a_check():
    for command, _ in documented_commands():
        if command not in SET_UP:
            _check_for(command)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(scratch: Path, command: str, env: dict) -> None:
    """Start an interactive server command headless, wait until it serves its page, stop it."""
    port = _free_port()
    headless = f" --no-browser --port={port} --ServerApp.token= --ServerApp.ip=127.0.0.1"
    if os.geteuid() == 0:
        headless += " --allow-root"  # CI runs as root; JupyterLab refuses root without it
    proc = subprocess.Popen(command + headless, shell=True, cwd=scratch, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as response:
                    assert response.status == 200 and b"JupyterLab" in response.read()
                    break
            except OSError:
                assert proc.poll() is None, f"{command!r} exited early:\n{proc.stdout.read()[-3000:]}"
                assert time.monotonic() < deadline, f"{command!r} did not serve within 120 s"
                time.sleep(1)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    from test_drills import copy_repository

    base = copy_repository(tmp_path_factory.mktemp("readme"))
    (base / ".venv").symlink_to(ROOT / ".venv")
    for name in (".jupyter_cache", "_build"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, base / name, symlinks=True, ignore=shutil.ignore_patterns("screenshots"))
    return base


@pytest.mark.slow
def test_every_readme_command_works_and_the_book_still_builds(scratch):
    env = dict(os.environ, PYTHONPATH=str(scratch / "src"))
    env.pop("DLBOOK_DATASET", None)
    ran = []
    for command, comment in documented_commands():
        if command in SET_UP or command == "make clean":
            continue
        check = _check_for(command)
        if comment.startswith("interactive"):
            _serve(scratch, command, env)
        else:
            result = subprocess.run(command, shell=True, cwd=scratch, env=env, capture_output=True, text=True,
                                    timeout=900)
            assert result.returncode == 0, f"{command!r} failed:\n{(result.stdout + result.stderr)[-3000:]}"
            assert "without encryption" not in result.stdout + result.stderr, command
            check(scratch, result, command)
        ran.append(command)
    assert ran, "no README command ran"
    # the README's commands leave the book buildable: no stray notebook, no changed source
    book = subprocess.run(["make", "book"], cwd=scratch, env=env, capture_output=True, text=True, timeout=1800)
    assert book.returncode == 0, (book.stdout + book.stderr)[-5000:]
    assert "without encryption" not in book.stdout + book.stderr
    if any(c == "make clean" for c, _ in documented_commands()):
        clean = subprocess.run(["make", "clean"], cwd=scratch, capture_output=True, text=True, timeout=120)
        assert clean.returncode == 0 and not (scratch / "_build").exists() and not (scratch / ".jupyter_cache").exists()
