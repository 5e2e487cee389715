"""Gradients: computing them without autograd, following them downhill, measuring them in deep nets, clipping them.

Taught in chapter 01 (Gradients); :func:`hessian_top_eigenvalue`, the curvature behind
the step-size limit :math:`\\eta < 2/L`, in chapter 09 (Learning rate).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from dlbook.validation import check_floating, check_int, check_real, check_seed


def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The gradient of a scalar function by central differences, one coordinate at a time.

    .. math:: \\frac{\\partial f}{\\partial x_i} \\approx \\frac{f(x + \\varepsilon e_i) - f(x - \\varepsilon e_i)}{2\\varepsilon}

    The error of the central difference shrinks like :math:`\\varepsilon^2` (a
    one-sided difference's like :math:`\\varepsilon`), until rounding error, which
    grows like :math:`1/\\varepsilon`, takes over; use float64 with ``eps=1e-6``.
    It costs two evaluations of ``f`` per coordinate — fine for checking, hopeless
    for training, which is why backpropagation exists.

    Args:
        f: maps a tensor shaped like ``x`` to a scalar (0-d or one-element) tensor.
        x: the point; any shape, floating point. It is not modified.
        eps: the step :math:`\\varepsilon > 0`.

    Returns:
        A tensor shaped like ``x``.

    >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> [round(g, 6) for g in numerical_gradient(lambda v: (v ** 2).sum(), x).tolist()]   # exactly 2x
    [2.0, 4.0]
    >>> numerical_gradient(lambda v: v.sum(), x, eps=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid eps: 0 (expected a number > 0)
    """
    check_floating("x", x)
    check_real("eps", eps, low=0.0, low_open=True)
    x = x.detach().clone(memory_format=torch.contiguous_format)  # a transposed point too: .view(-1) needs rows in order
    grad = torch.empty_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            f_plus = _scalar(f(x))
            flat[i] = old - eps
            f_minus = _scalar(f(x))
            flat[i] = old
            gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Invalid f: returned shape {tuple(value.shape)} (expected a scalar)")
        return value.item()
    return float(value)


def gradient_descent(
    f: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, lr: float, steps: int
) -> torch.Tensor:
    """Follow :math:`x_{t+1} = x_t - \\eta \\nabla f(x_t)` for ``steps`` steps; return every point.

    Gradients come from autograd. The result has shape ``(steps + 1, *x0.shape)``;
    row 0 is ``x0``.

    >>> path = gradient_descent(lambda v: (v ** 2).sum(), torch.tensor([1.0]), lr=0.25, steps=2)
    >>> path.squeeze(1).tolist()     # each step halves x: x - 0.25 * 2x
    [1.0, 0.5, 0.25]
    >>> gradient_descent(lambda v: v.sum(), torch.tensor([1.0]), lr=-1, steps=2)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: -1
    """
    check_real("lr", lr, low=0.0, low_open=True, label="learning rate", explain=False)
    check_floating("x0", x0)
    check_int("steps", steps, low=0)
    x = x0.detach().clone().requires_grad_(True)
    path = [x.detach().clone()]
    for _ in range(steps):
        (g,) = torch.autograd.grad(f(x), x)
        with torch.no_grad():
            x -= lr * g
        path.append(x.detach().clone())
    return torch.stack(path)


def layer_gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
) -> list[float]:
    """The gradient norm :math:`\\lVert \\partial L / \\partial W_l \\rVert_2` of each ``nn.Linear`` weight, input side first.

    Runs one forward and backward pass on ``(x, y)``. Vanishing gradients show as
    norms falling towards the input; exploding ones as norms growing. The gradients
    come from :func:`torch.autograd.grad`, which returns them without writing any
    ``.grad``: a measurement leaves whatever the model's ``.grad`` held (a gradient
    being accumulated, say) as it was.

    >>> torch.manual_seed(0) and None
    >>> from dlbook.models import mlp
    >>> model = mlp([4, 8, 8, 3])
    >>> norms = layer_gradient_norms(model, torch.randn(16, 4), torch.randint(0, 3, (16,)))
    >>> len(norms), all(n > 0 for n in norms), model[0].weight.grad is None
    (3, True, True)
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("Invalid model: it has no nn.Linear layer")
    grads = torch.autograd.grad(loss_fn(model(x), y), [m.weight for m in linears])
    return [g.norm().item() for g in grads]


@torch.no_grad()
def dead_relu_fraction(model: nn.Module, x: torch.Tensor) -> list[float]:
    """For each ``nn.ReLU`` in ``model``: the fraction of its units that output 0 for *every* row of ``x``.

    Such a unit passes no gradient back for any of these inputs: its incoming
    weights cannot change, so it stays dead.

    >>> lin = nn.Linear(2, 4)
    >>> with torch.no_grad(): _ = lin.bias.copy_(torch.tensor([-100.0, -100.0, 100.0, 100.0]))
    >>> dead_relu_fraction(nn.Sequential(lin, nn.ReLU()), torch.randn(32, 2))
    [0.5]
    """
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError("Invalid model: it has no nn.ReLU layer")
    fractions: dict[int, float] = {}

    def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        alive = (output > 0).reshape(len(output), -1).any(dim=0)
        fractions[id(module)] = 1.0 - alive.float().mean().item()

    handles = [m.register_forward_hook(hook) for m in relus]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return [fractions[id(m)] for m in relus]


def _tensor_list(name: str, tensors) -> list:
    """``tensors`` as a list: one tensor, or any iterable (``model.parameters()``); a ``TypeError`` naming ``name`` else."""
    if isinstance(tensors, torch.Tensor):
        return [tensors]
    try:
        return list(tensors)
    except TypeError as exc:
        raise TypeError(f"Invalid {name}: {type(tensors).__name__} (expected a tensor or an iterable of tensors)") from exc


def _gradients(parameters, max_norm, norm_type) -> tuple[float, list[torch.Tensor]]:
    """``norm_type`` as a float and the ``.grad`` tensors of ``parameters`` (those that have one), the arguments checked."""
    check_real("max_norm", max_norm, low=0.0)
    if isinstance(norm_type, str):  # torch takes "inf" too
        try:
            norm_type = float(norm_type)
        except ValueError:
            raise ValueError(f"Invalid norm_type: {norm_type!r} (expected a number or 'inf')") from None
    norm_type = check_real("norm_type", norm_type)
    if math.isnan(norm_type):
        raise ValueError("Invalid norm_type: nan (expected a number or 'inf')")
    parameters = _tensor_list("parameters", parameters)
    for p in parameters:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"Invalid parameters: holds a {type(p).__name__} (expected tensors)")
    return norm_type, [p.grad for p in parameters if p.grad is not None]


@torch.no_grad()
def clip_grad_norm(parameters, max_norm: float, norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> torch.Tensor:
    """Rescale the gradients of ``parameters`` in place so that their *global* norm is at most ``max_norm``.

    All gradients are treated as one long vector :math:`g = (g_1, \\dots, g_k)`:

    .. math::

        \\lVert g \\rVert_p = \\Big\\lVert \\big(\\lVert g_1 \\rVert_p, \\dots, \\lVert g_k \\rVert_p\\big) \\Big\\rVert_p,
        \\qquad
        g_i \\leftarrow g_i \\cdot \\min\\Big(1, \\frac{\\text{max\\_norm}}{\\lVert g \\rVert_p + 10^{-6}}\\Big).

    Every gradient is multiplied by the *same* factor, so the update keeps its
    direction and only its length is capped (clipping each element separately,
    ``torch.nn.utils.clip_grad_value_``, changes the direction). A gradient already
    shorter than ``max_norm`` is left as it is, up to the factor
    :math:`\\lVert g\\rVert / (\\lVert g\\rVert + 10^{-6})`, which is 1 to within rounding
    once :math:`\\lVert g\\rVert` is well above :math:`10^{-6}` (the same as
    :func:`torch.nn.utils.clip_grad_norm_`, including the :math:`10^{-6}` that guards
    against division by zero). Each ``.grad`` is scaled in place, in its own dtype and
    memory layout (the same tensor afterwards; a view's base sees the change), and the
    norm returned has the widest of their dtypes, all as in torch. Parameters whose
    ``.grad`` is ``None`` are skipped. A
    non-finite norm is not an error unless ``error_if_nonfinite=True``: the gradients are
    multiplied by the resulting factor, as torch does by default. Any real ``norm_type``
    is taken, as by torch (:math:`p < 1` gives :func:`torch.linalg.vector_norm`'s
    quantities, which are not norms: :math:`p = 0` counts non-zero entries,
    :math:`p = -\\infty` is the smallest absolute entry). Unlike torch's, there is no
    ``foreach`` argument: one implementation, the loop below.

    Taught in chapter 01 (Gradients), as a remedy for exploding gradients (Pascanu et al., 2013).

    Args:
        parameters: a tensor or an iterable of tensors (e.g. ``model.parameters()``).
        max_norm: the largest norm allowed, :math:`\\ge 0`.
        norm_type: :math:`p` of the :math:`\\ell_p` norm, usually :math:`p \\ge 1`
            (``float('inf')`` or ``"inf"``: the largest absolute entry).
        error_if_nonfinite: raise ``RuntimeError`` when the global norm is ``nan`` or
            infinite (the gradients are then left as they are), as torch does.

    Returns:
        The global norm :math:`\\lVert g\\rVert_p` *before* clipping, a 0-d tensor
        (``tensor(0.)`` when no parameter has a gradient).

    >>> w = torch.zeros(2, requires_grad=True)
    >>> b = torch.zeros(1, requires_grad=True)
    >>> w.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])  # global norm 5
    >>> clip_grad_norm([w, b], max_norm=1.0).item()
    5.0
    >>> [round(v, 4) for v in w.grad.tolist() + b.grad.tolist()]      # same direction, length 1
    [0.6, 0.0, 0.8]
    >>> clip_grad_norm([w, b], max_norm=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid max_norm: -1.0 (expected a number >= 0)
    """
    norm_type, grads = _gradients(parameters, max_norm, norm_type)
    if not grads:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total = torch.linalg.vector_norm(norms, norm_type)
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor.to(g.device, g.dtype))
    return total


class HessianEigenpair(NamedTuple):
    """What :func:`hessian_top_eigenvalue` returns."""

    #: :math:`\lambda`, the Hessian's eigenvalue of largest magnitude (its sign kept).
    value: float
    #: :math:`v`, a unit eigenvector for it, one tensor shaped like each parameter.
    vector: list[torch.Tensor]
    #: The number of Hessian-vector products computed.
    iterations: int


def hessian_top_eigenvalue(
    loss_fn: Callable[[], torch.Tensor], params, *, iters: int = 50, tol: float = 1e-6, seed: int = 0
) -> HessianEigenpair:
    r"""The Hessian's eigenvalue of largest magnitude, by power iteration on Hessian-vector products.

    For a loss :math:`L(\theta)` with Hessian :math:`H = \nabla^2 L(\theta)` (all
    parameters as one vector), start from a random unit vector :math:`v_0` and repeat

    .. math::

        w = H v_k, \qquad \lambda_k = v_k^\top w \ \text{(the Rayleigh quotient)}, \qquad v_{k+1} = w / \lVert w \rVert.

    :math:`H` is never formed: :math:`Hv = \nabla_\theta (\nabla_\theta L \cdot v)` costs
    one more backward pass through the graph of the gradient (autograd's double
    backward, ``create_graph=True``). Writing :math:`v_0` in an orthonormal eigenbasis
    of the symmetric :math:`H`, each product multiplies the component along eigenvalue
    :math:`\lambda_i` by :math:`\lambda_i`, so :math:`v_k` turns towards the eigenvector
    of the largest :math:`|\lambda|` (the "top" eigenvalue, as PyHessian and the
    sharpness literature call it), the others shrinking like :math:`|\lambda_2/\lambda_1|^k`;
    the Rayleigh quotient's error shrinks like :math:`|\lambda_2/\lambda_1|^{2k}`. It
    finds the largest *magnitude*: at a saddle or maximum where the most negative
    eigenvalue dominates, :math:`\lambda` is negative. Iteration stops when two
    successive quotients differ by at most ``tol`` relative to the latest, or after
    ``iters`` products: the value is then typically within a few ``tol`` (relative) of
    :math:`\lambda_1`, the vector within about :math:`\sqrt{\text{tol}}` of the eigenvector.
    With :math:`\lambda_1 = -\lambda_2` (equal magnitudes, opposite signs) it does not
    converge; with a tiny gap, it converges slowly.

    For gradient descent on a quadratic with largest curvature :math:`L = \lambda_1 > 0`,
    the iteration diverges along the top eigenvector exactly when :math:`\eta > 2/L`;
    near a minimum of any smooth loss the same holds locally.

    ``loss_fn`` is called once (a dropout mask it draws is then fixed for every
    product); the gradients come from :func:`torch.autograd.grad`, so every
    parameter's ``.grad`` is left as it was. The start vector is drawn from a
    :class:`torch.Generator` of its own seeded with ``seed``; the global generators are
    left alone.

    Taught in chapter 09 (Learning rate).

    Args:
        loss_fn: a function of no arguments returning the scalar loss, computed from
            ``params`` (as a :mod:`torch.optim` closure, without the ``backward``).
        params: a tensor or an iterable of tensors that require gradients (e.g.
            ``model.parameters()``), floating point. A parameter the loss does not
            depend on contributes rows and columns of zeros to :math:`H`.
        iters: the most Hessian-vector products to compute, :math:`\ge 1`.
        tol: the relative change of :math:`\lambda` at which to stop, :math:`\ge 0`
            (``0``: stop only when it no longer changes at all).
        seed: seeds the generator drawing :math:`v_0`.

    Returns:
        A :class:`HessianEigenpair` ``(value, vector, iterations)``; ``value`` is 0.0
        when :math:`H v_0 = 0` (a loss linear in the parameters, say).

    >>> x = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    >>> A = torch.tensor([[3.0, 1.0], [1.0, 3.0]], dtype=torch.float64)   # eigenvalues 4 and 2
    >>> top = hessian_top_eigenvalue(lambda: 0.5 * x @ A @ x, [x], tol=1e-12)   # the Hessian of x'Ax/2 is A
    >>> round(top.value, 6), [round(abs(c), 4) for c in top.vector[0].tolist()]
    (4.0, [0.7071, 0.7071])
    >>> hessian_top_eigenvalue(lambda: 0.5 * x @ A @ x, [x], iters=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid iters: 0 (expected a positive integer)
    """
    if not callable(loss_fn):
        raise TypeError(f"Invalid loss_fn: {type(loss_fn).__name__} (expected a function of no arguments returning the loss)")
    params = _parameters_requiring_grad(params)
    iters = check_int("iters", iters, low=1)
    tol = check_real("tol", tol, low=0.0, finite=True)
    generator = torch.Generator().manual_seed(check_seed(seed))  # its own generator: the global ones are left alone

    with torch.enable_grad():
        loss = loss_fn()
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            what = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"Invalid loss_fn: returned {what} (expected a scalar tensor)")
        grads = torch.autograd.grad(loss.reshape(()), params, create_graph=True, allow_unused=True)
    # Only gradients that still depend on the parameters have a Hessian block; the others' rows are zero.
    live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]

    def hessian_times(v: list[torch.Tensor]) -> list[torch.Tensor]:
        if not live:
            return [torch.zeros_like(p) for p in params]
        hv = torch.autograd.grad([grads[i] for i in live], params, grad_outputs=[v[i] for i in live],
                                 retain_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if h is None else h.detach() for p, h in zip(params, hv)]

    def dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
        return sum(float((x * y).sum()) for x, y in zip(a, b))

    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
    norm = math.sqrt(dot(v, v))
    v = [x / norm for x in v]
    value = 0.0
    for k in range(1, iters + 1):
        hv = hessian_times(v)
        previous, value = value, dot(v, hv)
        hv_norm = math.sqrt(dot(hv, hv))
        if hv_norm == 0.0:  # H v = 0: v lies in H's null space
            return HessianEigenpair(0.0, v, k)
        if k > 1 and abs(value - previous) <= tol * abs(value):
            return HessianEigenpair(value, v, k)
        v = [x / hv_norm for x in hv]
    return HessianEigenpair(value, v, iters)


def _parameters_requiring_grad(params) -> list[torch.Tensor]:
    params = _tensor_list("params", params)
    if not params:
        raise ValueError("Invalid params: empty (expected at least one tensor)")
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"Invalid params: holds a {type(p).__name__} (expected tensors)")
        check_floating("params", p)
        if not p.requires_grad:
            raise ValueError(f"Invalid params: a tensor of shape {tuple(p.shape)} does not require grad")
    return params
