"""Where tensors live: the one place dlbook decides between CUDA, MPS and the CPU.

Taught in the Introduction. Every chapter calls :func:`get_device` once and moves
its model and data there, so the same chapter runs unchanged on a laptop and on a
GPU machine.
"""

from __future__ import annotations

import os
import platform

import torch

#: Environment variable that overrides the automatic choice, e.g. ``DLBOOK_DEVICE=cpu``.
DEVICE_ENV = "DLBOOK_DEVICE"

_VALID = ("cpu", "cuda", "mps")


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device the book computes on.

    The rule, in order: an explicit ``prefer`` argument, else the ``DLBOOK_DEVICE``
    environment variable, else CUDA when a CUDA GPU is visible, else Apple's MPS
    when present, else the CPU.

    Args:
        prefer: ``"cpu"``, ``"cuda"`` or ``"mps"`` to force a choice, or ``None``
            for the automatic rule.

    Raises:
        TypeError: ``prefer`` is not a string.
        ValueError: ``prefer`` (or ``DLBOOK_DEVICE``) names no known device, or
            names one this machine does not have.

    >>> get_device("cpu")
    device(type='cpu')
    >>> get_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: Invalid device: 'tpu' (expected one of 'cpu', 'cuda', 'mps')
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV) or None
    if choice is not None:
        if not isinstance(choice, str):
            raise TypeError(f"Invalid device: {choice!r} (expected one of 'cpu', 'cuda', 'mps')")
        if choice not in _VALID:
            raise ValueError(f"Invalid device: {choice!r} (expected one of 'cpu', 'cuda', 'mps')")
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("Invalid device: 'cuda' (no CUDA GPU is visible to PyTorch)")
        if choice == "mps" and not _mps_available():
            raise ValueError("Invalid device: 'mps' (MPS is not available on this machine)")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def describe_device(device: torch.device | None = None) -> str:
    """A one-line, human-readable description of ``device`` for the book's pages.

    >>> describe_device(torch.device("cpu")).startswith("CPU")
    True
    >>> describe_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: Invalid device: 'tpu' (expected one of 'cpu', 'cuda', 'mps')
    """
    if device is None:
        device = get_device()
    elif not isinstance(device, torch.device):
        device = get_device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"CUDA GPU ({name}), PyTorch {torch.__version__}"
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()}), PyTorch {torch.__version__}"
    threads = torch.get_num_threads()
    return f"CPU ({platform.machine()}, {threads} thread{'' if threads == 1 else 's'}), PyTorch {torch.__version__}"
