"""Floating-point precision per device: which dtype to sum in where float64 is not everywhere.

A ground-floor fact (beside the argument checks of :mod:`dlbook.validation`): the
concept modules that sum many float32 numbers ask it, without depending on the
runtime's choice of device (:mod:`dlbook.device`).
"""

from __future__ import annotations

import torch


def accumulation_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype to accumulate sums of many float32 numbers in on ``device``: float64, but float32 on MPS.

    Apple's MPS backend has no float64 (a float64 tensor there raises ``TypeError``),
    so code that sums in float64 for accuracy uses this instead of ``.double()``.
    :func:`dlbook.passes.accumulate_gradients` sums its losses this way;
    :func:`dlbook.train.fit` and :func:`dlbook.train.evaluate` avoid the question by
    summing their per-batch values on the CPU.

    >>> accumulation_dtype("cpu"), accumulation_dtype(torch.device("mps"))
    (torch.float64, torch.float32)
    >>> accumulation_dtype("tpu")
    Traceback (most recent call last):
    ...
    ValueError: Invalid device: 'tpu' (expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')
    """
    try:
        kind = torch.device(device).type
    except RuntimeError as exc:  # an unknown device string
        raise ValueError(f"Invalid device: {device!r} (expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')") from exc
    except TypeError as exc:
        raise TypeError(f"Invalid device: {device!r} (expected a torch.device or a string such as 'cpu')") from exc
    return torch.float32 if kind == "mps" else torch.float64
