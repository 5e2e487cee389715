"""How fast the book builds and how fast ``dlbook`` trains, printed as numbers and ratios.

Not a test: run it on the machine you want numbers for (nothing else busy, if you
can) and read its report::

    .venv/bin/python benchmarks/run.py                 # everything (a few minutes)
    .venv/bin/python benchmarks/run.py --skip-build    # only the training loop

(a) **The book build.** The working tree (tracked and untracked, not ignored files) is
    copied twice to temporary directories with no ``_build`` and no ``.jupyter_cache``.
    In one, ``python -m dlbook build --serial`` executes the chapters one at a time (as
    Jupyter Book 1 alone would); each chapter's execution time, read from
    jupyter-cache's records, is then its time alone. In the other, ``python -m dlbook
    build`` (what ``make book`` runs) executes them in parallel first; then the same
    command runs again as a *no-change* rebuild that must be fast.

(b) **One training epoch** of the 784-128-10 MLP at batch size 64 on MNIST-shaped data
    (60,000 rows of 784 ``float32`` values, labels 0-9), three ways:

    * ``dlbook.train.fit`` (1 epoch, no validation), which shuffles with
      :class:`~dlbook.data.BatchIterator` and records loss and accuracy;
    * a *bare loop* over batches sliced in advance: zero_grad, forward, loss, backward,
      step and nothing else. No loop can do the same work with less; it is the floor.
      It does not shuffle, so it is also shown with the usual shuffle (one ``x[perm]``
      gather per epoch) for reference;
    * the usual tutorial path: torchvision's ``MNIST`` dataset with ``ToTensor()`` in a
      ``DataLoader(batch_size=64, shuffle=True)``, reading real IDX files of MNIST's size
      that this script writes with :func:`dlbook.data.write_mnist`.

    ``fit`` and the bare loop alternate, ``--repeats`` times each, and the fastest run
    of each counts: on a shared machine it is the run least disturbed by others.

(c) **A seed study in one model.** Five seeds of the same 784-128-10 MLP, one epoch
    each on the same data, each seed with its own initialization and batch order: five
    models trained one after another, against the five stacked into one with
    ``torch.func.stack_module_state`` and trained together under ``vmap`` (one batched
    matrix product where there were five, one optimizer step over the stacked
    parameters). The two compute the same thing: after their first ten steps the
    report prints the largest difference of the weights, float rounding (over a whole
    epoch such differences grow, as any change of summation order does in training). No target: on a CPU the matrix products dominate and the
    stacking gains little; on a GPU, where a step this small is bound by kernel launches,
    it divides the launches by the number of seeds. It measures whether rewriting the
    chapters' seed studies this way would pay on the machine at hand.

Targets: cold build ≤ 600 s (the parallel one, what ``make book`` does), no chapter over
90 s alone, the parallel cold build ≤ 0.65 × the serial one, no-change rebuild ≤ 15 s,
``fit`` ≤ 1.15 × the bare loop, and ``fit`` ≥ 10 × faster than the torchvision path. The
script exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this working tree's dlbook, not an installed copy

TARGETS = {
    "cold_build_s": 600.0,
    "chapter_s": 90.0,
    "parallel_over_serial": 0.65,
    "rebuild_s": 15.0,
    "fit_over_bare": 1.15,
    "torchvision_over_fit": 10.0,
}


def machine() -> str:
    import torch

    import dlbook

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load}; Python {platform.python_version()}, PyTorch {torch.__version__}, "
        f"device {dlbook.describe_device(dlbook.get_device())}"
    )


# --------------------------------------------------------------------------- (a) the build


def copy_tree(dest: Path) -> None:
    """Copy the working tree's tracked and untracked-but-not-ignored files to ``dest``."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        ignore = shutil.ignore_patterns(".git", ".venv", "_build", ".jupyter_cache", "__pycache__")
        shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)
        return
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def build(book: Path, env: dict, *extra: str) -> float:
    """``python -m dlbook build`` (what ``make book`` runs) in ``book``; its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "dlbook", "build", *extra], cwd=book, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("book build failed:\n" + (result.stdout + result.stderr)[-4000:])
    return seconds


def chapter_times(book: Path) -> dict[str, float]:
    """Execution seconds of each chapter, from jupyter-cache's records."""
    from jupyter_cache import get_cache

    times = {}
    for record in get_cache(book / ".jupyter_cache").list_cache_records():
        times[Path(record.uri).stem] = float(record.data.get("execution_seconds") or 0.0)
    return dict(sorted(times.items()))


def bench_build() -> dict:
    out = {}
    with tempfile.TemporaryDirectory(prefix="dlbook-bench-") as tmp:
        for kind in ("serial", "parallel"):
            book = Path(tmp) / f"book-{kind}"
            copy_tree(book)
            env = dict(os.environ, PYTHONPATH=str(book / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
            print(f"(a) cold {kind} build of a fresh copy in {book} ...", flush=True)
            out[f"{kind}_s"] = build(book, env, *(["--serial"] if kind == "serial" else []))
            if kind == "serial":
                out["chapters"] = chapter_times(book)
        print("    no-change rebuild ...", flush=True)
        out["rebuild_s"] = build(book, env)
    out["cold_build_s"] = out["parallel_s"]
    return out


# --------------------------------------------------------------------------- (b) one epoch


def bench_epoch(device_name: str | None, repeats: int) -> dict:
    import torch
    from torch import nn

    import dlbook
    from dlbook.data import write_mnist
    from dlbook.models import mlp
    from dlbook.train import fit

    device = dlbook.get_device(device_name)
    n, batch = 60_000, 64
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 784, generator=g).to(device)
    y = torch.randint(0, 10, (n,), generator=g).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def new_model():
        torch.manual_seed(0)
        model = mlp([784, 128, 10]).to(device)
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    # The floor: batches made in advance (one shuffle, then slices), the five steps per batch.
    perm = torch.randperm(n, generator=g).to(device)
    xs, ys = x[perm], y[perm]
    batches = [(xs[i : i + batch], ys[i : i + batch]) for i in range(0, n, batch)]

    def bare_epoch() -> float:
        model, opt = new_model()
        sync()
        start = time.perf_counter()
        for xb, yb in batches:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        sync()
        return time.perf_counter() - start

    def shuffled_bare_epoch() -> float:
        """The floor plus the usual in-memory shuffle: one gather of the whole data per epoch."""
        model, opt = new_model()
        sync()
        start = time.perf_counter()
        p = torch.randperm(n, generator=g).to(device)
        xp, yp = x[p], y[p]
        for i in range(0, n, batch):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xp[i : i + batch]), yp[i : i + batch])
            loss.backward()
            opt.step()
        sync()
        return time.perf_counter() - start

    def fit_epoch() -> float:
        model, opt = new_model()
        sync()
        start = time.perf_counter()
        fit(model, opt, (x, y), epochs=1, batch_size=batch, progress=False)
        sync()
        return time.perf_counter() - start

    print(f"(b) one epoch, 784-128-10 MLP, batch {batch}, {n:,} examples, on {device} ...", flush=True)
    bare_epoch(), fit_epoch()  # warm-up: allocator, kernels, lazy imports
    fit_times, bare_times, shuffled_times = [], [], []
    for _ in range(repeats):  # alternate, so that a busy moment of the machine hits all
        bare_times.append(bare_epoch())
        shuffled_times.append(shuffled_bare_epoch())
        fit_times.append(fit_epoch())

    # The tutorial path: IDX files on disk -> torchvision MNIST -> ToTensor per sample -> DataLoader.
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory(prefix="dlbook-bench-mnist-") as root:
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
        write_mnist(root, images, labels, train=True)
        write_mnist(root, images[:10_000], labels[:10_000], train=False)
        dataset = datasets.MNIST(root, train=True, transform=transforms.ToTensor())
        loader = DataLoader(dataset, batch_size=batch, shuffle=True)
        model, opt = new_model()
        sync()
        start = time.perf_counter()
        for xb, yb in loader:
            xb, yb = xb.to(device).view(len(xb), -1), yb.to(device)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        sync()
        torchvision_s = time.perf_counter() - start
    # Chapter 7's augmentation of one batch: dlbook's batched RandomAffine against torchvision image by image.
    from dlbook.augment import random_affine

    augment = random_affine((28, 28))
    rows = x[:batch]

    def per_image(r):
        return torch.stack([augment.transform(img) for img in r.reshape(len(r), 1, 28, 28)]).reshape(len(r), -1)

    def best_ms(fn) -> float:
        fn(rows)
        times = []
        for _ in range(20):
            sync()
            start = time.perf_counter()
            fn(rows)
            sync()
            times.append(time.perf_counter() - start)
        return 1000 * min(times)

    augment_ms, augment_per_image_ms = best_ms(augment), best_ms(per_image)
    return {
        "augment_ms": augment_ms,
        "augment_per_image_ms": augment_per_image_ms,
        "fit_s": min(fit_times),
        "bare_s": min(bare_times),
        "shuffled_s": min(shuffled_times),
        "torchvision_s": torchvision_s,
        "fit_all": fit_times,
        "bare_all": bare_times,
    }


# --------------------------------------------------------------------------- (c) seed study


def bench_seeds(device_name: str | None, repeats: int, n_seeds: int = 5) -> dict:
    import copy

    import torch
    from torch import nn
    from torch.func import functional_call, stack_module_state, vmap

    import dlbook
    from dlbook.models import mlp

    device = dlbook.get_device(device_name)
    n, batch, lr = 60_000, 64, 0.05
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 784, generator=g).to(device)
    y = torch.randint(0, 10, (n,), generator=g).to(device)
    seeds = list(range(n_seeds))
    orders = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(s)) for s in seeds]).to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def models():
        out = []
        for s in seeds:
            torch.manual_seed(s)
            out.append(mlp([784, 128, 10]).to(device))
        return out

    def one_by_one(steps=None):
        trained = models()
        sync()
        start = time.perf_counter()
        for k, model in enumerate(trained):
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            for i in range(0, n if steps is None else steps * batch, batch):
                idx = orders[k, i : i + batch]
                opt.zero_grad()
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        sync()
        return time.perf_counter() - start, [dict(m.named_parameters()) for m in trained]

    def stacked(steps=None):
        trained = models()
        params, buffers = stack_module_state(trained)
        params = {name: p.detach().requires_grad_() for name, p in params.items()}
        skeleton = copy.deepcopy(trained[0]).to("meta")

        def forward(p, b, xb):
            return functional_call(skeleton, (p, b), (xb,))

        opt = torch.optim.SGD(params.values(), lr=lr)
        sync()
        start = time.perf_counter()
        for i in range(0, n if steps is None else steps * batch, batch):
            idx = orders[:, i : i + batch]                      # (seeds, batch): each seed's own rows
            logits = vmap(forward)(params, buffers, x[idx])     # (seeds, batch, 10)
            losses = nn.functional.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none")
            opt.zero_grad()
            losses.view(n_seeds, -1).mean(dim=1).sum().backward()  # each seed's mean loss; sums never mix seeds
            opt.step()
        sync()
        return time.perf_counter() - start, params

    print(f"(c) a seed study: {n_seeds} seeds x one epoch, one by one and stacked under vmap, on {device} ...", flush=True)
    one_times, stacked_times = [], []
    for _ in range(repeats):
        one_times.append(one_by_one()[0])
        stacked_times.append(stacked()[0])
    _, separate = one_by_one(steps=10)
    _, together = stacked(steps=10)
    difference = max(
        (together[name][k] - separate[k][name]).abs().max().item() for k in range(n_seeds) for name in together
    )
    return {"one_by_one_s": min(one_times), "stacked_s": min(stacked_times), "difference": difference,
            "n_seeds": n_seeds}


# --------------------------------------------------------------------------- report


def check(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="skip (a), the book build")
    parser.add_argument("--skip-train", action="store_true", help="skip (b), the training epoch")
    parser.add_argument("--skip-seeds", action="store_true", help="skip (c), the seed study")
    parser.add_argument("--device", choices=["cpu", "cuda", "mps"], help="device for (b) (default: dlbook.get_device())")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for (b) (default: PyTorch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs of fit and of the bare loop (the fastest counts)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"Invalid repeats: {args.repeats} (expected >= 1)")

    print("Machine:", machine(), flush=True)
    missed = 0
    lines = []
    if not args.skip_build:
        b = bench_build()
        t = TARGETS
        worst = max(b["chapters"].values(), default=0.0)
        ratio = b["parallel_s"] / b["serial_s"]
        lines += [
            "",
            "(a) book build (fresh copies, empty caches)",
            f"    cold serial build      {b['serial_s']:8.1f} s   (chapters one at a time)",
            f"    cold parallel build    {b['parallel_s']:8.1f} s   target <= {t['cold_build_s']:.0f} s   {check(b['parallel_s'] <= t['cold_build_s'])}"
            f"   ({ratio:.2f}x the serial build, target <= {t['parallel_over_serial']:.2f}x: {check(ratio <= t['parallel_over_serial'])})",
            f"    no-change rebuild      {b['rebuild_s']:8.1f} s   target <= {t['rebuild_s']:.0f} s    {check(b['rebuild_s'] <= t['rebuild_s'])}",
            f"    chapter execution times, each alone (serial build; target <= {t['chapter_s']:.0f} s each: {check(worst <= t['chapter_s'])}):",
        ]
        total = sum(b["chapters"].values())
        for name, seconds in b["chapters"].items():
            lines.append(f"      {name:34s} {seconds:7.1f} s")
        lines.append(f"      {'all chapters':34s} {total:7.1f} s   {total / b['serial_s']:6.1%} of the serial build")
        missed += (b["parallel_s"] > t["cold_build_s"]) + (b["rebuild_s"] > t["rebuild_s"])
        missed += (ratio > t["parallel_over_serial"]) + (worst > t["chapter_s"])
    if not args.skip_train:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        e = bench_epoch(args.device, args.repeats)
        t = TARGETS
        over_bare = e["fit_s"] / e["bare_s"]
        speedup = e["torchvision_s"] / e["fit_s"]
        lines += [
            "",
            f"(b) one epoch of the 784-128-10 MLP, batch 64, 60,000 examples (best of {args.repeats})",
            f"    bare loop (the floor)  {e['bare_s']:8.2f} s   runs: {', '.join(f'{s:.2f}' for s in e['bare_all'])}",
            f"    bare loop + shuffle    {e['shuffled_s']:8.2f} s   (one x[perm] gather per epoch, then slices)",
            f"    dlbook.train.fit       {e['fit_s']:8.2f} s   runs: {', '.join(f'{s:.2f}' for s in e['fit_all'])}",
            f"    torchvision MNIST + DataLoader {e['torchvision_s']:6.2f} s",
            f"    fit / bare loop        {over_bare:8.3f}x   target <= {t['fit_over_bare']}x   {check(over_bare <= t['fit_over_bare'])}",
            f"    fit / (bare + shuffle) {e['fit_s'] / e['shuffled_s']:8.3f}x   (no target: the shuffle's copy of the data is in both)",
            f"    torchvision / fit      {speedup:8.1f}x   target >= {t['torchvision_over_fit']:.0f}x    {check(speedup >= t['torchvision_over_fit'])}",
            f"    torchvision / bare     {e['torchvision_s'] / e['bare_s']:8.1f}x   (the most any loop could gain over torchvision here)",
            f"    random_affine, batch 64 {e['augment_ms']:7.2f} ms  (one grid_sample; torchvision image by image: "
            f"{e['augment_per_image_ms']:.1f} ms, {e['augment_per_image_ms'] / e['augment_ms']:.0f}x)",
        ]
        missed += (over_bare > t["fit_over_bare"]) + (speedup < t["torchvision_over_fit"])
    if not args.skip_seeds:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        c = bench_seeds(args.device, min(args.repeats, 3))
        lines += [
            "",
            f"(c) a seed study: {c['n_seeds']} seeds x one epoch of the 784-128-10 MLP (best of {min(args.repeats, 3)})",
            f"    one model at a time    {c['one_by_one_s']:8.2f} s",
            f"    stacked under vmap     {c['stacked_s']:8.2f} s   ({c['one_by_one_s'] / c['stacked_s']:.2f}x as fast; no target)",
            f"    largest weight difference between the two after 10 steps: {c['difference']:.1e} (float rounding)",
        ]
    print("\n".join(lines))
    print(f"\n{'all targets met' if not missed else f'{missed} target(s) missed'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
