"""The global random generators, before and after a call: does it leave them exactly as it found them?

The global generators are torch's (CPU, and every GPU when CUDA is available), NumPy's
legacy ``np.random`` and Python's :mod:`random`. A dlbook function given a seed (or a
generator of its own) must leave all of them alone; only ``dlbook.seed_everything`` sets
them. Used by the test file of every module that takes a seed::

    with leaves_global_rng_alone():
        initialize(model, seed=3)

    with moves_only("torch"):            # seed=None: torch's global generator, as torch's own code
        initialize(model)
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

GENERATORS = ("torch", "cuda", "numpy", "random")


def global_rng_state() -> dict[str, object]:
    """A snapshot of every global generator's state (``cuda`` only when CUDA is available)."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _same(name: str, a, b) -> bool:
    if name == "torch":
        return torch.equal(a, b)
    if name == "cuda":
        return len(a) == len(b) and all(torch.equal(s, t) for s, t in zip(a, b))
    if name == "numpy":  # ('MT19937', key array, position, has_gauss, cached_gaussian)
        return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
    return a == b


def moved(before: dict[str, object], after: dict[str, object]) -> set[str]:
    """The names of the generators whose state differs between two snapshots."""
    return {name for name in before if not _same(name, before[name], after[name])}


def stir() -> None:
    """Advance every global generator by one draw. A call that *reseeds* a generator with the very seed
    the test set just before leaves it where it was; after a ``stir()`` that reseeding shows."""
    torch.rand(1)
    np.random.random()
    random.random()


@contextlib.contextmanager
def moves_only(*names: str):
    """The block must change exactly the global generators named (none: :func:`leaves_global_rng_alone`).

    ``"cuda"`` is ignored where CUDA is not available. The block starts from the generators'
    states as they are (a test may seed them just before); see :func:`stir`.
    """
    unknown = set(names) - set(GENERATORS)
    if unknown:
        raise ValueError(f"Invalid generator names: {sorted(unknown)} (expected some of {GENERATORS})")
    before = global_rng_state()
    yield
    changed = moved(before, global_rng_state())
    expected = set(names) & set(before)
    assert changed == expected, f"global generators moved: {sorted(changed) or 'none'}; expected {sorted(expected) or 'none'}"


def leaves_global_rng_alone():
    """The block must leave torch's (CPU and CUDA), NumPy's and Python's global generators exactly as they were."""
    return moves_only()
