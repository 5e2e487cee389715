r"""Activation functions, built from elementary tensor operations.

Taught in chapter 05 (Activation functions). Each function equals its PyTorch
namesake (:func:`torch.relu`, :func:`torch.tanh`, :func:`torch.sigmoid`,
:func:`torch.nn.functional.leaky_relu`, :func:`torch.nn.functional.gelu`) in value
and in the gradient autograd computes for it (``tests/test_activations.py``
checks both, in float32 and float64, up to :math:`|x| = 1000`), but is written with
``torch.where``, ``torch.exp``, ``torch.expm1`` and ``torch.erf`` so that the
formula is on the page.

Two details recur:

* **No overflow.** :math:`e^{x}` overflows float32 at :math:`x \approx 89`. The
  sigmoid and tanh below only ever exponentiate :math:`-|x| \le 0`.
* **The slope at a kink.** ``torch.abs`` has slope 0 at 0, which would give a
  wrong derivative at :math:`x = 0` to anything built on :math:`|x|`; the helper
  :func:`_magnitude` is :math:`|x|` with slope :math:`+1` at 0 instead.

>>> import torch
>>> x = torch.tensor([-1000.0, 0.0, 1000.0])
>>> sigmoid(x).tolist(), tanh(x).tolist()
([0.0, 0.5, 1.0], [-1.0, 0.0, 1.0])
"""

from __future__ import annotations

import math

import torch

__all__ = ["gelu", "leaky_relu", "relu", "sigmoid", "tanh", "ACTIVATIONS"]


def _check(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"Invalid x: {type(x).__name__} (expected torch.Tensor)")
    if not x.is_floating_point():
        raise TypeError(f"Invalid x dtype: {x.dtype} (expected a floating-point tensor)")


def _magnitude(x: torch.Tensor) -> torch.Tensor:
    """:math:`|x|`, with slope +1 at 0 (``torch.abs`` has slope 0 there), so that a function
    built as ``f(|x|)`` on each side of 0 gets its true derivative at 0."""
    return torch.where(x >= 0, x, -x)


def relu(x: torch.Tensor) -> torch.Tensor:
    r"""Rectified linear unit (Nair & Hinton, 2010).

    .. math:: \operatorname{relu}(x) = \max(0, x), \qquad
              \operatorname{relu}'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}

    The derivative at the kink :math:`x = 0` is taken as 0, as PyTorch does.
    Shape: any; the output has the input's shape and dtype.

    Taught in chapter 05 (Activation functions).

    >>> relu(torch.tensor([-2.0, 0.0, 3.0]))
    tensor([0., 0., 3.])
    """
    _check(x)
    return torch.where(x <= 0, torch.zeros_like(x), x)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    r"""Leaky ReLU (Maas, Hannun & Ng, 2013): a small slope instead of zero for negative inputs.

    .. math:: \operatorname{leaky\_relu}(x) = \begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}, \qquad a = \text{negative\_slope}

    Its range is all of :math:`\mathbb R` (for :math:`a > 0`), and its gradient is
    never 0, so a unit cannot "die" (chapter 1). The derivative at 0 is :math:`a`,
    as in PyTorch.

    Taught in chapter 05 (Activation functions).

    >>> leaky_relu(torch.tensor([-2.0, 0.0, 3.0]))
    tensor([-0.0200,  0.0000,  3.0000])
    >>> leaky_relu(torch.tensor([1.0]), negative_slope="0.1")
    Traceback (most recent call last):
    ...
    TypeError: Invalid negative_slope: '0.1' (expected a number)
    """
    _check(x)
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
        raise TypeError(f"Invalid negative_slope: {negative_slope!r} (expected a number)")
    return torch.where(x > 0, x, negative_slope * x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    r"""The logistic sigmoid, computed without overflow for any input.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} = \begin{cases}
                  \dfrac{1}{1 + e^{-|x|}} & x \ge 0 \\[1ex]
                  \dfrac{e^{-|x|}}{1 + e^{-|x|}} & x < 0
              \end{cases}, \qquad \sigma'(x) = \sigma(x)\,(1 - \sigma(x)) \le \tfrac14

    The textbook form :math:`1/(1 + e^{-x})` computes :math:`e^{1000} = \infty` at
    :math:`x = -1000`; the value survives (:math:`1/\infty = 0`), but the gradient
    becomes :math:`0 \cdot \infty = \text{NaN}`. Both branches above exponentiate
    only :math:`-|x| \le 0`. Range: :math:`(0, 1)` mathematically; in floating point
    it rounds to exactly 1 for :math:`x` above about 16.6 (float32) or 36.7 (float64).

    Taught in chapter 05 (Activation functions).

    >>> sigmoid(torch.tensor([-1000.0, 0.0, 2.0]))
    tensor([0.0000, 0.5000, 0.8808])
    """
    _check(x)
    e = torch.exp(-_magnitude(x))  # in (0, 1]: never overflows
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x: torch.Tensor) -> torch.Tensor:
    r"""The hyperbolic tangent, computed without overflow and accurately near 0.

    .. math:: \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}
              = \operatorname{sign}(x)\, \frac{1 - e^{-2|x|}}{1 + e^{-2|x|}}
              = \operatorname{sign}(x)\, \frac{-u}{2 + u}, \quad u = e^{-2|x|} - 1,
              \qquad \tanh'(x) = 1 - \tanh^2(x)

    :math:`u` is computed with ``torch.expm1``, which stays accurate where
    :math:`e^{-2|x|}` is close to 1 (small :math:`x`), where ``1 - exp(...)`` would
    lose most of its digits. Range :math:`(-1, 1)`; zero-centred;
    :math:`\tanh(x) = 2\sigma(2x) - 1`.

    Taught in chapter 05 (Activation functions).

    >>> tanh(torch.tensor([-1000.0, 0.0, 0.5]))
    tensor([-1.0000,  0.0000,  0.4621])
    >>> tanh(torch.tensor([1e-10], dtype=torch.float64)).item()    # 1 - exp(-2e-10) would give 1.000000082840371e-10
    1e-10
    """
    _check(x)
    u = torch.expm1(-2 * _magnitude(x))  # e^{-2|x|} - 1, in (-1, 0]
    t = -u / (2 + u)                     # tanh(|x|)
    return torch.where(x >= 0, t, -t)


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016): the input times the probability that a standard normal is below it.

    .. math:: \operatorname{gelu}(x) = x\,\Phi(x) = \frac{x}{2}\left(1 + \operatorname{erf}\frac{x}{\sqrt 2}\right),
              \qquad \operatorname{gelu}'(x) = \Phi(x) + x\,\varphi(x)

    With ``approximate="tanh"`` (the form in the GELU paper and in BERT and GPT-2):

    .. math:: \operatorname{gelu}(x) \approx \frac{x}{2}\left(1 + \tanh\!\Big(\sqrt{2/\pi}\,\big(x + 0.044715\,x^3\big)\Big)\right)

    Unlike ReLU it is smooth and not monotone: it dips below zero, to a minimum
    of about :math:`-0.17` near :math:`x \approx -0.75`, so its range is not
    :math:`(-\infty, \infty)` but about :math:`[-0.17, \infty)`.

    Args:
        x: any shape, floating point.
        approximate: ``"none"`` (exact, with ``erf``) or ``"tanh"``.

    Taught in chapter 05 (Activation functions).

    >>> gelu(torch.tensor([-3.0, 0.0, 1.0]))
    tensor([-0.0040,  0.0000,  0.8413])
    >>> gelu(torch.tensor([1.0]), approximate="fast")
    Traceback (most recent call last):
    ...
    ValueError: Invalid approximate: 'fast' (expected 'none' or 'tanh')
    """
    _check(x)
    if approximate == "none":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    raise ValueError(f"Invalid approximate: {approximate!r} (expected 'none' or 'tanh')")


#: The book's activations by name, as :func:`dlbook.models.mlp` names them.
ACTIVATIONS = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid, "leaky_relu": leaky_relu, "gelu": gelu}
