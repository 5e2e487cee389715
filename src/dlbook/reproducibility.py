"""Seeding: one call that makes a chapter print the same numbers on every build.

Taught in the Introduction.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from dlbook.validation import check_seed


def seed_everything(seed: int = 0, *, deterministic: bool = True) -> None:
    """Seed Python's :mod:`random`, NumPy and PyTorch (CPU and every GPU).

    With ``deterministic=True`` it also asks PyTorch for deterministic kernels where
    they exist (``torch.use_deterministic_algorithms(True, warn_only=True)``) and
    sets cuDNN to deterministic mode, so that a GPU build repeats itself too.

    Args:
        seed: a non-negative integer below :math:`2^{32}`.
        deterministic: also select deterministic kernels.

    Raises:
        TypeError: ``seed`` is not an integer (a float, a string, a bool).
        ValueError: ``seed`` is negative or too large.

    >>> seed_everything(42)
    >>> a = torch.rand(3)
    >>> seed_everything(42)
    >>> torch.equal(a, torch.rand(3))
    True
    >>> seed_everything(-1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid seed: -1 (expected an integer in [0, 2**32))
    """
    seed = check_seed(seed)  # [0, 2**32): what np.random.seed accepts
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS generators too
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic on CUDA; harmless elsewhere.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
