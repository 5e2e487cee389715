r"""Activation functions, built from elementary tensor operations.

Taught in chapter 05 (Activation functions). Each function equals its PyTorch
namesake (:func:`torch.relu`, :func:`torch.tanh`, :func:`torch.sigmoid`,
:func:`torch.nn.functional.leaky_relu`, :func:`torch.nn.functional.gelu`,
:func:`torch.nn.functional.silu`) in value
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

Any memory layout (transposed, sliced with a step, expanded) and any floating dtype gives
torch's result. Unlike :func:`torch.relu`, :func:`torch.sigmoid` and :func:`torch.tanh`,
which also take integer tensors (``relu`` keeps the integer dtype, the other two return
floats), every function here raises ``TypeError`` for a tensor that is not floating
point: integers reaching an activation are almost always a mistake (class labels
passed for features). torch's ``leaky_relu``, ``gelu`` and ``silu`` reject them too.

In float16 and bfloat16 the results differ from torch's in the last bits (a few units of
:math:`\varepsilon` of the dtype): torch computes a half-precision activation in float32
and rounds once, while here each elementary operation rounds to the input's dtype.

>>> import torch
>>> x = torch.tensor([-1000.0, 0.0, 1000.0])
>>> sigmoid(x).tolist(), tanh(x).tolist()
([0.0, 0.5, 1.0], [-1.0, 0.0, 1.0])
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable

import torch
from torch import nn

from dlbook.validation import check_choice, check_floating, check_real

__all__ = ["gelu", "leaky_relu", "relu", "sigmoid", "silu", "tanh", "ACTIVATIONS", "LAYERS", "Activation", "as_layer"]


def _check(x) -> None:
    check_floating("x", x)


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
    Unlike :func:`torch.relu`, an integer tensor raises ``TypeError`` (see the module's docstring).

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
    TypeError: Invalid negative_slope: '0.1' (expected a real number)
    """
    _check(x)
    check_real("negative_slope", negative_slope)
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
    Unlike :func:`torch.sigmoid`, an integer tensor raises ``TypeError`` instead of
    being converted to floats.

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
    Unlike :func:`torch.tanh`, an integer tensor raises ``TypeError`` instead of
    being converted to floats.

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


def silu(x: torch.Tensor) -> torch.Tensor:
    r"""Sigmoid linear unit, SiLU or Swish (named in Hendrycks & Gimpel, 2016; Elfwing, Uchibe & Doya, 2018; Ramachandran, Zoph & Le, 2017): the input times its own sigmoid.

    .. math:: \operatorname{silu}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}, \qquad
              \operatorname{silu}'(x) = \sigma(x) + x\,\sigma(x)\big(1 - \sigma(x)\big)
                                     = \sigma(x)\big(1 + x\,(1 - \sigma(x))\big)

    (the product rule with :math:`\sigma' = \sigma(1 - \sigma)`). Like GELU,
    :math:`x\,\Phi(x)`, it weights the input by a smooth step in :math:`(0, 1)`; with
    :math:`\Phi(x) \approx \sigma(1.702\,x)` (Hendrycks & Gimpel, 2016),
    :math:`\operatorname{gelu}(x) \approx \operatorname{silu}(1.702\,x) / 1.702`.
    Swish with a parameter, :math:`x\,\sigma(\beta x) = \operatorname{silu}(\beta x)/\beta`,
    is SiLU at :math:`\beta = 1` and tends to ReLU as :math:`\beta \to \infty`.

    It is not monotone: :math:`\operatorname{silu}'(x) = 0` where
    :math:`1 + x\,(1 - \sigma(x)) = 0`, at :math:`x^* \approx -1.2785`, and there
    :math:`\sigma(x^*) = 1 + 1/x^*`, so the minimum is
    :math:`\operatorname{silu}(x^*) = x^* + 1 \approx -0.2785`; the range is about
    :math:`[-0.2785, \infty)`. The slope is :math:`\tfrac12` at 0 and peaks at about
    1.0998 (near :math:`x = 2.40`), slightly above 1.

    Computed with :func:`sigmoid` above, so it never overflows; at :math:`x = -1000`
    the value is :math:`-1000 \cdot 0 = -0` and the gradient 0, as in PyTorch.
    Shape: any; the output has the input's shape and dtype.

    Taught in chapter 05 (Activation functions).

    >>> silu(torch.tensor([-1000.0, -1.0, 0.0, 2.0]))
    tensor([-0.0000, -0.2689,  0.0000,  1.7616])
    """
    _check(x)
    return x * sigmoid(x)


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
    check_choice("approximate", approximate, ("none", "tanh"))
    if approximate == "none":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


#: The book's activations by name, as :func:`dlbook.models.mlp` names them.
ACTIVATIONS = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid, "leaky_relu": leaky_relu, "gelu": gelu, "silu": silu}

#: PyTorch's layer for each name (and ``"identity"``, no activation): what :func:`as_layer`,
#: and so :func:`dlbook.models.mlp`, builds for a name. Each computes the function of the
#: same name in :data:`ACTIVATIONS` (the tests check value and gradient), in one fused
#: kernel, and hooks that look for ``nn.ReLU`` (:func:`dlbook.gradients.dead_relu_fraction`) find it.
LAYERS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


class Activation(nn.Module):
    r"""A layer that applies a function elementwise: one of this module's, or any ``tensor -> tensor`` function.

    ``Activation(relu)`` puts :func:`relu` in an :class:`torch.nn.Sequential`;
    keyword arguments are passed on at each call (``Activation(leaky_relu, negative_slope=0.2)``).
    It has no parameters. Shape: the function's (the input's, for every function here).

    Taught in chapter 05 (Activation functions).

    >>> layer = Activation(leaky_relu, negative_slope=0.5)
    >>> layer
    Activation(leaky_relu, negative_slope=0.5)
    >>> layer(torch.tensor([-2.0, 3.0]))
    tensor([-1.,  3.])
    """

    def __init__(self, fn: Callable[..., torch.Tensor], **kwargs) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"Invalid fn: {fn!r} (expected a callable tensor -> tensor)")
        self.fn = fn
        self.kwargs = kwargs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, **self.kwargs)

    def extra_repr(self) -> str:
        name = getattr(self.fn, "__name__", None) or repr(self.fn)
        return ", ".join([name] + [f"{k}={v!r}" for k, v in self.kwargs.items()])


def _takes_no_arguments(fn: Callable) -> bool:
    try:
        inspect.signature(fn).bind()
    except TypeError:  # it needs an argument: a function of a tensor
        return False
    except ValueError:  # no signature (a builtin such as torch.relu): a function of a tensor
        return False
    return True


def as_layer(activation: str | Callable | nn.Module) -> nn.Module:
    """A new activation layer from a name, a function, a module class or instance, or a factory.

    The one place that turns what a user names into a layer, so every form works
    wherever an activation is asked for (:func:`dlbook.models.mlp`):

    * a name from :data:`LAYERS` (``"relu"``, ..., ``"identity"``): PyTorch's layer;
    * one of this module's functions (:func:`relu`, ...) or any function of one tensor
      (``torch.tanh``, ``lambda x: x.clamp(min=0)``): an :class:`Activation` around it;
    * an :class:`torch.nn.Module` class (``nn.GELU``) or a zero-argument factory
      (``lambda: nn.LeakyReLU(0.2)``): what it builds;
    * a module instance: a copy of it (each layer gets its own).

    Raises:
        ValueError: an unknown name.
        TypeError: anything else, or a factory that does not build a module.

    Taught in chapter 05 (Activation functions).

    >>> as_layer("relu"), as_layer(relu), as_layer(torch.nn.GELU), as_layer(lambda: torch.nn.LeakyReLU(0.2))
    (ReLU(), Activation(relu), GELU(approximate='none'), LeakyReLU(negative_slope=0.2))
    >>> as_layer("swish")
    Traceback (most recent call last):
    ...
    ValueError: Invalid activation: 'swish' (expected one of gelu, identity, leaky_relu, relu, sigmoid, silu, tanh)
    """
    if isinstance(activation, str):
        if activation not in LAYERS:
            raise ValueError(f"Invalid activation: {activation!r} (expected one of {', '.join(sorted(LAYERS))})")
        return LAYERS[activation]()
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if not callable(activation):
        raise TypeError(
            f"Invalid activation: {activation!r} (expected a name, a function, a module or a zero-argument factory)"
        )
    if activation in ACTIVATIONS.values() or not _takes_no_arguments(activation):
        return Activation(activation)
    layer = activation()
    if not isinstance(layer, nn.Module):
        raise TypeError(f"Invalid activation: the factory {activation!r} returned {type(layer).__name__} (expected torch.nn.Module)")
    return layer
