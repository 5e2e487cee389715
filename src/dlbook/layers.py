r"""Layers that regularize and normalize: dropout, batch normalization, layer normalization.

Taught in chapters 07 (Regularization: :class:`Dropout`, :class:`BatchNorm1d`) and
08 (Normalization: :class:`BatchNorm1d`, :class:`BatchNorm2d`, :class:`LayerNorm`).

Each layer is an :class:`torch.nn.Module` written with elementary tensor operations
(means, squares, square roots, a random mask) so that every step of the math is
visible; autograd differentiates them. The tests check outputs, gradients and
running statistics against :class:`torch.nn.Dropout`, :class:`torch.nn.BatchNorm1d`,
:class:`torch.nn.BatchNorm2d` and :class:`torch.nn.LayerNorm`. Parameter and buffer names equal torch's, so a
``state_dict`` moves between the two.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from dlbook.validation import check_int, check_real


def _check_eps(eps) -> float:
    return check_real("eps", eps, low=0.0)


class Dropout(nn.Module):
    r"""Inverted dropout: in training, zero each element with probability ``p`` and scale the rest by :math:`1/(1-p)`.

    .. math::
        m_i \sim \mathrm{Bernoulli}(1 - p), \qquad
        y_i = \frac{m_i\, x_i}{1 - p} \quad\text{(training)}, \qquad
        y = x \quad\text{(evaluation)}

    The scaling keeps the expected value of every element unchanged,
    :math:`\mathbb E[y_i] = x_i`, so the next layer sees inputs of the same size
    in training and in evaluation, where dropout does nothing. ``p = 1`` drops
    everything (the output is zeros, as in torch); ``p = 0`` is the identity.
    The mask is drawn the way :class:`torch.nn.Dropout` draws it on the CPU, from
    torch's global generator (``torch.empty_like(x).bernoulli_(1 - p)``), so
    :func:`dlbook.seed_everything` makes it repeatable, and under the same seed the
    output and the generator's state afterwards are torch's, bit for bit. On a GPU
    torch uses a fused kernel with a random stream of its own: the masks have the same
    distribution there, not the same values.

    Shape: any; the output has the input's shape.

    Args:
        p: probability of zeroing an element, in :math:`[0, 1]`.

    Taught in chapter 07 (Regularization).

    >>> torch.manual_seed(0) and None
    >>> drop = Dropout(0.5)
    >>> drop(torch.ones(8))          # kept elements are scaled by 1 / (1 - 0.5) = 2
    tensor([0., 0., 2., 0., 0., 0., 2., 2.])
    >>> drop.eval()(torch.ones(8))   # evaluation mode: the identity
    tensor([1., 1., 1., 1., 1., 1., 1., 1.])
    >>> Dropout(1.5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid dropout probability: 1.5 (expected a number in [0, 1])
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = check_real("p", p, low=0.0, high=1.0, label="dropout probability")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x  # evaluation mode: the identity
        if self.p == 1.0:
            return x * 0.0  # all dropped; keeps the graph, as torch does
        # keep each element with probability 1 - p, independently: m_i ~ Bernoulli(1 - p)
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _BatchNorm(nn.Module):
    r"""What :class:`BatchNorm1d` and :class:`BatchNorm2d` share: arguments, parameters, buffers and the arithmetic.

    The two differ only in the input shapes they take; both normalize each channel
    (axis 1) over every other axis. Read :class:`BatchNorm1d`'s docstring for the math.
    """

    _ndims: tuple[int, ...]  # the input dimensions a subclass takes
    _expected: str  # those shapes, for the error message ("{c}" is num_features)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True) -> None:
        super().__init__()
        num_features = check_int("num_features", num_features, low=1)
        if momentum is not None:
            momentum = check_real("momentum", momentum, low=0.0, high=1.0)
        self.num_features = num_features
        self.eps = _check_eps(eps)
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.num_features
        if x.ndim not in self._ndims or x.shape[1] != c:
            raise ValueError(
                f"Invalid input shape: {tuple(x.shape)} "
                f"(expected {self._expected.format(c=c)})"
            )
        dtype = x.dtype  # half and bfloat16 are computed in the buffers' float32 and returned as they came, as torch does
        x = x.to(torch.promote_types(dtype, self.running_mean.dtype))
        axes = (0, *range(2, x.ndim))  # every axis but the channels: (0,), (0, 2) or (0, 2, 3)
        shape = (1, -1) + (1,) * (x.ndim - 2)  # a per-channel vector, shaped to broadcast against x
        if self.training:
            n = x.numel() // c  # values per channel in this batch: N, N*L or N*H*W
            if n < 2:
                raise ValueError(
                    "Expected more than 1 value per channel when training, "
                    f"got input size {tuple(x.shape)}"
                )
            mean = x.mean(dim=axes)
            var = ((x - mean.reshape(shape)) ** 2).mean(dim=axes)  # biased
            with torch.no_grad():  # running statistics, for evaluation mode
                self.num_batches_tracked += 1
                if self.momentum is None:  # cumulative: 1/t, computed on the device
                    m = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
                else:
                    m = self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean)
                unbiased = var * n / (n - 1)
                self.running_var.mul_(1 - m).add_(m * unbiased)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.reshape(shape)) / torch.sqrt(
            var.reshape(shape) + self.eps
        )
        y = self.weight.reshape(shape) * x_hat + self.bias.reshape(shape) if self.affine else x_hat
        return y.to(dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization over a mini-batch, per feature (Ioffe & Szegedy, 2015).

    In training mode each feature :math:`j` is standardized with the mean and the
    (biased) variance of the current mini-batch of :math:`N` rows, then scaled and
    shifted by learned :math:`\gamma_j, \beta_j`:

    .. math::
        \mu_j = \frac1N \sum_{i} x_{ij}, \qquad
        \sigma_j^2 = \frac1N \sum_{i} (x_{ij} - \mu_j)^2, \qquad
        y_{ij} = \gamma_j \frac{x_{ij} - \mu_j}{\sqrt{\sigma_j^2 + \varepsilon}} + \beta_j

    It also keeps running estimates of the population statistics, updated once
    per training batch with momentum :math:`m`; the running variance uses the
    *unbiased* batch variance :math:`\frac{N}{N-1}\sigma_j^2`:

    .. math::
        \hat\mu_j \leftarrow (1 - m)\,\hat\mu_j + m\,\mu_j, \qquad
        \hat\sigma_j^2 \leftarrow (1 - m)\,\hat\sigma_j^2 + m\,\tfrac{N}{N-1}\sigma_j^2

    With ``momentum=None`` the factor is :math:`m = 1/t` at the :math:`t`-th batch
    (``num_batches_tracked``), which makes the running values plain averages of
    the batch statistics. In evaluation mode the running estimates replace the batch
    statistics, so a prediction no longer depends on the other rows of its batch.

    The step never reads a tensor value on the host: with ``momentum=None`` the factor
    :math:`1/t` is computed on the device from ``num_batches_tracked`` (torch's module
    calls ``float(num_batches_tracked)`` there, a GPU synchronisation per batch); the
    running statistics come out the same.

    Shape: ``(N, C)`` or ``(N, C, L)``; statistics are taken over every axis but
    the feature axis ``C``. Output: the input's shape and dtype. A half or bfloat16
    input is computed in float32 (the buffers' dtype), as torch does; unlike torch,
    which raises "mixed dtype", a float64 input to a float32 layer is computed in float64.

    Args:
        num_features: :math:`C`, the number of features (≥ 1).
        eps: :math:`\varepsilon \ge 0`, added to the variance for numerical safety.
        momentum: :math:`m \in [0, 1]` for the running statistics, or ``None`` for a
            cumulative average.
        affine: learn :math:`\gamma` (``weight``, initially 1) and :math:`\beta`
            (``bias``, initially 0).

    Taught in chapters 07 (Regularization) and 08 (Normalization).

    >>> bn = BatchNorm1d(2)
    >>> x = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> bn(x)                                     # each column: mean 0, variance 1 (up to eps)
    tensor([[-1.0000, -1.0000],
            [ 1.0000,  1.0000]], grad_fn=<AddBackward0>)
    >>> bn.running_mean, bn.running_var           # 0.9 * (0, 1) + 0.1 * (mean, unbiased variance)
    (tensor([0.2000, 2.0000]), tensor([ 1.1000, 20.9000]))
    >>> BatchNorm1d(0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid num_features: 0 (expected a positive integer)
    """

    _ndims = (2, 3)
    _expected = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization of images, per channel, over the batch and every pixel (Ioffe & Szegedy, 2015).

    For a batch of feature maps :math:`x_{nchw}` (``N`` examples, ``C`` channels,
    :math:`H \times W` positions) the statistics of channel :math:`c` pool its
    :math:`M = N H W` values, every example and every position, because a
    convolution applies the same filter at every position, so one :math:`\gamma_c,
    \beta_c` serves the whole channel:

    .. math::
        \mu_c = \frac1M \sum_{n,h,w} x_{nchw}, \qquad
        \sigma_c^2 = \frac1M \sum_{n,h,w} (x_{nchw} - \mu_c)^2, \qquad
        y_{nchw} = \gamma_c \frac{x_{nchw} - \mu_c}{\sqrt{\sigma_c^2 + \varepsilon}} + \beta_c

    Everything else is :class:`BatchNorm1d`'s, with :math:`M` in place of :math:`N`:
    the running estimates, updated once per training batch with momentum :math:`m`
    (``None``: the cumulative average, :math:`m = 1/t`) and the *unbiased* variance,

    .. math::
        \hat\mu_c \leftarrow (1 - m)\,\hat\mu_c + m\,\mu_c, \qquad
        \hat\sigma_c^2 \leftarrow (1 - m)\,\hat\sigma_c^2 + m\,\tfrac{M}{M-1}\sigma_c^2,

    replace the batch statistics in evaluation mode; training needs :math:`M \ge 2`.
    The same code computes both layers (:class:`torch.nn.BatchNorm2d` is checked
    against it in every memory layout, channels-last included).

    Shape: ``(N, C, H, W)``; output: the input's shape and dtype. A half or bfloat16
    input is computed in float32 (the buffers' dtype), as torch does; unlike torch,
    which raises "mixed dtype", a float64 input to a float32 layer is computed in float64.

    Args:
        num_features: :math:`C`, the number of channels (≥ 1).
        eps: :math:`\varepsilon \ge 0`, added to the variance for numerical safety.
        momentum: :math:`m \in [0, 1]` for the running statistics, or ``None`` for a
            cumulative average.
        affine: learn :math:`\gamma` (``weight``, initially 1) and :math:`\beta`
            (``bias``, initially 0), one of each per channel.

    Taught in chapter 08 (Normalization).

    >>> bn = BatchNorm2d(2)
    >>> x = torch.arange(16.0).reshape(2, 2, 2, 2)     # 2 images, 2 channels of 2 x 2 pixels
    >>> y = bn(x)
    >>> y.mean(dim=(0, 2, 3)).abs().max() < 1e-6, y.var(dim=(0, 2, 3), unbiased=False)   # per channel: mean 0, variance 1
    (tensor(True), tensor([1.0000, 1.0000], grad_fn=<VarBackward0>))
    >>> bn.running_mean, bn.running_var     # 0.1 * (5.5, 9.5); 0.9 + 0.1 * 138 / 7 (M = 8 values per channel)
    (tensor([0.5500, 0.9500]), tensor([2.8714, 2.8714]))
    >>> bn(torch.zeros(4, 2, 3))
    Traceback (most recent call last):
    ...
    ValueError: Invalid input shape: (4, 2, 3) (expected (N, 2, H, W))
    """

    _ndims = (4,)
    _expected = "(N, {c}, H, W)"


class LayerNorm(nn.Module):
    r"""Layer normalization: standardize each example over its own features (Ba, Kiros & Hinton, 2016).

    For one example with the :math:`D` features named by ``normalized_shape``
    (the last axes of the input):

    .. math::
        \mu = \frac1D \sum_{k} x_k, \qquad
        \sigma^2 = \frac1D \sum_{k} (x_k - \mu)^2, \qquad
        y_k = \gamma_k \frac{x_k - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta_k

    Nothing is averaged over the batch, so there are no running statistics and
    training and evaluation mode compute the same thing, for any batch size
    (even 1).

    Shape: ``(*, *normalized_shape)``; output: the input's shape and dtype. A half or
    bfloat16 input is computed in float32, as torch does; unlike torch, which raises
    "mixed dtype", a float64 input to a float32 layer is computed in float64.

    Args:
        normalized_shape: an int or a tuple of ints, the trailing shape to normalize over.
        eps: :math:`\varepsilon \ge 0`, added to the variance.
        elementwise_affine: learn :math:`\gamma` (``weight``, initially 1) and
            :math:`\beta` (``bias``, initially 0), each of shape ``normalized_shape``.

    Taught in chapter 08 (Normalization).

    >>> ln = LayerNorm(2)
    >>> ln(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))   # each row: mean 0, variance 1 (up to eps)
    tensor([[-1.0000,  1.0000],
            [-1.0000,  1.0000]], grad_fn=<AddBackward0>)
    >>> LayerNorm((3, -1))
    Traceback (most recent call last):
    ...
    ValueError: Invalid normalized_shape: (3, -1) (expected positive integers)
    """

    def __init__(
        self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else normalized_shape
        if not isinstance(shape, Sequence) or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in shape):
            raise TypeError(f"Invalid normalized_shape: {normalized_shape!r} (expected positive integers)")
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"Invalid normalized_shape: {normalized_shape!r} (expected positive integers)")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = _check_eps(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - k :]) != self.normalized_shape or x.ndim < k:
            raise ValueError(
                f"Invalid input shape: {tuple(x.shape)} "
                f"(expected trailing dimensions {self.normalized_shape})"
            )
        dtype = x.dtype  # half and bfloat16 are computed in float32 and returned as they came, as torch does
        x = x.to(torch.promote_types(dtype, torch.float32 if self.weight is None else self.weight.dtype))
        axes = tuple(range(x.ndim - k, x.ndim))  # the example's own features
        mean = x.mean(dim=axes, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)  # biased
        x_hat = (x - mean) / torch.sqrt(var + self.eps)
        y = self.weight * x_hat + self.bias if self.elementwise_affine else x_hat
        return y.to(dtype)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
