"""Failure drills: the book and the package under conditions a reader will meet.

1. **No network, no dataset package.** The whole book builds with networking cut off
   (``unshare -n``: a network namespace with only a loopback interface) on a machine
   without Fashion-MNIST's files: it takes the documented last resort, scikit-learn's
   digits, every chapter executes on them, and every page says so in a warning box.
   That no connection attempt is left waiting is the network probe's own bound
   (``tests/test_data.py``), not a timing of the build.
2. **Reproducible numbers.** Two clean builds glue identical values: every glued value
   except measured times (names starting with ``time_``), sentences about where this
   build found its data (names starting with ``source_``: the two builds reach the
   digits by different roads) and figures. A claim is compared by its verdict (key,
   claim, holds), not its evidence, which may quote a timing. Drills 1 and 2
   share the same two clean runs on the digits, each in a fresh copy of the repository
   with no cache: one offline (the fallback), a whole build; one with
   ``DLBOOK_DATASET=digits``, which executes every chapter as the build does
   (:func:`dlbook.build.execute_in_parallel`) but renders no HTML, since its glued
   values are what drill 2 compares. The book's own build on Fashion-MNIST is the one
   ``make book`` makes (CI makes it once).
3. **Bad data.** A truncated or corrupt Fashion-MNIST or MNIST file is an error naming
   the file and the fix, never a silent fallback; a missing data directory (and no
   Debian package, no network) is the documented fallback to scikit-learn's digits,
   announced at the top of every chapter.
4. **Bad arguments.** Every public ``dlbook`` function given a wrong shape, dtype or
   out-of-range argument raises ``ValueError`` or ``TypeError`` with a message naming
   the argument. ``BAD_CALLS`` below is the table: add a row for each new function.

Drills 1 and 2 build the book twice from scratch and are marked ``slow`` (CI runs them;
``pytest -m "not slow"`` leaves them out).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import dlbook
from dlbook import (
    activations,
    augment,
    autograd,
    build,
    claims,
    data,
    device,
    generalization,
    gradients,
    layers,
    losses,
    models,
    optim,
    pages,
    passes,
    precision,
    regularization,
    reproducibility,
    schedules,
    train,
    tuning,
    validation,
)

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

#: Bring the loopback interface up inside a fresh network namespace (it starts down,
#: and Jupyter kernels talk to the build over 127.0.0.1), then become the given command.
_LOOPBACK_UP = """
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ifreq = struct.pack("16sH", b"lo", 0)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, ifreq))[1]          # SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))          # SIOCSIFFLAGS |= IFF_UP
os.execv(sys.argv[1], sys.argv[1:])
"""


# --------------------------------------------------------------------------- 1 + 2: two clean builds


def offline_prefix() -> list[str] | None:
    """A command prefix that runs a program with no network but loopback, or ``None`` if this machine cannot."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for flags in (["-n"], ["--net", "--map-root-user"]):  # as root; else in a user namespace
        prefix = [unshare, *flags, sys.executable, "-c", _LOOPBACK_UP]
        probe = "import socket, sys\ntry:\n    socket.create_connection(('1.1.1.1', 443), timeout=3)\nexcept OSError:\n    sys.exit(0)\nsys.exit(1)"
        try:
            result = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            return prefix
    return None


def copy_repository(dest: Path) -> Path:
    """Copy the working tree's tracked and untracked-but-not-ignored files (no _build, no cache) to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


#: Execute every chapter into the build's cache as ``make book`` does, without rendering the book.
_EXECUTE_ONLY = """
import sys
from dlbook.build import execute_in_parallel, prepare_build
prepare_build(".")
counts = execute_in_parallel(".")
print(counts)
sys.exit(1 if counts["excepted"] or counts["errored"] else 0)
"""


def timed_build(book: Path, env: dict, prefix: list[str] = (), *, render: bool = True) -> tuple[float, str]:
    start = time.perf_counter()
    command = ["-m", "dlbook", "build"] if render else ["-c", _EXECUTE_ONLY]
    result = subprocess.run(
        [*prefix, sys.executable, *command],  # as make book builds: chapters in parallel, then -W -n
        cwd=book, env=env, capture_output=True, text=True, timeout=3600,
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"build in {book} failed:\n{log[-5000:]}"
    return seconds, log


@pytest.fixture(scope="module")
def clean_builds(tmp_path_factory):
    """The book built twice from scratch in fresh copies: offline (``unshare -n``) and normally."""
    if not JUPYTER_BOOK.exists():
        pytest.skip("jupyter-book is not installed beside this Python")
    prefix = offline_prefix()
    if prefix is None:
        pytest.skip("cannot cut the network off here: `unshare -n` (as root) and "
                    "`unshare --net --map-root-user` (user namespaces) both failed")
    base = tmp_path_factory.mktemp("clean-builds")
    empty_data = base / "no-data"  # no Fashion-MNIST files, no Debian package: the documented fallback
    empty_data.mkdir()
    builds = {}
    for name in ("offline", "online"):
        book = copy_repository(base / name)
        env = dict(os.environ, DLBOOK_DATA=str(empty_data), DLBOOK_SYSTEM_DATA=str(empty_data),
                   PYTHONPATH=str(book / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("DLBOOK_OFFLINE", None)
        env.pop("DLBOOK_DATASET", None)
        if name == "online":
            env["DLBOOK_DATASET"] = "digits"  # or, with a network, it downloads Fashion-MNIST
        offline = name == "offline"
        seconds, log = timed_build(book, env, prefix if offline else (), render=offline)
        print(f"clean build on the digits, {name}: {seconds:.1f} s")
        builds[name] = {"book": book, "seconds": seconds, "log": log, "data_dir": empty_data}
    return builds


@pytest.mark.slow
def test_the_book_builds_offline_on_the_fallback_data(clean_builds):
    log = clean_builds["offline"]["log"]
    executed = sorted((clean_builds["offline"]["book"] / "_build" / "jupyter_execute").rglob("*.ipynb"))
    assert len(executed) >= 15, f"only {len(executed)} pages executed offline:\n{log[-3000:]}"


def executed_notebooks(book: Path) -> dict[str, object]:
    """Each page's executed notebook in the build's jupyter-cache (``"book/01-gradients"`` → notebook)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(book / ".jupyter_cache"))
    notebooks = {}
    for record in cache.list_project_records():
        cached = cache.get_cached_project_nb(record.pk)
        if cached is not None:
            page = Path(record.uri).resolve().relative_to(book.resolve()).with_suffix("").as_posix()
            notebooks[page] = cache.get_cache_bundle(cached.pk).nb
    return notebooks


def glued_values(book: Path) -> dict[str, dict]:
    """Every glued value of an execution (read from the executed notebooks as myst-nb reads them), except
    times, sources and figures.

    A claim (:mod:`dlbook.claims`) becomes its verdict: key, claim and holds.
    """
    from myst_nb.ext.glue import extract_glue_data_cell

    values = {}
    for page, nb in sorted(executed_notebooks(book).items()):
        glued = [pair for cell in nb.cells if cell.cell_type == "code" for pair in extract_glue_data_cell(cell)]
        for name, output in glued:
            mimes = output.get("data", {})
            if name.startswith(("time_", "source_")) or any(m.startswith("image/") for m in mimes):
                continue
            if claims.CLAIM_MIME in mimes:
                record = mimes[claims.CLAIM_MIME]
                values[f"{page}::{name}"] = {k: record[k] for k in ("key", "claim", "holds")}
            else:
                values[f"{page}::{name}"] = {m: v for m, v in mimes.items() if m.startswith("text/")}
    return values


@pytest.mark.slow
def test_two_clean_builds_glue_identical_values(clean_builds):
    a, b = glued_values(clean_builds["offline"]["book"]), glued_values(clean_builds["online"]["book"])
    assert a, "no glued values found: did the builds execute?"
    assert a.keys() == b.keys()
    differ = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert not differ, (
        "glued values differ between two clean builds (name them time_... if they are timings, "
        "source_... if they say where the data came from):\n"
        + "\n".join(f"  {k}: {x} != {y}" for k, (x, y) in list(differ.items())[:20]))


@pytest.mark.slow
def test_a_build_on_the_digits_says_so_in_a_warning_box_on_every_executed_page(clean_builds):
    """On the rendered pages of the offline build, and in the executed notebooks of both."""
    for name in ("offline", "online"):
        book = clean_builds[name]["book"]
        notebooks = executed_notebooks(book)
        assert len(notebooks) >= 15, f"{name}: only {sorted(notebooks)} executed"
        for page, nb in notebooks.items():
            texts = [json.dumps(output.get("data", {}), ensure_ascii=False)
                     for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
            if name == "offline":
                texts.append((book / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8"))
            stamped = [t for t in texts if "This page executed" in t]
            if not stamped:
                continue  # a page with code but no data (none today); every chapter loads data
            for text in stamped:
                assert 'admonition warning dlbook-fallback' in text, f"{name}: {page}"
                assert "Not the book&#x27;s dataset" in text or "Not the book's dataset" in text, f"{name}: {page}"
                if name == "offline":
                    assert "No Fashion-MNIST files" in text and "no network" in text, f"{name}: {page}"
            assert not any(str(clean_builds[name]["data_dir"]) in t for t in texts), f"{page} shows a path of the build machine"


# --------------------------------------------------------------------------- 3: bad data


def write_tiny_set(root: Path, dataset: str, n: int = 12) -> Path:
    g = torch.Generator().manual_seed(0)
    for train_split in (True, False):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
        raw = data.write_mnist(root, images, labels, train=train_split, dataset=dataset)
    return raw


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist"])
@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "wrong_ndim"])
@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_damaged_data_file_is_an_error_naming_the_file_and_the_fix(tmp_path, monkeypatch, name, damage, dataset):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    # Fashion-MNIST: the default "auto" choice, which must not fall back silently to the digits
    # (the files are there, but broken); MNIST: the one setting away.
    if dataset == "mnist":
        monkeypatch.setenv("DLBOOK_DATASET", "mnist")
    else:
        monkeypatch.delenv("DLBOOK_DATASET", raising=False)
    path = write_tiny_set(tmp_path, dataset) / name
    content = path.read_bytes()
    path.write_bytes({
        "truncate": content[: len(content) // 2],
        "empty": b"",
        "garbage": b"<html>503 Service Unavailable</html>",
        "wrong_ndim": content[:3] + bytes([content[3] + 1]) + content[4:],
    }[damage])
    with pytest.raises(data.DataError) as info:
        dlbook.data.load_dataset()
    message = str(info.value)
    assert str(path) in message, message
    assert "Delete it" in message and "re-download" in message and "DLBOOK_DATA" in message, message


def test_a_missing_data_directory_falls_back_to_the_digits_and_the_stamp_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    monkeypatch.delenv("DLBOOK_DATASET", raising=False)
    missing = tmp_path / "does-not-exist"
    monkeypatch.setenv("DLBOOK_DATA", str(missing))
    monkeypatch.setenv("DLBOOK_SYSTEM_DATA", str(missing))
    splits = dlbook.data.load_dataset()
    assert splits.name == "digits" and len(splits.x_train) == 1079
    box = pages.stamp(splits, torch.device("cpu"))
    assert box.warning and "No Fashion-MNIST files" in box.warning and "8×8 digits" in box.warning, box.data
    html = box._repr_html_()
    assert 'class="admonition warning dlbook-fallback"' in html and str(missing) not in html


def test_forcing_mnist_without_files_or_network_is_an_error_naming_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    with pytest.raises(data.DataError, match="MNIST file missing: .*train-images-idx3-ubyte"):
        dlbook.data.load_dataset("mnist", tmp_path)


# --------------------------------------------------------------------------- 4: bad arguments

_x = torch.randn(8, 4)
_y = torch.randint(0, 3, (8,))
_model = nn.Sequential(nn.Linear(4, 3))
_logits = torch.randn(8, 3)
_splits = data.load_digits()


def _opt():
    return torch.optim.SGD(_model.parameters(), lr=0.1)


def _gap(reason: str):
    """A row dlbook does not pass yet: expected to fail until its module validates the argument."""
    return pytest.mark.xfail(strict=True, reason=f"not validated yet: {reason}")


#: The table: (id, call, expected exception, word the message must contain[, marks]).
#: ``call`` is a zero-argument function making one bad call. Add rows for new modules
#: (losses, optim, activations, layers, schedules, tuning) as they land.
BAD_CALLS = [
    # dlbook.data
    ("data.BatchIterator/batch_size=0", lambda: data.BatchIterator(_x, batch_size=0), ValueError, "batch_size"),
    # Rows marked "unified" raised ValueError before dlbook.validation: a float, bool or string where an
    # integer (or a string) belongs is a wrong *type*, a TypeError in every module now.
    ("data.BatchIterator/batch_size=2.5", lambda: data.BatchIterator(_x, batch_size=2.5), TypeError, "batch_size"),  # unified
    ("data.BatchIterator/lengths differ", lambda: data.BatchIterator(_x, _y[:5], batch_size=2), ValueError, "tensors"),
    ("data.BatchIterator/not a tensor", lambda: data.BatchIterator([1, 2, 3], batch_size=2), TypeError, "tensor"),
    ("data.BatchIterator/no tensors", lambda: data.BatchIterator(batch_size=2), ValueError, "tensors"),
    ("data.write_idx/float dtype", lambda: data.write_idx("/tmp/never-written", torch.zeros(2)), TypeError, "dtype"),
    ("data.write_idx/0-d", lambda: data.write_idx("/tmp/never-written", np.uint8(3)), ValueError, "array"),
    ("data.write_mnist/images 2-d", lambda: data.write_mnist("/tmp/never-written", torch.zeros(2, 784, dtype=torch.uint8), torch.zeros(2, dtype=torch.uint8), train=True), ValueError, "images"),
    ("data.write_mnist/labels 2-d", lambda: data.write_mnist("/tmp/never-written", torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(2, 1, dtype=torch.uint8), train=True), ValueError, "labels"),
    ("data.write_mnist/float images", lambda: data.write_mnist("/tmp/never-written", torch.zeros(2, 28, 28), torch.zeros(2, dtype=torch.uint8), train=True), TypeError, "images"),
    ("data.network_available/timeout=0", lambda: data.network_available(timeout=0), ValueError, "timeout"),
    ("data.load_dataset/name", lambda: data.load_dataset("cifar"), ValueError, "name"),
    ("data.resolve_dataset/name", lambda: data.resolve_dataset("emnist"), ValueError, "name"),
    ("data.mnist_available/dataset", lambda: data.mnist_available("/tmp", "cifar"), ValueError, "dataset"),
    ("data.write_mnist/dataset", lambda: data.write_mnist("/tmp/never-written", torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.uint8), train=True, dataset="kmnist"), ValueError, "dataset"),
    # dlbook.claims
    ("claims.compare/one seed", lambda: claims.compare([0.9], [0.8]), ValueError, "a"),
    ("claims.compare/unequal seeds", lambda: claims.compare([0.9, 0.8], [0.8, 0.7, 0.6]), ValueError, "seed"),
    ("claims.compare/not numbers", lambda: claims.compare(0.9, [0.8, 0.7]), TypeError, "a"),
    ("claims.compare/nan", lambda: claims.compare([0.9, float("nan")], [0.8, 0.7]), ValueError, "non-finite"),
    ("claims.summarize/one value", lambda: claims.summarize([1.0]), ValueError, "values"),
    ("claims.check/key", lambda: claims.check("Bad Key", True, "c", "e"), ValueError, "key"),
    ("claims.check/holds a number", lambda: claims.check("k", 0.5, "c", "e"), TypeError, "holds"),
    ("claims.check/empty claim", lambda: claims.check("k", True, " ", "e"), ValueError, "claim"),
    ("claims.check/empty evidence", lambda: claims.check("k", True, "c", ""), ValueError, "evidence"),
    ("claims.erratum/verdict", lambda: claims.erratum("k", "a", "mostly", "b"), ValueError, "verdict"),
    ("claims.erratum/key", lambda: claims.erratum("K K", "a", "true", "b"), ValueError, "key"),
    ("data.Splits.subset/n_train=0", lambda: _splits.subset(0), ValueError, "n_train"),
    ("data.Splits.subset/n_train too large", lambda: _splits.subset(10**6), ValueError, "n_train"),
    ("data.Splits.subset/n_train=2.5", lambda: _splits.subset(2.5), TypeError, "n_train"),  # unified
    ("data.Splits.to/device", lambda: _splits.to("tpu"), ValueError, "device"),
    ("data.load_digits/seed=1.5", lambda: data.load_digits(seed=1.5), TypeError, "seed"),  # unified
    ("data.load_digits/seed=2**32", lambda: data.load_digits(seed=2**32), ValueError, "seed"),
    ("data.BatchIterator/seed=2**32", lambda: data.BatchIterator(_x, batch_size=2, seed=2**32), ValueError, "seed"),  # was accepted up to 2**63: one rule for seeds
    ("data.BatchIterator/generator", lambda: data.BatchIterator(_x, batch_size=2, generator=0), TypeError, "generator"),
    # dlbook.models
    ("models.mlp/one size", lambda: models.mlp([784]), ValueError, "sizes"),
    ("models.mlp/zero width", lambda: models.mlp([784, 0, 10]), ValueError, "sizes"),
    ("models.mlp/float width", lambda: models.mlp([784, 12.5, 10]), TypeError, "sizes"),  # unified
    ("models.mlp/sizes not a sequence", lambda: models.mlp(784), TypeError, "sizes"),
    ("models.initialize/seed=-1", lambda: models.initialize(nn.Linear(2, 2), seed=-1), ValueError, "seed"),
    ("models.initialize/not a model", lambda: models.initialize("mlp"), TypeError, "model"),
    ("models.mlp/activation name", lambda: models.mlp([4, 2], activation="swish"), ValueError, "activation"),
    ("models.mlp/activation type", lambda: models.mlp([4, 2], activation=3), TypeError, "activation"),
    ("models.mlp/dropout=1", lambda: models.mlp([4, 2], dropout=1.0), ValueError, "dropout"),
    ("models.mlp/dropout<0", lambda: models.mlp([4, 2], dropout=-0.1), ValueError, "dropout"),
    ("models.count_parameters/not a model", lambda: models.count_parameters("model"), TypeError, "model"),
    ("models.initialize/scheme", lambda: models.initialize(nn.Linear(2, 2), "orthogonal"), ValueError, "scheme"),
    ("models.initialize/scale=0", lambda: models.initialize(nn.Linear(2, 2), scale=0), ValueError, "scale"),
    ("models.initialize/scale=nan", lambda: models.initialize(nn.Linear(2, 2), scale=float("nan")), ValueError, "scale"),
    # dlbook.train
    ("train.fit/epochs=0", lambda: train.fit(_model, _opt(), (_x, _y), epochs=0), ValueError, "epochs"),
    ("train.fit/batch_size=-1", lambda: train.fit(_model, _opt(), (_x, _y), batch_size=-1), ValueError, "batch_size"),
    ("train.fit/drop_last leaves nothing", lambda: train.fit(_model, _opt(), (_x, _y), batch_size=9, drop_last=True), ValueError, "batch_size"),
    ("train.fit/patience=0", lambda: train.fit(_model, _opt(), (_x, _y), (_x, _y), patience=0), ValueError, "patience"),
    ("train.fit/patience without val", lambda: train.fit(_model, _opt(), (_x, _y), patience=2), ValueError, "patience"),
    ("train.EarlyStopping/patience=0", lambda: train.EarlyStopping(0), ValueError, "patience"),
    ("train.EarlyStopping/patience=1.5", lambda: train.EarlyStopping(1.5), TypeError, "patience"),
    ("train.fit/optimizer", lambda: train.fit(_model, "sgd", (_x, _y)), TypeError, "optimizer"),
    ("train.fit/train not a pair", lambda: train.fit(_model, _opt(), _x), TypeError, "train"),
    ("train.fit/train lengths differ", lambda: train.fit(_model, _opt(), (_x, _y[:5])), ValueError, "train"),
    ("train.fit/val lengths differ", lambda: train.fit(_model, _opt(), (_x, _y), (_x, _y[:5])), ValueError, "val"),
    ("train.fit/empty train", lambda: train.fit(_model, _opt(), (_x[:0], _y[:0])), ValueError, "train"),
    ("train.evaluate/data lengths differ", lambda: train.evaluate(_model, (_x, _y[:3])), ValueError, "data"),
    ("train.evaluate/batch_size=0", lambda: train.evaluate(_model, (_x, _y), batch_size=0), ValueError, "batch_size"),
    ("train.History.final/metric", lambda: train.History(train_loss=[1.0]).final("accuracy"), ValueError, "metric"),
    ("train.History.plot/metric", lambda: train.History(train_loss=[1.0]).plot("accuracy"), ValueError, "metric"),
    ("train.History.best_epoch/empty", lambda: train.History().best_epoch, ValueError, "epoch"),
    ("train.fit/epochs=2.0", lambda: train.fit(_model, _opt(), (_x, _y), epochs=2.0), TypeError, "epochs"),
    ("train.fit/seed=2**32", lambda: train.fit(_model, _opt(), (_x, _y), seed=2**32), ValueError, "seed"),
    ("train.fit/loss_fn", lambda: train.fit(_model, _opt(), (_x, _y), loss_fn="mse"), TypeError, "loss_fn"),
    ("train.fit/scheduler_step", lambda: train.fit(_model, _opt(), (_x, _y), scheduler_step="step"), ValueError, "scheduler_step"),
    ("train.fit/scheduler without step", lambda: train.fit(_model, _opt(), (_x, _y), scheduler=0.5), TypeError, "scheduler"),
    ("train.fit/plateau per batch", lambda: train.fit(_model, _opt(), (_x, _y), scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(_opt()), scheduler_step="batch"), ValueError, "scheduler_step"),
    ("train.train_steps/batch_size=0", lambda: train.train_steps(_model, _opt(), (_x, _y), batch_size=0), ValueError, "batch_size"),
    ("train.train_steps/optimizer", lambda: train.train_steps(_model, "sgd", (_x, _y)), TypeError, "optimizer"),
    # dlbook.gradients
    ("gradients.numerical_gradient/x list", lambda: gradients.numerical_gradient(sum, [1.0, 2.0]), TypeError, "invalid x"),
    ("gradients.numerical_gradient/x int dtype", lambda: gradients.numerical_gradient(lambda v: v.sum(), torch.tensor([1, 2])), TypeError, "dtype"),
    ("gradients.numerical_gradient/eps=0", lambda: gradients.numerical_gradient(lambda v: v.sum(), torch.ones(2), eps=0), ValueError, "eps"),
    ("gradients.numerical_gradient/f not scalar", lambda: gradients.numerical_gradient(lambda v: v * 2, torch.ones(2, dtype=torch.float64)), ValueError, "invalid f"),
    ("gradients.gradient_descent/lr<0", lambda: gradients.gradient_descent(lambda v: v.sum(), torch.ones(1), lr=-1, steps=2), ValueError, "learning rate"),
    ("gradients.gradient_descent/lr=nan", lambda: gradients.gradient_descent(lambda v: v.sum(), torch.ones(1), lr=float("nan"), steps=2), ValueError, "learning rate"),
    ("gradients.gradient_descent/steps<0", lambda: gradients.gradient_descent(lambda v: v.sum(), torch.ones(1), lr=0.1, steps=-1), ValueError, "steps"),
    ("gradients.gradient_descent/x0 int dtype", lambda: gradients.gradient_descent(lambda v: v.sum(), torch.tensor([1]), lr=0.1, steps=1), TypeError, "x0"),
    ("gradients.layer_gradient_norms/no Linear", lambda: gradients.layer_gradient_norms(nn.ReLU(), _x, _y), ValueError, "model"),
    ("gradients.dead_relu_fraction/no ReLU", lambda: gradients.dead_relu_fraction(nn.Linear(4, 3), _x), ValueError, "model"),
    ("gradients.hessian_top_eigenvalue/loss_fn not callable", lambda: gradients.hessian_top_eigenvalue(1.0, _model.parameters()), TypeError, "loss_fn"),
    ("gradients.hessian_top_eigenvalue/loss not scalar", lambda: gradients.hessian_top_eigenvalue(lambda: _model(_x), _model.parameters()), ValueError, "loss_fn"),
    ("gradients.hessian_top_eigenvalue/params empty", lambda: gradients.hessian_top_eigenvalue(lambda: _model(_x).sum(), []), ValueError, "params"),
    ("gradients.hessian_top_eigenvalue/params no grad", lambda: gradients.hessian_top_eigenvalue(lambda: _x.sum(), [_x]), ValueError, "params"),
    ("gradients.hessian_top_eigenvalue/iters=0", lambda: gradients.hessian_top_eigenvalue(lambda: _model(_x).sum(), _model.parameters(), iters=0), ValueError, "iters"),
    ("gradients.hessian_top_eigenvalue/tol<0", lambda: gradients.hessian_top_eigenvalue(lambda: _model(_x).sum(), _model.parameters(), tol=-1.0), ValueError, "tol"),
    ("gradients.hessian_top_eigenvalue/seed float", lambda: gradients.hessian_top_eigenvalue(lambda: _model(_x).sum(), _model.parameters(), seed=0.5), TypeError, "seed"),
    # dlbook.autograd
    ("autograd.Value/str", lambda: autograd.Value("3"), TypeError, "data"),
    ("autograd.Value/bool", lambda: autograd.Value(True), TypeError, "data"),
    ("autograd.Value.__pow__/Value exponent", lambda: autograd.Value(2.0) ** autograd.Value(2.0), TypeError, "exponent"),
    ("autograd.Value.__pow__/str exponent", lambda: autograd.Value(2.0) ** "2", TypeError, "exponent"),
    ("autograd.Value.log/0", lambda: autograd.Value(0.0).log(), ValueError, "log"),
    ("autograd.Value.__truediv__/0", lambda: autograd.Value(1.0) / 0, ZeroDivisionError, "division"),
    ("autograd.Value.__add__/str", lambda: autograd.Value(1.0) + "1", TypeError, "data"),
    # dlbook.losses
    ("losses.cross_entropy/reduction", lambda: losses.cross_entropy(_logits, _y, reduction="avg"), ValueError, "reduction"),
    ("losses.cross_entropy/target out of range", lambda: losses.cross_entropy(_logits, _y + 3), ValueError, "target"),
    ("losses.cross_entropy/float target", lambda: losses.cross_entropy(_logits, _y.float()), TypeError, "target"),
    ("losses.cross_entropy/1-d logits", lambda: losses.cross_entropy(_logits[0], _y[:1]), ValueError, "logits"),
    ("losses.cross_entropy/batch mismatch", lambda: losses.cross_entropy(_logits, _y[:5]), ValueError, "target"),
    ("losses.log_softmax/int", lambda: losses.log_softmax(torch.tensor([1, 2])), TypeError, "logits"),
    ("losses.mse_loss/shape mismatch", lambda: losses.mse_loss(_x, _x[:, :2]), ValueError, "shape"),
    ("losses.mse_loss/reduction", lambda: losses.mse_loss(_x, _x, reduction="max"), ValueError, "reduction"),
    ("losses.l1_loss/shape mismatch", lambda: losses.l1_loss(_x, _x[:3]), ValueError, "shape"),
    ("losses.binary_cross_entropy/probability > 1", lambda: losses.binary_cross_entropy(_x.abs() + 1, torch.ones(8, 4)), ValueError, "probs"),
    ("losses.binary_cross_entropy/shape mismatch", lambda: losses.binary_cross_entropy(torch.rand(8), torch.ones(4)), ValueError, "shape"),
    ("losses.binary_cross_entropy_with_logits/reduction", lambda: losses.binary_cross_entropy_with_logits(_x, _x, reduction=None), ValueError, "reduction"),
    ("losses.binary_cross_entropy/target > 1", lambda: losses.binary_cross_entropy(torch.full((2,), 0.5), torch.full((2,), 2.0)), ValueError, "target"),
    ("losses.mse_loss/target not a tensor", lambda: losses.mse_loss(_x, 0.0), TypeError, "target"),
    # dlbook.optim
    ("optim.SGD/lr<0", lambda: optim.SGD(_model.parameters(), lr=-0.1), ValueError, "learning rate"),
    ("optim.SGD/momentum<0", lambda: optim.SGD(_model.parameters(), lr=0.1, momentum=-1), ValueError, "momentum"),
    ("optim.SGD/nesterov without momentum", lambda: optim.SGD(_model.parameters(), lr=0.1, nesterov=True), ValueError, "nesterov"),
    ("optim.SGD/weight_decay<0", lambda: optim.SGD(_model.parameters(), lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
    ("optim.Adam/beta1=1", lambda: optim.Adam(_model.parameters(), betas=(1.0, 0.999)), ValueError, "beta"),
    ("optim.Adam/eps<0", lambda: optim.Adam(_model.parameters(), eps=-1e-8), ValueError, "epsilon"),
    ("optim.AdamW/lr<0", lambda: optim.AdamW(_model.parameters(), lr=-1), ValueError, "learning rate"),
    ("optim.AdamW/weight_decay<0", lambda: optim.AdamW(_model.parameters(), weight_decay=-0.1), ValueError, "weight_decay"),
    ("optim.RMSprop/alpha<0", lambda: optim.RMSprop(_model.parameters(), alpha=-0.5), ValueError, "alpha"),
    ("optim.RMSprop/momentum<0", lambda: optim.RMSprop(_model.parameters(), momentum=-0.5), ValueError, "momentum"),
    ("optim.state_nbytes/not an optimizer", lambda: optim.state_nbytes("adam"), TypeError, "optimizer"),
    ("optim.trajectory/steps<0", lambda: optim.trajectory(optim.SGD, lambda p: (p ** 2).sum(), torch.ones(2), -1, lr=0.1), ValueError, "steps"),
    ("optim.SGD/lr=nan", lambda: optim.SGD(_model.parameters(), lr=float("nan")), ValueError, "learning rate"),
    ("optim.Adam/lr str", lambda: optim.Adam(_model.parameters(), lr="0.1"), TypeError, "learning rate"),
    ("optim.Adam/betas not a pair", lambda: optim.Adam(_model.parameters(), betas=0.9), TypeError, "betas"),
    # dlbook.activations
    ("activations.leaky_relu/slope str", lambda: activations.leaky_relu(_x, negative_slope="0.1"), TypeError, "negative_slope"),
    ("activations.gelu/approximate", lambda: activations.gelu(_x, approximate="fast"), ValueError, "approximate"),
    ("activations.relu/not a tensor", lambda: activations.relu([1.0, -1.0]), TypeError, "x"),
    ("activations.sigmoid/int tensor", lambda: activations.sigmoid(torch.tensor([1, 2])), TypeError, "x"),
    ("activations.as_layer/name", lambda: activations.as_layer("swish"), ValueError, "activation"),
    ("activations.as_layer/not callable", lambda: activations.as_layer(0.5), TypeError, "activation"),
    ("activations.as_layer/factory of a non-module", lambda: activations.as_layer(lambda: "relu"), TypeError, "activation"),
    ("activations.Activation/not callable", lambda: activations.Activation("relu"), TypeError, "fn"),
    # dlbook.layers
    ("layers.Dropout/p>1", lambda: layers.Dropout(1.5), ValueError, "p"),
    ("layers.Dropout/p<0", lambda: layers.Dropout(-0.1), ValueError, "p"),
    ("layers.BatchNorm1d/num_features=0", lambda: layers.BatchNorm1d(0), ValueError, "num_features"),
    ("layers.BatchNorm1d/eps<0", lambda: layers.BatchNorm1d(4, eps=-1e-5), ValueError, "eps"),
    ("layers.BatchNorm1d/wrong width", lambda: layers.BatchNorm1d(5)(_x), ValueError, "shape"),
    ("layers.LayerNorm/shape", lambda: layers.LayerNorm(0), ValueError, "normalized_shape"),
    ("layers.LayerNorm/wrong trailing shape", lambda: layers.LayerNorm(5)(_x), ValueError, "shape"),
    ("layers.LayerNorm/float shape", lambda: layers.LayerNorm(2.5), TypeError, "normalized_shape"),
    ("layers.BatchNorm1d/momentum str", lambda: layers.BatchNorm1d(4, momentum="0.1"), TypeError, "momentum"),
    ("layers.Dropout/p str", lambda: layers.Dropout("0.5"), TypeError, "dropout probability"),
    # dlbook.schedules
    ("schedules.step_lr/step_size=0", lambda: schedules.step_lr(3, 0.1, step_size=0), ValueError, "step_size"),
    ("schedules.step_lr/epoch<0", lambda: schedules.step_lr(-1, 0.1, step_size=2), ValueError, "epoch"),
    ("schedules.exponential_lr/base_lr<0", lambda: schedules.exponential_lr(1, -0.1, gamma=0.9), ValueError, "learning rate"),
    ("schedules.cosine_annealing_lr/t_max=0", lambda: schedules.cosine_annealing_lr(1, 0.1, t_max=0), ValueError, "t_max"),
    ("schedules.linear_warmup/warmup_steps=0", lambda: schedules.linear_warmup(1, 0.1, warmup_steps=0), ValueError, "warmup_steps"),
    ("schedules.multistep_lr/milestone<0", lambda: schedules.multistep_lr(3, 0.1, milestones=[2, -1]), ValueError, "milestones"),
    ("schedules.multistep_lr/milestones int", lambda: schedules.multistep_lr(3, 0.1, milestones=5), TypeError, "milestones"),
    ("schedules.multistep_lr/gamma=0", lambda: schedules.multistep_lr(3, 0.1, milestones=[2], gamma=0.0), ValueError, "gamma"),
    ("schedules.polynomial_lr/total_iters=0", lambda: schedules.polynomial_lr(1, 0.1, total_iters=0), ValueError, "total_iters"),
    ("schedules.polynomial_lr/power<0", lambda: schedules.polynomial_lr(1, 0.1, total_iters=5, power=-1.0), ValueError, "power"),
    ("schedules.inverse_sqrt_lr/warmup_steps=0", lambda: schedules.inverse_sqrt_lr(1, 0.1, warmup_steps=0), ValueError, "warmup_steps"),
    ("schedules.inverse_sqrt_lr/step float", lambda: schedules.inverse_sqrt_lr(1.5, 0.1, warmup_steps=4), TypeError, "step"),
    ("schedules.one_cycle_lr/step>total_steps", lambda: schedules.one_cycle_lr(11, 0.1, total_steps=10), ValueError, "step"),
    ("schedules.one_cycle_lr/pct_start>1", lambda: schedules.one_cycle_lr(0, 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    ("schedules.one_cycle_lr/zero-length phase", lambda: schedules.one_cycle_lr(0, 0.1, total_steps=10, pct_start=0.1), ValueError, "pct_start"),
    ("schedules.one_cycle_lr/anneal_strategy", lambda: schedules.one_cycle_lr(0, 0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    ("schedules.one_cycle_lr/div_factor=0", lambda: schedules.one_cycle_lr(0, 0.1, total_steps=10, div_factor=0.0), ValueError, "div_factor"),
    ("tuning.lr_find/start >= end", lambda: tuning.lr_find(_model, _opt(), (_x, _y), start_lr=1.0, end_lr=0.1), ValueError, "lr"),
    ("tuning.lr_find/num_steps=1", lambda: tuning.lr_find(_model, _opt(), (_x, _y), num_steps=1), ValueError, "num_steps"),
    ("tuning.lr_find/smoothing=1", lambda: tuning.lr_find(_model, _opt(), (_x, _y), smoothing=1.0), ValueError, "smoothing"),
    # dlbook.augment
    ("augment.random_affine/image_shape", lambda: augment.random_affine((8,)), ValueError, "image_shape"),
    ("augment.random_affine/degrees<0", lambda: augment.random_affine((8, 8), degrees=-5), ValueError, "degrees"),
    ("augment.RowTransform/not callable", lambda: augment.RowTransform("flip", (8, 8)), TypeError, "transform"),
    ("augment.RowTransform/generator", lambda: augment.RowTransform(lambda x: x, (8, 8), generator=0), TypeError, "generator"),
    ("augment.RowTransform/rows not a tensor", lambda: augment.RowTransform(lambda x: x, (2, 2))([[0.0] * 4]), TypeError, "rows"),
    ("augment.random_affine/translate>1", lambda: augment.random_affine((8, 8), translate=1.5), ValueError, "translate"),
    ("augment.random_affine/degrees str", lambda: augment.random_affine((8, 8), degrees="10"), TypeError, "degrees"),
    # dlbook.passes
    ("passes.accumulate_gradients/micro_batch_size=0", lambda: passes.accumulate_gradients(_model, nn.functional.cross_entropy, _x, _y, 0), ValueError, "micro_batch_size"),
    ("passes.accumulate_gradients/lengths differ", lambda: passes.accumulate_gradients(_model, nn.functional.cross_entropy, _x, _y[:3], 2), ValueError, "y"),
    ("passes.saved_tensors/not a tensor", lambda: passes.saved_tensors([1.0]), TypeError, "output"),
    ("passes.accumulate_gradients/x not a tensor", lambda: passes.accumulate_gradients(_model, nn.functional.cross_entropy, [[0.0] * 4], _y[:1], 1), TypeError, "x"),
    # dlbook.generalization
    ("generalization.polynomial_features/degree<0", lambda: generalization.polynomial_features(torch.ones(3), -1), ValueError, "degree"),
    ("generalization.fit_polynomial/lengths differ", lambda: generalization.fit_polynomial(torch.ones(3), torch.ones(4), 1), ValueError, "y"),
    ("generalization.decompose/shape", lambda: generalization.decompose(torch.ones(3), torch.ones(4)), ValueError, "shape"),
    ("generalization.bias_variance_experiment/n_sets=1", lambda: generalization.bias_variance_experiment(torch.sin, 2, n_sets=1), ValueError, "n_sets"),
    # dlbook.tuning
    ("tuning.grid_search/empty space", lambda: tuning.grid_search(lambda p: 0.0, {}), ValueError, "space"),
    ("tuning.grid_search/range without points", lambda: tuning.grid_search(lambda p: 0.0, {"lr": ("log", 1e-4, 1e-1)}), ValueError, "points"),
    ("tuning.random_search/n_trials=0", lambda: tuning.random_search(lambda p: 0.0, {"w": [1, 2]}, 0), ValueError, "n_trials"),
    ("tuning.random_search/low>=high", lambda: tuning.random_search(lambda p: 0.0, {"x": ("uniform", 1.0, 0.0)}, 3), ValueError, "low"),
    ("tuning.random_search/unknown kind", lambda: tuning.random_search(lambda p: 0.0, {"x": ("normal", 0.0, 1.0)}, 3), ValueError, "kind"),
    ("tuning.tpe_search/log low<=0", lambda: tuning.tpe_search(lambda p: 0.0, {"x": ("log", 0, 1)}, 3), ValueError, "low"),
    ("tuning.tpe_search/direction", lambda: tuning.tpe_search(lambda p: 0.0, {"w": [1]}, 3, direction="up"), ValueError, "direction"),
    ("tuning.grid_values/points=0", lambda: tuning.grid_values(("uniform", 0.0, 1.0), 0), ValueError, "points"),
    # dlbook.pages, dlbook.build
    ("pages.table/row length", lambda: pages.table([[1, 2]], ["only one"]), ValueError, "rows"),
    ("pages.table/formats length", lambda: pages.table([[1]], ["a"], [None, None]), ValueError, "formats"),
    ("pages.table/format spec", lambda: pages.table([[1]], ["a"], [".3q"]), ValueError, "formats"),
    ("build.find_chapter/99", lambda: build.find_chapter("99"), ValueError, "chapter"),
    ("build.find_chapter/topic", lambda: build.find_chapter("no-such-topic"), ValueError, "chapter"),
    # dlbook.device
    ("device.get_device/tpu", lambda: device.get_device("tpu"), ValueError, "device"),
    ("device.get_device/int", lambda: device.get_device(3), TypeError, "device"),  # unified
    ("device.describe_device/tpu", lambda: device.describe_device("tpu"), ValueError, "device"),
    ("precision.accumulation_dtype/tpu", lambda: precision.accumulation_dtype("tpu"), ValueError, "device"),
    ("precision.accumulation_dtype/float", lambda: precision.accumulation_dtype(1.5), TypeError, "device"),
    # dlbook.validation
    ("validation.check_real/str", lambda: validation.check_real("lr", "0.1"), TypeError, "lr"),
    ("validation.check_real/below", lambda: validation.check_real("lr", -1.0, low=0), ValueError, "lr"),
    ("validation.check_int/float", lambda: validation.check_int("n", 2.0), TypeError, "n"),
    ("validation.check_seed/2**32", lambda: validation.check_seed(2**32), ValueError, "seed"),
    ("validation.check_choice/unknown", lambda: validation.check_choice("mode", "fast", ("a", "b")), ValueError, "mode"),
    ("validation.check_tensor/list", lambda: validation.check_tensor("x", [1.0]), TypeError, "x"),
    ("validation.check_floating/int tensor", lambda: validation.check_floating("x", torch.tensor([1])), TypeError, "x dtype"),
    ("validation.check_values/cpu", lambda: validation.check_values(torch.tensor([False]), "Invalid target: out of range"), ValueError, "target"),
    # dlbook.reproducibility
    ("reproducibility.seed_everything/-1", lambda: reproducibility.seed_everything(-1), ValueError, "seed"),
    ("reproducibility.seed_everything/2**32", lambda: reproducibility.seed_everything(2**32), ValueError, "seed"),
    ("reproducibility.seed_everything/1.5", lambda: reproducibility.seed_everything(1.5), TypeError, "seed"),  # unified
    ("reproducibility.seed_everything/str", lambda: reproducibility.seed_everything("0"), TypeError, "seed"),  # unified
    # the functions chapters 01-07 added
    ("gradients.clip_grad_norm/max_norm<0", lambda: gradients.clip_grad_norm(nn.Linear(2, 2).parameters(), -1.0), ValueError, "max_norm"),
    ("gradients.clip_grad_norm/max_norm str", lambda: gradients.clip_grad_norm(nn.Linear(2, 2).parameters(), "1"), TypeError, "max_norm"),
    ("optim.Adagrad/lr<0", lambda: optim.Adagrad([torch.zeros(2, requires_grad=True)], lr=-1), ValueError, "learning rate"),
    ("optim.Adagrad/eps<0", lambda: optim.Adagrad([torch.zeros(2, requires_grad=True)], eps=-1), ValueError, "epsilon"),
    ("activations.silu/int dtype", lambda: activations.silu(torch.ones(2, dtype=torch.long)), TypeError, "dtype"),
    ("activations.silu/list", lambda: activations.silu([1.0]), TypeError, "x"),
    ("losses.log_sigmoid/int dtype", lambda: losses.log_sigmoid(torch.ones(2, dtype=torch.long)), TypeError, "dtype"),
    ("generalization.degree_sweep/max_degree<0", lambda: generalization.degree_sweep(torch.sin, -1, n_train=20), ValueError, "max_degree"),
    ("generalization.degree_sweep/n_train=0", lambda: generalization.degree_sweep(torch.sin, 3, n_train=0), ValueError, "n_train"),
    ("layers.BatchNorm2d/num_features=0", lambda: layers.BatchNorm2d(0), ValueError, "num_features"),
    ("layers.BatchNorm2d/momentum str", lambda: layers.BatchNorm2d(4, momentum="0.1"), TypeError, "momentum"),
    ("layers.BatchNorm2d/not an image batch", lambda: layers.BatchNorm2d(4)(torch.randn(8, 4)), ValueError, "shape"),
    ("layers.BatchNorm2d/one value per channel", lambda: layers.BatchNorm2d(4)(torch.zeros(1, 4, 1, 1)), ValueError, "per channel"),
    ("generalization.accuracy_interval/correct>n", lambda: generalization.accuracy_interval(11, 10), ValueError, "correct"),
    ("generalization.accuracy_interval/level=1", lambda: generalization.accuracy_interval(5, 10, level=1.0), ValueError, "level"),
    ("generalization.accuracy_interval/method", lambda: generalization.accuracy_interval(5, 10, method="exact"), ValueError, "method"),
    ("generalization.accuracy_interval/correct float", lambda: generalization.accuracy_interval(5.0, 10), TypeError, "correct"),
    ("generalization.hoeffding_radius/n=0", lambda: generalization.hoeffding_radius(0), ValueError, "n: 0"),
    ("generalization.hoeffding_radius/k=0", lambda: generalization.hoeffding_radius(100, k=0), ValueError, "k: 0"),
    ("generalization.hoeffding_radius/level str", lambda: generalization.hoeffding_radius(100, level="0.95"), TypeError, "level"),
    ("generalization.k_fold_indices/k>n", lambda: generalization.k_fold_indices(3, 4), ValueError, "k: 4"),
    ("generalization.k_fold_indices/k=1", lambda: generalization.k_fold_indices(10, 1), ValueError, "k: 1"),
    ("generalization.k_fold_indices/seed=2**32", lambda: generalization.k_fold_indices(10, 2, seed=2**32), ValueError, "seed"),
    ("regularization.l2_penalty/float", lambda: regularization.l2_penalty([1.0]), TypeError, "parameters"),
    ("regularization.l2_penalty/int dtype", lambda: regularization.l2_penalty(torch.ones(2, dtype=torch.long)), TypeError, "dtype"),
    ("regularization.l1_penalty/empty", lambda: regularization.l1_penalty([]), ValueError, "parameters"),
    ("regularization.soft_threshold/threshold<0", lambda: regularization.soft_threshold(torch.ones(2), -0.1), ValueError, "threshold"),
    ("regularization.decay_groups/not a module", lambda: regularization.decay_groups([1], 0.1), TypeError, "model"),
    ("regularization.decay_groups/weight_decay<0", lambda: regularization.decay_groups(nn.Linear(2, 2), -1), ValueError, "weight_decay"),
]
if not torch.cuda.is_available():
    BAD_CALLS.append(("device.get_device/cuda missing", lambda: device.get_device("cuda"), ValueError, "cuda"))


def _params(rows):
    for row in rows:
        name, call, exc, word, *marks = row
        yield pytest.param(call, exc, word, id=name, marks=marks)


@pytest.fixture(autouse=True)
def _online_checks_are_real(monkeypatch):
    # network_available() answers False before checking its arguments when DLBOOK_OFFLINE is set.
    monkeypatch.delenv("DLBOOK_OFFLINE", raising=False)
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
    monkeypatch.delenv("DLBOOK_DATASET", raising=False)


@pytest.mark.parametrize("call,exception,word", list(_params(BAD_CALLS)))
def test_bad_argument_raises_an_error_naming_it(call, exception, word):
    with pytest.raises(exception) as info:
        call()
    assert word.lower() in str(info.value).lower(), f"{type(info.value).__name__}: {info.value}"


def test_every_public_module_has_rows_in_the_table():
    covered = {row[0].split(".")[0] for row in BAD_CALLS}
    public = {name for name in dlbook.__all__ if not name.startswith("_") and isinstance(getattr(dlbook, name), type(dlbook))}
    public |= {"device", "reproducibility"}
    assert public <= covered, f"no bad-argument rows for {sorted(public - covered)}"
