r"""Penalties on the weights, and which parameters weight decay should touch.

Taught in chapter 07 (Regularization).

* :func:`l2_penalty` and :func:`l1_penalty`: the two classical penalties,
  :math:`\tfrac12\lVert\mathbf w\rVert_2^2` and :math:`\lVert\mathbf w\rVert_1`, added to a
  loss times a strength :math:`\lambda`.
* :func:`soft_threshold`: the proximal step of the L1 penalty, the operation that sets
  weights *exactly* to zero (it equals :func:`torch.nn.functional.softshrink`).
* :func:`decay_groups`: optimizer parameter groups that apply weight decay to the
  weight matrices and convolution kernels of a model and not to its biases or to the
  scales and shifts of its normalization layers.

The tests compare each function with PyTorch: the penalties' values and gradients with
:func:`torch.linalg.vector_norm` and with ``weight_decay`` of :class:`torch.optim.SGD`,
:func:`soft_threshold` with :func:`torch.nn.functional.softshrink`, and training with
:func:`decay_groups` with hand-made groups and with the update rules of SGD and AdamW.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from dlbook.validation import check_floating, check_real

__all__ = ["decay_groups", "l1_penalty", "l2_penalty", "soft_threshold"]


def _tensors(name: str, parameters) -> list[torch.Tensor]:
    """``parameters`` as a non-empty list of floating-point tensors (one tensor, or an iterable of them)."""
    if isinstance(parameters, torch.Tensor):
        tensors = [parameters]
    elif isinstance(parameters, Iterable) and not isinstance(parameters, (str, bytes, nn.Module)):
        tensors = list(parameters)
    else:
        raise TypeError(f"Invalid {name}: {type(parameters).__name__} (expected a tensor or an iterable of tensors; "
                        "for a model pass model.parameters())")
    if not tensors:
        raise ValueError(f"Invalid {name}: an empty iterable (expected at least one tensor)")
    return [check_floating(name, t) for t in tensors]


def l2_penalty(parameters) -> torch.Tensor:
    r"""Half the squared L2 norm of all the given tensors, :math:`\tfrac12\sum_i w_i^2`.

    .. math::
        \Omega_2(\mathbf w) = \tfrac12 \lVert \mathbf w \rVert_2^2 = \tfrac12 \sum_i w_i^2,
        \qquad \frac{\partial\,\lambda\Omega_2}{\partial w_i} = \lambda\, w_i

    Added to a loss as ``loss + lam * l2_penalty(params)``, its gradient is
    :math:`\lambda\mathbf w`: for plain SGD that is exactly ``weight_decay=lam``, each
    step multiplying :math:`\mathbf w` by :math:`1-\eta\lambda` before the data's step.

    Args:
        parameters: a tensor or an iterable of floating-point tensors (``model.parameters()``).

    Returns a scalar tensor (differentiable) in the dtype the tensors promote to (float64
    if any of them is), as :func:`torch.nn.utils.get_total_norm` does.

    Taught in chapter 07 (Regularization).

    >>> l2_penalty([torch.tensor([3.0, -4.0]), torch.tensor([[1.0]])])   # (9 + 16 + 1) / 2
    tensor(13.)
    >>> l2_penalty(nn.Linear(2, 2))
    Traceback (most recent call last):
    ...
    TypeError: Invalid parameters: Linear (expected a tensor or an iterable of tensors; for a model pass model.parameters())
    """
    tensors = _tensors("parameters", parameters)
    return sum((t.square().sum() for t in tensors[1:]), tensors[0].square().sum()) / 2


def l1_penalty(parameters) -> torch.Tensor:
    r"""The L1 norm of all the given tensors, :math:`\sum_i |w_i|`.

    .. math::
        \Omega_1(\mathbf w) = \lVert \mathbf w \rVert_1 = \sum_i |w_i|, \qquad
        \partial\,(\lambda |w_i|) = \begin{cases}
            \{\lambda\,\operatorname{sign} w_i\} & w_i \ne 0 \\
            [-\lambda, \lambda] & w_i = 0
        \end{cases}

    Its (sub)gradient has the same size :math:`\lambda` however small the weight is, so
    it pushes small weights to zero as hard as large ones; autograd picks the
    subgradient 0 at :math:`w_i = 0`. A plain gradient step on it overshoots zero and
    makes small weights oscillate around it; :func:`soft_threshold` takes the exact
    (proximal) step instead and leaves them at zero.

    Args:
        parameters: a tensor or an iterable of floating-point tensors (``model.parameters()``).

    Returns a scalar tensor (differentiable) in the dtype the tensors promote to (float64
    if any of them is), as :func:`torch.nn.utils.get_total_norm` does.

    Taught in chapter 07 (Regularization).

    >>> l1_penalty([torch.tensor([3.0, -4.0]), torch.tensor([[1.0]])])
    tensor(8.)
    >>> l1_penalty([])
    Traceback (most recent call last):
    ...
    ValueError: Invalid parameters: an empty iterable (expected at least one tensor)
    """
    tensors = _tensors("parameters", parameters)
    return sum((t.abs().sum() for t in tensors[1:]), tensors[0].abs().sum())


def soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    r"""Soft-thresholding: the proximal step of :math:`t\lVert\cdot\rVert_1`, which zeroes every :math:`|w_i| \le t`.

    .. math::
        \operatorname{prox}_{t\lVert\cdot\rVert_1}(\mathbf v)
        = \arg\min_{\mathbf w}\ \tfrac12 \lVert \mathbf w - \mathbf v\rVert_2^2 + t\lVert\mathbf w\rVert_1,
        \qquad
        w_i = \operatorname{sign}(v_i)\,\max(|v_i| - t,\ 0)

    Every entry moves towards zero by :math:`t` and stops *at* zero: entries with
    :math:`|v_i| \le t` become exactly 0. The proximal gradient method (ISTA) for a loss
    :math:`L(\mathbf w) + \lambda\lVert\mathbf w\rVert_1` alternates a gradient step on
    :math:`L` with ``soft_threshold(w, lr * lam)``. The L2 counterpart,
    :math:`\arg\min_{\mathbf w} \tfrac12\lVert\mathbf w-\mathbf v\rVert^2 + \tfrac t2\lVert\mathbf w\rVert^2
    = \mathbf v/(1+t)`, only shrinks and never reaches zero.

    Equal to :func:`torch.nn.functional.softshrink` with ``lambd=threshold``, in value and
    gradient (1 where an entry moves, 0 where it is set to zero), NaN staying NaN, for any
    memory layout and floating dtype. Unlike softshrink, which requires ``lambd`` to be
    finite in the input's dtype, an infinite threshold is accepted: everything becomes 0;
    and a NaN entry has gradient 1 at NaN here, where softshrink's is 0 or 1 depending on
    the entry's position in the tensor (its vectorized and scalar kernels disagree).

    Shape: any; the output has the shape of ``w``.

    Args:
        w: a floating-point tensor.
        threshold: :math:`t \ge 0`.

    Taught in chapter 07 (Regularization).

    >>> soft_threshold(torch.tensor([-0.5, -0.05, 0.0, 0.08, 0.3]), 0.1)
    tensor([-0.4000,  0.0000,  0.0000,  0.0000,  0.2000])
    >>> soft_threshold(torch.tensor([1.0]), -0.1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid threshold: -0.1 (expected a number >= 0)
    """
    return _soft_threshold(check_floating("w", w), check_real("threshold", threshold, low=0.0))


def _soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """:func:`soft_threshold` without the checks of its arguments (the form chapter 07 prints)."""
    shrunk = w - threshold * w.sign()           # every entry moves towards 0 by threshold
    return torch.where(w.abs() <= threshold, torch.zeros_like(w), shrunk)  # and stops at 0


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    r"""Two optimizer parameter groups: weight decay for weight matrices and kernels, none for the rest.

    A parameter with two or more dimensions (the weight matrix of a linear layer, the
    kernel of a convolution, an embedding table) goes into the first group, with
    ``weight_decay``; a parameter with one dimension or none (a bias, the scale
    :math:`\gamma` and shift :math:`\beta` of a normalization layer) into the second,
    with ``weight_decay=0``. With AdamW the update of a parameter :math:`\theta` is then

    .. math::
        \theta \leftarrow (1 - \eta\lambda_\theta)\,\theta - \eta\,\frac{\hat m}{\sqrt{\hat v}+\epsilon},
        \qquad \lambda_\theta = \begin{cases} \lambda & \theta \text{ a matrix or kernel} \\
        0 & \theta \text{ a bias, } \gamma \text{ or } \beta \end{cases}

    Why: the size of a layer's weights sets how steep its function can be, and
    shrinking them is what makes the function simpler. A bias only shifts the output
    (shrinking it pulls the output towards 0, whatever the data's offset), and
    :math:`\gamma, \beta` of a normalization layer set the scale and offset of
    standardized values (shrinking :math:`\gamma` shrinks the layer's output).

    The two groups together hold every parameter of ``model`` once, in the order of
    ``model.parameters()``; pass them to any optimizer in place of
    ``model.parameters()`` (``torch.optim.AdamW(decay_groups(model, 0.01), lr=1e-3)``).
    An empty group is left out.

    Args:
        model: the network.
        weight_decay: :math:`\lambda \ge 0` for the weight matrices and kernels.

    Returns a list of ``{"params": [...], "weight_decay": ...}`` dicts.

    Taught in chapter 07 (Regularization).

    >>> net = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    >>> [(len(g["params"]), g["weight_decay"]) for g in decay_groups(net, 0.1)]
    [(2, 0.1), (4, 0.0)]
    >>> decay_groups(net, -1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid weight_decay value: -1 (expected a number >= 0)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid model: {type(model).__name__} (expected a torch.nn.Module)")
    return _decay_groups(model, check_real("weight_decay", weight_decay, low=0.0, label="weight_decay value"))


def _decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """:func:`decay_groups` without the checks of its arguments (the form chapter 07 prints)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]     # matrices, kernels
    no_decay = [p for p in model.parameters() if p.ndim < 2]   # biases, gamma, beta
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]                  # no empty group
