r"""Argument checks: one rule for every module, and checks that never make the host wait for a GPU.

Used by every chapter's module (the optimizers of chapter 04, the losses of chapter 03,
the layers of chapters 07 and 08, the training loop, ...), so that the same mistake
gets the same answer everywhere:

* a value of the wrong **type** raises :class:`TypeError`: a string where a number
  belongs, a float (or a bool) where an integer belongs, a list where a tensor belongs,
  an integer tensor where a floating-point one belongs;
* a value of the right type but the wrong **value** raises :class:`ValueError`: a
  negative learning rate, a probability above 1, a shape that does not fit.

Every message starts ``Invalid <what>: <value>``, the style of :mod:`torch.optim`
(``ValueError: Invalid learning rate: -0.1``), and usually says what was expected:

>>> check_real("lr", -0.1, low=0, label="learning rate", explain=False)
Traceback (most recent call last):
...
ValueError: Invalid learning rate: -0.1
>>> check_int("batch_size", 2.5, low=1)
Traceback (most recent call last):
...
TypeError: Invalid batch_size: 2.5 (expected an integer)

**Checks on tensors do not synchronise.** Shapes, dtypes and devices are known on
the host (Python) side, so checking them costs nothing. Tensor *values* are not: on a
GPU, ``bool(target.min() < 0)`` or ``.item()`` makes the host wait until every kernel
queued so far has finished, and a training step that does it loses the overlap of
Python and GPU work (``torch.cuda.set_sync_debug_mode("warn")`` reports each such
wait). :func:`check_values` therefore reads values only where they already are on the
host (CPU tensors); on CUDA it queues a device-side assertion
(``torch._assert_async``) that fails the next synchronisation instead, as
PyTorch's own kernels do for out-of-range class indices; elsewhere (MPS) it checks
nothing.

Taught alongside every chapter's module; the table of bad calls in
``tests/test_drills.py`` pins the exception and the wording for each public function.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection

import torch

__all__ = [
    "SEED_LIMIT",
    "check_choice",
    "check_floating",
    "check_int",
    "check_real",
    "check_seed",
    "check_tensor",
    "check_values",
]

#: Seeds are integers in ``[0, SEED_LIMIT)``: the range every generator the book seeds
#: accepts (Python's :mod:`random`, PyTorch's, and NumPy's ``np.random.seed``, the
#: narrowest, which needs a 32-bit unsigned integer).
SEED_LIMIT = 2**32


def _show(value) -> str:
    """A value as messages print it: strings quoted, numbers as ``str`` (``-0.1``, not ``np.float64(-0.1)``)."""
    return repr(value) if isinstance(value, str) else str(value)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bound(x) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _bounds(low, high, low_open: bool, high_open: bool) -> str:
    low, high = (None if b is None else _bound(b) for b in (low, high))
    left = None if low is None else f"{'>' if low_open else '>='} {low}"
    right = None if high is None else f"{'<' if high_open else '<='} {high}"
    if left and right:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    return left or right or "any value"


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
    label: str | None = None,
    explain: bool = True,
) -> float:
    r"""Return ``value`` as a ``float`` if it is a real number within the bounds.

    Args:
        name: the argument's name, used in the message unless ``label`` is given.
        value: what the caller passed.
        low, high: bounds (``None``: unbounded on that side).
        low_open, high_open: exclude the bound itself (:math:`>` instead of :math:`\ge`).
        finite: also reject :math:`\pm\infty` (NaN is always rejected by a bound).
        label: the words after "Invalid" (``"learning rate"`` for ``lr``, as torch says).
        explain: add "(expected ...)" to the message.

    Raises:
        TypeError: ``value`` is not a real number (``bool`` is not one here).
        ValueError: it is outside the bounds, NaN where a bound applies, or infinite with ``finite=True``.

    >>> check_real("momentum", 0.9, low=0)
    0.9
    >>> check_real("p", 1.5, low=0, high=1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid p: 1.5 (expected a number in [0, 1])
    >>> check_real("eps", "1e-8")
    Traceback (most recent call last):
    ...
    TypeError: Invalid eps: '1e-8' (expected a real number)
    """
    what = label or name
    if not _is_real(value):
        raise TypeError(f"Invalid {what}: {_show(value)} (expected a real number)")
    too_low = low is not None and not (value > low if low_open else value >= low)
    too_high = high is not None and not (value < high if high_open else value <= high)
    if too_low or too_high or (finite and not math.isfinite(value)):
        hint = f"a {'finite ' if finite else ''}number {_bounds(low, high, low_open, high_open)}"
        raise ValueError(f"Invalid {what}: {_show(value)}" + (f" (expected {hint})" if explain else ""))
    return float(value)


def check_int(
    name: str, value, *, low: int | None = None, high: int | None = None, label: str | None = None
) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool, not a float) within ``[low, high]``.

    NumPy integers count as integers; ``2.0`` does not (it is a float: a wrong type).

    >>> check_int("epochs", 3, low=1)
    3
    >>> check_int("epochs", 0, low=1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid epochs: 0 (expected a positive integer)
    >>> check_int("step_size", 1, low=2)
    Traceback (most recent call last):
    ...
    ValueError: Invalid step_size: 1 (expected an integer >= 2)
    >>> check_int("epochs", True, low=1)
    Traceback (most recent call last):
    ...
    TypeError: Invalid epochs: True (expected an integer)
    """
    what = label or name
    if not _is_int(value):
        raise TypeError(f"Invalid {what}: {_show(value)} (expected an integer)")
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None and low in (0, 1):
            expected = "a positive integer" if low == 1 else "a non-negative integer"
        else:
            expected = f"an integer {_bounds(low, high, False, False)}"
        raise ValueError(f"Invalid {what}: {_show(value)} (expected {expected})")
    return int(value)


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as an ``int`` if it is an integer in ``[0, 2**32)`` (:data:`SEED_LIMIT`): the one rule for seeds.

    >>> check_seed(0), check_seed(2**32 - 1)
    (0, 4294967295)
    >>> check_seed(2**32)
    Traceback (most recent call last):
    ...
    ValueError: Invalid seed: 4294967296 (expected an integer in [0, 2**32))
    >>> check_seed(1.5)
    Traceback (most recent call last):
    ...
    TypeError: Invalid seed: 1.5 (expected an integer in [0, 2**32))
    """
    if not _is_int(seed):
        raise TypeError(f"Invalid {name}: {_show(seed)} (expected an integer in [0, 2**32))")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"Invalid {name}: {_show(seed)} (expected an integer in [0, 2**32))")
    return int(seed)


def check_choice(name: str, value, choices: Collection, *, label: str | None = None):
    """Return ``value`` if it is one of ``choices``; else a :class:`ValueError` listing them.

    >>> check_choice("reduction", "avg", ("mean", "sum", "none"))
    Traceback (most recent call last):
    ...
    ValueError: Invalid reduction: 'avg' (expected 'mean', 'sum' or 'none')
    """
    try:
        known = value in choices
    except TypeError:  # an unhashable value cannot be any of the (hashable) choices
        known = False
    if not known:
        listed = [repr(c) for c in choices]
        expected = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " or " + listed[-1]
        raise ValueError(f"Invalid {label or name}: {_show(value)} (expected {expected})")
    return value


def check_tensor(name: str, value) -> torch.Tensor:
    """Return ``value`` if it is a :class:`torch.Tensor`; else a :class:`TypeError` naming its type.

    >>> check_tensor("x", [1.0, 2.0])
    Traceback (most recent call last):
    ...
    TypeError: Invalid x: list (expected torch.Tensor)
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"Invalid {name}: {type(value).__name__} (expected torch.Tensor)")
    return value


def check_floating(name: str, value) -> torch.Tensor:
    """Return ``value`` if it is a floating-point tensor; a :class:`TypeError` for anything else.

    >>> check_floating("x", torch.tensor([1, 2]))
    Traceback (most recent call last):
    ...
    TypeError: Invalid x dtype: torch.int64 (expected a floating-point tensor)
    """
    check_tensor(name, value)
    if not value.is_floating_point():
        raise TypeError(f"Invalid {name} dtype: {value.dtype} (expected a floating-point tensor)")
    return value


def check_values(condition: torch.Tensor, message: str) -> None:
    """Require every element of the boolean tensor ``condition`` to be true, without waiting for the device.

    * On the CPU the values are already on the host: a false element raises
      :class:`ValueError` with ``message`` at once.
    * On CUDA, :func:`torch._assert_async` queues the check on the device and
      returns immediately; a false element makes the *next* synchronisation fail
      with a ``RuntimeError`` (a device-side assertion), as PyTorch's own kernels
      do for bad class indices. No ``.item()``, no ``bool(...)``, no host sync.
    * Elsewhere (Apple's MPS has no device-side assertion) nothing is checked: a
      check that waited for the device would cost more than the step it guards.

    >>> check_values(torch.tensor([0, 2]) < 3, "Invalid target: class indices must lie in [0, 3)")
    >>> check_values(torch.tensor([0, 5]) < 3, "Invalid target: class indices must lie in [0, 3)")
    Traceback (most recent call last):
    ...
    ValueError: Invalid target: class indices must lie in [0, 3)
    """
    if condition.numel() == 0:
        return
    if condition.device.type == "cpu":
        if not bool(condition.all()):
            raise ValueError(message)
    elif condition.device.type == "cuda":
        torch._assert_async(condition.all(), message)
