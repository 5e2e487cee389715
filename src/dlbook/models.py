"""Models: the multi-layer perceptrons the book trains, and how big they are.

Taught in chapter 12 (Model capacity); used by every chapter that trains.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch
from torch import nn

from dlbook.activations import as_layer
from dlbook.validation import check_choice, check_real, check_seed


def mlp(
    sizes: Sequence[int],
    *,
    activation: str | Callable | nn.Module = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Sequential:
    """A multi-layer perceptron with layer widths ``sizes``.

    ``sizes = [d_0, d_1, ..., d_L]`` gives ``L`` affine layers; every layer but the
    last is followed by (optionally) batch norm, the activation and (optionally)
    dropout:

    .. math:: h_{l} = \\mathrm{dropout}(\\phi(\\mathrm{BN}(W_l h_{l-1} + b_l))), \\qquad
              \\text{output} = W_L h_{L-1} + b_L

    The output is left linear (logits), as :func:`torch.nn.functional.cross_entropy`
    expects. Input shape ``(N, d_0)``, output shape ``(N, d_L)``.

    Args:
        sizes: at least two positive integers, input width first.
        activation: anything :func:`dlbook.activations.as_layer` takes: a name
            (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``, ``"gelu"``,
            ``"identity"``: PyTorch's layer), one of :mod:`dlbook.activations`'
            functions or any tensor function (``dlbook.activations.relu``,
            ``torch.tanh``), a module class (``nn.GELU``) or instance, or a
            zero-argument factory (``lambda: nn.LeakyReLU(0.2)``).
        dropout: drop probability after each hidden activation, in ``[0, 1)``.
        batch_norm: insert :class:`torch.nn.BatchNorm1d` before each hidden activation.

    >>> model = mlp([784, 128, 10])
    >>> model
    Sequential(
      (0): Linear(in_features=784, out_features=128, bias=True)
      (1): ReLU()
      (2): Linear(in_features=128, out_features=10, bias=True)
    )
    >>> model(torch.zeros(5, 784)).shape
    torch.Size([5, 10])
    >>> import dlbook
    >>> mlp([4, 3, 2], activation=dlbook.activations.tanh)     # the book's own function, as a layer
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): Activation(tanh)
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    >>> mlp([784])
    Traceback (most recent call last):
    ...
    ValueError: Invalid sizes: [784] (expected at least two positive integers)
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise TypeError(f"Invalid sizes: {sizes!r} (expected a sequence of at least two positive integers)")
    sizes = list(sizes)
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in sizes):
        raise TypeError(f"Invalid sizes: {sizes!r} (expected at least two positive integers)")
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"Invalid sizes: {sizes!r} (expected at least two positive integers)")
    sizes = [int(s) for s in sizes]
    as_layer(activation)  # fails here, before any layer is built, if the activation is not one
    check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(d_out))
            layers.append(as_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``model``.

    For one affine layer from ``d_in`` to ``d_out`` units that is
    :math:`d_{in} d_{out} + d_{out}` (weights plus biases); a model's count is the
    sum over its layers. Parameters shared between layers are counted once.

    >>> count_parameters(nn.Linear(784, 10))
    7850
    >>> count_parameters(mlp([784, 128, 10]))
    101770
    >>> count_parameters("not a model")
    Traceback (most recent call last):
    ...
    TypeError: Invalid model: str (expected torch.nn.Module)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid model: {type(model).__name__} (expected torch.nn.Module)")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def initialize(model: nn.Module, scheme: str = "kaiming", *, scale: float = 1.0, seed: int | None = None) -> nn.Module:
    """Re-draw the weights of every ``nn.Linear`` in ``model`` (biases set to 0); return ``model``.

    * ``"kaiming"`` (He et al., 2015): :math:`W \\sim \\mathcal N(0, 2/\\text{fan\\_in})`,
      which keeps the size of signals and gradients constant through ReLU layers;
    * ``"xavier"`` (Glorot & Bengio, 2010): :math:`W \\sim \\mathcal N(0, 2/(\\text{fan\\_in}+\\text{fan\\_out}))`,
      designed for tanh and sigmoid;
    * ``"default"``: PyTorch's own ``reset_parameters()`` (uniform, standard deviation
      :math:`1/\\sqrt{3\\,\\text{fan\\_in}}`; biases not zeroed).

    ``scale`` multiplies every weight afterwards (``scale > 1`` makes gradients
    explode with depth, ``scale < 1`` makes them vanish).

    With ``seed``, the weights come from a generator of their own seeded with it
    (drawn on the CPU, then copied to the weights' device), so the same seed gives the
    same weights and torch's global generator is neither reseeded nor advanced; on the
    CPU they equal what ``torch.manual_seed(seed)`` followed by ``seed=None`` gives.
    Without it they come from the global generator (:func:`dlbook.seed_everything`).

    >>> m = initialize(nn.Linear(1000, 1000), "kaiming", seed=0)
    >>> round(m.weight.std().item(), 3), round((2 / 1000) ** 0.5, 3)
    (0.045, 0.045)
    >>> initialize(m, "orthogonal")
    Traceback (most recent call last):
    ...
    ValueError: Invalid scheme: 'orthogonal' (expected 'kaiming', 'xavier' or 'default')
    """
    check_choice("scheme", scheme, ("kaiming", "xavier", "default"))
    check_real("scale", scale, low=0.0, low_open=True)
    if not isinstance(model, nn.Module):
        raise TypeError(f"Invalid model: {type(model).__name__} (expected torch.nn.Module)")
    generator = None if seed is None else torch.Generator().manual_seed(check_seed(seed))

    def draw(tensor: torch.Tensor, init: Callable[..., torch.Tensor], **kwargs) -> None:
        if generator is None:
            init(tensor, **kwargs)  # torch's global generator
        else:  # the seeded generator lives on the CPU: draw there, then copy
            tensor.copy_(init(torch.empty(tensor.shape, dtype=tensor.dtype), generator=generator, **kwargs))

    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            if scheme == "default" and generator is None:
                layer.reset_parameters()
            elif scheme == "default":  # what nn.Linear.reset_parameters() draws
                draw(layer.weight, nn.init.kaiming_uniform_, a=math.sqrt(5))
                if layer.bias is not None:
                    bound = 1 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0
                    draw(layer.bias, nn.init.uniform_, a=-bound, b=bound)
            else:
                if scheme == "kaiming":
                    draw(layer.weight, nn.init.kaiming_normal_, nonlinearity="relu")
                else:
                    draw(layer.weight, nn.init.xavier_normal_)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
            layer.weight.mul_(scale)
    return model
