r"""The forward and backward passes: what the forward pass keeps for the backward pass, and gradient accumulation.

During a forward pass with gradients enabled, each operation whose derivative
needs its inputs or its output stores them in its node of the graph (its
``grad_fn``): a matrix product :math:`XW^\top` keeps :math:`X` to compute
:math:`\partial L/\partial W = G^\top X`, a ReLU keeps its output to know where
the slope was 0. These *saved tensors* are the memory cost of training, and
they are what ``torch.no_grad()`` and ``torch.inference_mode()`` do without.
This module looks at them two ways:

* :func:`saved_tensors` walks a finished graph and lists, node by node, the
  tensors each ``grad_fn`` holds (PyTorch exposes them as ``grad_fn._saved_*``);
* :class:`SavedTensorLog` installs :func:`torch.autograd.graph.saved_tensors_hooks`
  and records every tensor autograd saves while it is active, so it measures a
  forward pass as it happens (and records nothing under ``no_grad``).

:func:`accumulate_gradients` splits a batch into micro-batches whose gradients
add up to the gradient of the whole batch.

Taught in chapter 11 (Forward & backward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from dlbook.precision import accumulation_dtype
from dlbook.validation import check_int, check_tensor


@dataclass(frozen=True)
class SavedTensor:
    """One tensor kept for the backward pass.

    Attributes:
        op: the node that keeps it (``"AddmmBackward0"``, ...); ``""`` when recorded by a hook.
        name: which of the node's saved values it is (``"mat1"``, ``"result"``, ...); ``""`` from a hook.
        shape: its shape.
        dtype: its dtype.
        nbytes: bytes of its elements, ``numel * element_size``.
        storage: address of its storage; two saved tensors with the same address share memory
            (a view, or the same tensor saved by two nodes).
        storage_nbytes: bytes of that whole storage.
    """

    op: str
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    nbytes: int
    storage: int
    storage_nbytes: int

    @classmethod
    def of(cls, tensor: torch.Tensor, op: str = "", name: str = "") -> SavedTensor:
        """Describe ``tensor`` (kept by ``op`` as ``name``)."""
        storage = tensor.untyped_storage()
        return cls(
            op, name, tuple(tensor.shape), tensor.dtype, tensor.numel() * tensor.element_size(),
            storage.data_ptr(), storage.nbytes(),
        )


def storage_bytes(saved: Iterable[SavedTensor], exclude: Iterable[torch.Tensor] = ()) -> int:
    r"""Bytes of memory the saved tensors hold: each storage counted once, storages of ``exclude`` left out.

    .. math:: \text{bytes} = \sum_{s \,\in\, \text{distinct storages} \setminus \text{excluded}} \text{size}(s)

    Pass the model's parameters (and the input batch) as ``exclude`` to count only
    what exists *because* of the backward pass: intermediate activations that
    would otherwise be freed as soon as the next layer had used them.

    >>> x = torch.zeros(4, 3)
    >>> saved = [SavedTensor.of(x), SavedTensor.of(x[:2]), SavedTensor.of(torch.zeros(5))]
    >>> storage_bytes(saved), storage_bytes(saved, exclude=[x])
    (68, 20)
    """
    excluded = {t.untyped_storage().data_ptr() for t in exclude}
    sizes: dict[int, int] = {}
    for s in saved:
        if s.storage not in excluded:
            sizes[s.storage] = s.storage_nbytes
    return sum(sizes.values())


def saved_tensors(output: torch.Tensor) -> list[SavedTensor]:
    """Every tensor the graph behind ``output`` keeps for the backward pass, node by node.

    Walks ``output.grad_fn`` and its ``next_functions`` breadth-first (from the
    output back towards the inputs, without recursion) and reads each node's
    ``_saved_<name>`` attributes that are tensors. A node that saved nothing for a
    name (because no gradient needs it) reports ``None`` there and is skipped.
    An ``output`` computed without gradients has no graph: the list is empty.

    For ``relu(x @ W.T + b)`` on a batch ``x`` that needs no gradient, the matrix
    product keeps ``x`` (for :math:`\\partial L/\\partial W`) but not ``W`` (it
    would only serve :math:`\\partial L/\\partial x`), and the ReLU keeps its
    output:

    >>> layer = nn.Linear(3, 2)
    >>> out = torch.relu(layer(torch.randn(5, 3)))
    >>> [(s.op, s.name, s.shape) for s in saved_tensors(out)]
    [('ReluBackward0', 'result', (5, 2)), ('AddmmBackward0', 'mat1', (5, 3))]
    >>> with torch.no_grad():
    ...     saved_tensors(torch.relu(layer(torch.randn(5, 3))))
    []
    """
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"Invalid output: {type(output).__name__} (expected torch.Tensor)")
    found: list[SavedTensor] = []
    queue, seen = [output.grad_fn], set()
    while queue:
        node = queue.pop(0)
        if node is None or node in seen:
            continue
        seen.add(node)
        for attr in sorted(a for a in dir(node) if a.startswith("_saved_")):
            try:
                value = getattr(node, attr)
            except RuntimeError:  # freed by an earlier backward()
                continue
            if isinstance(value, torch.Tensor):
                found.append(SavedTensor.of(value, type(node).__name__, attr.removeprefix("_saved_")))
        queue.extend(next_node for next_node, _ in node.next_functions)
    return found


@dataclass
class SavedTensorLog:
    """Record every tensor autograd saves for backward while the ``with`` block runs.

    Uses :func:`torch.autograd.graph.saved_tensors_hooks`: autograd calls the
    *pack* hook once for each tensor an operation saves, as the forward pass runs.
    The hook records a :class:`SavedTensor` and hands the tensor back unchanged, so
    training is not affected. Under ``torch.no_grad()`` or
    ``torch.inference_mode()`` no graph is built and the hook is never called.

    Attributes:
        records: one :class:`SavedTensor` per saved tensor, in the order saved.

    >>> layer = nn.Linear(3, 2)
    >>> with SavedTensorLog() as log:
    ...     out = torch.relu(layer(torch.randn(5, 3)))
    >>> log.count, log.nbytes()          # the input (5×3) and the ReLU output (5×2), float32
    (2, 100)
    >>> with SavedTensorLog() as log, torch.no_grad():
    ...     out = torch.relu(layer(torch.randn(5, 3)))
    >>> log.count, log.nbytes()
    (0, 0)
    """

    records: list[SavedTensor] = field(default_factory=list)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.records.append(SavedTensor.of(tensor))
        return tensor

    def __enter__(self) -> SavedTensorLog:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    @property
    def count(self) -> int:
        """Number of tensors saved (a tensor saved by two nodes counts twice)."""
        return len(self.records)

    def nbytes(self, exclude: Iterable[torch.Tensor] = ()) -> int:
        """Bytes held, each storage once, leaving out the storages of ``exclude``; see :func:`storage_bytes`."""
        return storage_bytes(self.records, exclude)


def accumulate_gradients(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    micro_batch_size: int,
) -> torch.Tensor:
    r"""Backward through ``(x, y)`` in micro-batches so that ``.grad`` ends up as the full batch's gradient.

    For a loss that averages over the batch, :math:`L = \frac1N \sum_{i=1}^N \ell_i`,
    split the :math:`N` examples into micro-batches :math:`B_1, \dots, B_K` of sizes
    :math:`n_k`. Each micro-batch's own mean loss :math:`L_k = \frac{1}{n_k}\sum_{i\in B_k}\ell_i`
    is scaled by :math:`n_k/N` before its ``backward()``; since ``.grad``
    accumulates,

    .. math:: \sum_{k=1}^K \frac{n_k}{N} \nabla L_k = \frac1N \sum_{i=1}^N \nabla \ell_i = \nabla L.

    (Scaling by :math:`1/K` is the same only when every micro-batch has the same
    size.) Only one micro-batch's activations are alive at a time, so the memory
    of a batch of ``micro_batch_size`` buys the gradient of a batch of :math:`N`.
    The equality is exact, up to rounding, for models that treat examples
    independently; batch normalisation, which mixes the examples of a batch, breaks it.

    ``.grad`` is *added to*, as ``backward()`` does: call ``zero_grad()`` first.

    Args:
        model: the network.
        loss_fn: ``loss_fn(output, y) -> scalar``, a *mean* over the examples.
        x, y: the full batch, ``(N, ...)`` and ``(N, ...)``.
        micro_batch_size: examples per micro-batch (the last may be smaller).

    Returns:
        The full batch's mean loss (detached), :math:`\sum_k \frac{n_k}{N} L_k`, summed
        in float64 (float32 on Apple's MPS, which has no float64).

    >>> torch.manual_seed(0) and None
    >>> model, x, y = nn.Linear(4, 3), torch.randn(10, 4), torch.randint(0, 3, (10,))
    >>> nn.functional.cross_entropy(model(x), y).backward()
    >>> full = model.weight.grad.clone()
    >>> model.zero_grad()
    >>> loss = accumulate_gradients(model, nn.functional.cross_entropy, x, y, micro_batch_size=4)  # 4 + 4 + 2
    >>> torch.allclose(model.weight.grad, full, atol=1e-6)
    True
    >>> accumulate_gradients(model, nn.functional.cross_entropy, x, y, micro_batch_size=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid micro_batch_size: 0 (expected a positive integer)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid model: {type(model).__name__} (expected torch.nn.Module)")
    check_int("micro_batch_size", micro_batch_size, low=1)
    check_tensor("x", x)
    check_tensor("y", y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"Invalid batch: x has {len(x)} rows and y has {len(y)} (expected the same, at least 1)")
    n = len(x)
    total = torch.zeros((), dtype=accumulation_dtype(x.device), device=x.device)  # float64, float32 on MPS
    for start in range(0, n, micro_batch_size):
        xb, yb = x[start : start + micro_batch_size], y[start : start + micro_batch_size]
        loss = loss_fn(model(xb), yb) * (len(xb) / n)   # n_k / N times the micro-batch's mean loss
        loss.backward()                                  # adds into .grad
        total += loss.detach().to(total.dtype)
    return total


__all__ = ["SavedTensor", "SavedTensorLog", "accumulate_gradients", "saved_tensors", "storage_bytes"]
