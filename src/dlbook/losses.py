r"""Loss functions: how far a prediction is from its target, as one number to minimise.

Taught in chapter 03 (Loss functions). Each function here has the semantics of its
namesake in :mod:`torch.nn.functional` (same arguments, same value, same gradient:
``tests/test_losses.py`` checks that), but is written out from elementary tensor
operations so that each step of the formula is visible.

Argument checks never make the host wait for a GPU (see :mod:`dlbook.validation`):
shapes and dtypes are checked on the host; the checks on *values* (class indices in
range, probabilities in :math:`[0, 1]`) raise a ``ValueError`` at once for CPU tensors
and are device-side assertions on CUDA, which fail the next synchronisation with a
``RuntimeError``, as PyTorch's own kernels do. On a CUDA machine
``tests/test_validation.py`` runs a training step with them under
``torch.cuda.set_sync_debug_mode("error")``, which turns any synchronisation into an error.

Any memory layout (transposed, sliced, expanded) gives torch's results, in float32 and
float64. In float16 and bfloat16, the losses built on logarithms and exponentials
(:func:`cross_entropy`, :func:`log_softmax`, :func:`log_sigmoid`,
:func:`binary_cross_entropy_with_logits`) differ from torch's by about one rounding
error of the dtype: torch computes them in float32 and rounds once, while here each
elementary operation rounds.

Every loss takes ``reduction``:

* ``"none"``: one loss per element (per example for :func:`cross_entropy`);
* ``"mean"`` (the default): their average;
* ``"sum"``: their sum.

>>> import torch
>>> logits = torch.tensor([[2.0, 0.5, -1.0]])
>>> round(cross_entropy(logits, torch.tensor([0])).item(), 4)
0.2413
"""

from __future__ import annotations

import torch

from dlbook.validation import check_choice, check_floating, check_tensor, check_values

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "l1_loss",
    "log_sigmoid",
    "log_softmax",
    "mse_loss",
]

_REDUCTIONS = ("mean", "sum", "none")

#: The floor PyTorch puts under each logarithm in :func:`binary_cross_entropy`.
BCE_LOG_FLOOR = -100.0
#: The floor PyTorch puts under :math:`p(1-p)` in the gradient of :func:`binary_cross_entropy`.
BCE_GRAD_EPSILON = 1e-12
#: That floor as PyTorch's kernel applies it: rounded to float32 (9.999999960041972e-13), in float64 too.
_BCE_GRAD_FLOOR = float(torch.tensor(BCE_GRAD_EPSILON, dtype=torch.float32))


def _check_reduction(reduction: str) -> None:
    check_choice("reduction", reduction, _REDUCTIONS)


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_pair(input: torch.Tensor, target: torch.Tensor, reduction: str) -> None:
    check_tensor("input", input)
    check_tensor("target", target)
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(
            f"Invalid target shape: {tuple(target.shape)} (expected the input's shape {tuple(input.shape)})"
        )


def _log_softmax(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """The arithmetic of :func:`log_softmax`, without its argument check (printed in chapter 03)."""
    m = logits.max(dim=dim, keepdim=True).values.detach()   # a constant for autograd
    shifted = logits - m                                      # every exponent <= 0
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def _log_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """The arithmetic of :func:`log_sigmoid`, without its argument check (printed in chapter 03)."""
    # min(z, 0) via torch.minimum: at z = 0 it splits the gradient evenly, which makes
    # the slope of log(sigmoid) at 0 exactly 1/2, as it should be.
    return torch.minimum(logits, torch.zeros_like(logits)) - torch.log1p(torch.exp(-torch.abs(logits)))


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The arithmetic of :func:`cross_entropy`, one loss per example (printed in chapter 03).

    Classes along dim 1: logits ``(N, C)`` or ``(N, C, d1, ...)``, target ``(N,)`` or ``(N, d1, ...)``.
    """
    log_probs = _log_softmax(logits, dim=1)
    return -log_probs.gather(1, target.long().unsqueeze(1)).squeeze(1)


def _binary_cross_entropy_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The arithmetic of :func:`binary_cross_entropy_with_logits`, one loss per element (printed in chapter 03)."""
    return (1 - target) * logits - _log_sigmoid(logits)


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""The logarithm of the softmax along ``dim``, computed without overflow.

    .. math:: \log \operatorname{softmax}(z)_k = z_k - \log \sum_j e^{z_j}
              = (z_k - m) - \log \sum_j e^{z_j - m}, \qquad m = \max_j z_j

    Subtracting the maximum :math:`m` changes nothing mathematically but keeps every
    exponent :math:`\le 0`, so :math:`e^{z_j - m} \le 1` never overflows and the
    largest term is exactly 1, so the sum never underflows to 0 (the
    *log-sum-exp trick*). :math:`m` is treated as a constant for autograd: its
    gradient would cancel exactly anyway.

    Taught in chapter 03 (Loss functions).

    >>> z = torch.tensor([1000.0, 0.0])          # exp(1000) overflows float32...
    >>> log_softmax(z).tolist()                  # ...but the shifted form is exact
    [0.0, -1000.0]
    """
    check_floating("logits", logits)
    return _log_softmax(logits, dim)


def log_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    r"""The logarithm of the sigmoid, elementwise, computed without overflow, like :func:`torch.nn.functional.logsigmoid`.

    .. math:: \log \sigma(z) = -\log\big(1 + e^{-z}\big)
              = \min(z, 0) - \log\big(1 + e^{-|z|}\big)

    The naive left-hand form overflows for very negative :math:`z` (:math:`e^{-z}`
    is ``inf`` in float32 once :math:`-z` passes about 88.7), and computing
    :math:`\sigma(z)` first and then its logarithm gives :math:`\log 0 = -\infty`
    once the sigmoid underflows. The right-hand form only exponentiates
    :math:`-|z| \le 0`, so it is finite for every finite :math:`z`; for
    :math:`z \to -\infty` it tends to :math:`z` itself, as it should. Its gradient is
    :math:`1 - \sigma(z)`.

    Args:
        logits: any shape, floating point, any real values.

    Taught in chapter 03 (Loss functions).

    >>> log_sigmoid(torch.tensor([-1000.0, 0.0, 1000.0])).tolist()
    [-1000.0, -0.6931471824645996, 0.0]
    >>> torch.log(torch.sigmoid(torch.tensor([-1000.0]))).tolist()     # the naive way
    [-inf]
    """
    check_floating("logits", logits)
    return _log_sigmoid(logits)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Cross-entropy between the softmax of ``logits`` and class-index targets, like :func:`torch.nn.functional.cross_entropy`.

    For example :math:`i` with logits :math:`z_i \in \mathbb R^C` and true class
    :math:`y_i`:

    .. math:: \ell_i = -\log \operatorname{softmax}(z_i)_{y_i}
              = -z_{i,y_i} + \log \sum_{k=1}^{C} e^{z_{i,k}}

    The softmax happens *inside* the loss (via :func:`log_softmax`, stable for any
    logits), so a model trained with it outputs raw logits and the loss returns a
    number, not a probability distribution. The gradient with respect to the
    logits is :math:`\operatorname{softmax}(z_i) - \mathrm{onehot}(y_i)`
    (divided by :math:`N` for ``"mean"``).

    Args:
        logits: shape ``(N, C)``, floating point; any real values. As in torch, also
            ``(C,)`` (one example, ``target`` 0-d) and ``(N, C, d_1, ..., d_k)`` (a class
            score at every position, e.g. every pixel; ``target`` ``(N, d_1, ..., d_k)``,
            and ``"mean"`` averages over all :math:`N d_1 \cdots d_k` positions).
        target: shape ``(N,)`` (the other shapes above), integer class indices in ``[0, C)``.
        reduction: ``"mean"`` (over the ``N`` examples), ``"sum"`` or ``"none"``
            (returns the shape of ``target``).

    Not supported (unlike torch's): class weights, ``ignore_index``, label
    smoothing, probability targets (a float ``target`` raises ``TypeError``). A class
    index outside ``[0, C)`` on the CPU raises ``ValueError`` here (torch raises
    ``IndexError``); on CUDA both fail with a device-side assertion (see
    :mod:`dlbook.validation`). Any integer dtype is accepted for ``target`` (torch
    wants int64 or uint8).

    Taught in chapter 03 (Loss functions).

    >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    >>> target = torch.tensor([0, 1])
    >>> [round(v, 4) for v in cross_entropy(logits, target, reduction="none").tolist()]
    [0.2413, 3.0949]
    >>> cross_entropy(logits, target).shape       # one number, not a distribution
    torch.Size([])
    >>> round(cross_entropy(logits[0], target[0]).item(), 4)     # one example, unbatched
    0.2413
    >>> cross_entropy(logits, target, reduction="avg")
    Traceback (most recent call last):
    ...
    ValueError: Invalid reduction: 'avg' (expected 'mean', 'sum' or 'none')
    """
    check_tensor("logits", logits)
    check_tensor("target", target)
    _check_reduction(reduction)
    if logits.ndim == 0:
        raise ValueError("Invalid logits shape: () (expected (N, C), (C,) or (N, C, d1, ...))")
    if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"Invalid target dtype: {target.dtype} (expected integer class indices)")
    batched = logits.ndim >= 2
    classes = logits.shape[1] if batched else logits.shape[0]
    expected = (logits.shape[0], *logits.shape[2:]) if batched else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"Invalid target shape: {tuple(target.shape)} (expected {expected} "
                         f"for logits of shape {tuple(logits.shape)})")
    check_values((target >= 0) & (target < classes),  # no host sync on a GPU
                 f"Invalid target: class indices must lie in [0, {classes})")
    if not batched:  # one example: a batch of one
        return _reduce(_cross_entropy(logits.unsqueeze(0), target.unsqueeze(0)).squeeze(0), reduction)
    return _reduce(_cross_entropy(logits, target), reduction)


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean squared error, like :func:`torch.nn.functional.mse_loss`.

    .. math:: \ell_j = (x_j - y_j)^2, \qquad \text{mean: } \frac{1}{n} \sum_{j=1}^{n} \ell_j

    The mean runs over *all* :math:`n` elements (for ``(N, C)`` inputs that is
    :math:`N C`, not :math:`N`).

    Args:
        input, target: the same shape (unlike torch, which broadcasts with a
            warning, a shape mismatch is an error here), floating point.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (same shape as ``input``).

    Taught in chapter 03 (Loss functions).

    >>> mse_loss(torch.tensor([2.5, 0.0, 2.0]), torch.tensor([3.0, -0.5, 2.0]))
    tensor(0.1667)
    >>> mse_loss(torch.zeros(3), torch.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: Invalid target shape: (2,) (expected the input's shape (3,))
    """
    _check_pair(input, target, reduction)
    return _reduce((input - target) ** 2, reduction)


def l1_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Mean absolute error, like :func:`torch.nn.functional.l1_loss`.

    .. math:: \ell_j = |x_j - y_j|

    Its gradient is :math:`\operatorname{sign}(x_j - y_j)` (0 where they are equal):
    every error pulls with the same force, so one outlier cannot dominate the way it
    does under :func:`mse_loss`, whose gradient :math:`2(x_j - y_j)` grows with the error.

    Args:
        input, target: the same shape, floating point.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Taught in chapter 03 (Loss functions).

    >>> l1_loss(torch.tensor([2.5, 0.0, 2.0]), torch.tensor([3.0, -0.5, 2.0]))
    tensor(0.3333)
    """
    _check_pair(input, target, reduction)
    return _reduce(torch.abs(input - target), reduction)


class _BinaryCrossEntropy(torch.autograd.Function):
    """PyTorch's binary cross-entropy on probabilities, forward and backward written out.

    PyTorch's backward is *not* the derivative of its clamped forward: it is the
    unclamped derivative with its denominator floored, so it is reproduced here as
    an explicit ``backward`` rather than left to autograd. The target gets a gradient
    too, as in PyTorch: :math:`\\partial \\ell / \\partial y = -\\operatorname{logit}(p) = \\log(1-p) - \\log p`,
    unclamped.
    """

    @staticmethod
    def forward(ctx, p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(p, y)
        log_p = torch.clamp(torch.log(p), min=BCE_LOG_FLOOR)
        log_1mp = torch.clamp(torch.log1p(-p), min=BCE_LOG_FLOOR)
        return -(y * log_p + (1 - y) * log_1mp)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        p, y = ctx.saved_tensors
        grad_p = grad_y = None
        if ctx.needs_input_grad[0]:
            grad_p = grad_output * (p - y) / torch.clamp(p * (1 - p), min=_BCE_GRAD_FLOOR)
        if ctx.needs_input_grad[1]:
            grad_y = torch.logit(p).neg() * grad_output
        return grad_p, grad_y


def binary_cross_entropy(probs: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Binary cross-entropy of predicted probabilities, like :func:`torch.nn.functional.binary_cross_entropy`.

    .. math:: \ell_j = -\big(y_j \log p_j + (1 - y_j) \log(1 - p_j)\big)

    **PyTorch's clamp, reproduced.** When :math:`p_j` is exactly 0 or 1 (which
    happens in float32 with torch.sigmoid once its input exceeds about 16.6 or falls below about -88.7),
    :math:`\log 0 = -\infty` and the loss would be infinite. PyTorch floors each
    logarithm at ``-100``, so the loss of a single element is at most 100, and it
    computes the gradient as

    .. math:: \frac{\partial \ell_j}{\partial p_j} = \frac{p_j - y_j}{\max\big(p_j(1 - p_j),\ 10^{-12}\big)}

    (the exact derivative, with its denominator floored; PyTorch's :math:`10^{-12}` is a
    float32 number, :math:`9.999999960041972 \cdot 10^{-13}`, in float64 too). Both are
    reproduced here. The consequence, shown in chapter 03: once a sigmoid has rounded to 0 or
    1, the loss is stuck at 100 and the gradient reaching the logit through the
    sigmoid is :math:`\sigma'(z) = 0`. Use :func:`binary_cross_entropy_with_logits`.

    Args:
        probs: probabilities in :math:`[0, 1]`, any shape, floating point.
        target: the same shape, values in :math:`[0, 1]` (usually 0 or 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Not supported: torch's ``weight``. Unlike torch, which requires ``probs`` and
    ``target`` to have the same dtype, a float32/float64 pair promotes to float64.

    Raises:
        ValueError: a probability or a target lies outside :math:`[0, 1]` (CPU tensors;
            on CUDA a device-side assertion, as in torch, see :mod:`dlbook.validation`;
            torch raises ``RuntimeError`` on the CPU).

    Taught in chapter 03 (Loss functions).

    >>> p, y = torch.tensor([0.9, 0.2]), torch.tensor([1.0, 0.0])
    >>> [round(v, 4) for v in binary_cross_entropy(p, y, reduction="none").tolist()]   # -log 0.9, -log 0.8
    [0.1054, 0.2231]
    >>> binary_cross_entropy(torch.tensor([1.0]), torch.tensor([0.0]))    # -log(0), floored
    tensor(100.)
    """
    _check_pair(probs, target, reduction)
    check_values((probs >= 0) & (probs <= 1),  # no host sync on a GPU
                 "Invalid probs: all elements must lie in [0, 1] (got values outside; "
                 "pass logits to binary_cross_entropy_with_logits)")
    check_values((target >= 0) & (target <= 1), "Invalid target: all elements must lie in [0, 1]")
    return _reduce(_BinaryCrossEntropy.apply(probs, target), reduction)


def binary_cross_entropy_with_logits(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    r"""Binary cross-entropy of :math:`\sigma(z)`, computed from the logit :math:`z` directly, like :func:`torch.nn.functional.binary_cross_entropy_with_logits`.

    Substituting :math:`p = \sigma(z)` into :func:`binary_cross_entropy` and using
    :math:`\log(1 - \sigma(z)) = \log \sigma(z) - z`:

    .. math:: \ell_j = (1 - y_j)\, z_j - \log \sigma(z_j), \qquad
              \log \sigma(z) = \min(z, 0) - \log\big(1 + e^{-|z|}\big)

    The right-hand form never exponentiates a positive number, so it is finite
    for every finite :math:`z`, and the probability is never rounded to 0 or 1 on
    the way. The gradient is :math:`\sigma(z_j) - y_j`: bounded, and never zero
    for a confidently wrong prediction.

    Args:
        logits: any shape, floating point, any real values.
        target: the same shape, values in :math:`[0, 1]`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Unlike torch, float64 logits with a float32 target give a float64 loss (the usual
    type promotion); torch returns float32 there. Not supported: torch's ``weight``
    and ``pos_weight``.

    Taught in chapter 03 (Loss functions).

    >>> z, y = torch.tensor([40.0]), torch.tensor([0.0])
    >>> binary_cross_entropy_with_logits(z, y)                      # exact: log(1 + e^40)
    tensor(40.)
    >>> binary_cross_entropy(torch.sigmoid(z), y)                    # sigmoid(40) rounds to 1.0
    tensor(100.)
    """
    _check_pair(logits, target, reduction)
    check_floating("logits", logits)
    return _reduce(_binary_cross_entropy_with_logits(logits, target), reduction)
