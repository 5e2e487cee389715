"""dlbook.activations checked against PyTorch's: values and autograd gradients, float32 and float64, up to |x| = 1000."""

import functools

import pytest
import torch
import torch.nn.functional as F

from dlbook import activations

DTYPES = [torch.float32, torch.float64]

CASES = {
    "relu": (activations.relu, torch.relu),
    "tanh": (activations.tanh, torch.tanh),
    "sigmoid": (activations.sigmoid, torch.sigmoid),
    "leaky_relu": (activations.leaky_relu, F.leaky_relu),
    "leaky_relu_0.2": (functools.partial(activations.leaky_relu, negative_slope=0.2), functools.partial(F.leaky_relu, negative_slope=0.2)),
    "gelu": (activations.gelu, F.gelu),
    "gelu_tanh": (functools.partial(activations.gelu, approximate="tanh"), functools.partial(F.gelu, approximate="tanh")),
    "silu": (activations.silu, F.silu),
}


def inputs(dtype):
    """A wide range: a fine grid near 0, both signs of tiny values, exact zero, large magnitudes."""
    grid = torch.linspace(-20, 20, 4001, dtype=torch.float64)
    special = torch.tensor([0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 50, -50, 88, -88, 89, -89,
                            100, -100, 500, -500, 1000, -1000])
    return torch.cat([grid, special.double()]).to(dtype)


def value_and_grad(fn, x):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_activation_matches_torch_value_and_gradient(name, dtype):
    ours, theirs = CASES[name]
    x = inputs(dtype)
    y, g = value_and_grad(ours, x)
    y_t, g_t = value_and_grad(theirs, x)
    assert y.dtype == dtype and y.shape == x.shape
    torch.testing.assert_close(y, y_t)
    torch.testing.assert_close(g, g_t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_activation_is_finite_with_finite_gradient_at_plus_minus_1000(name, dtype):
    ours, _ = CASES[name]
    y, g = value_and_grad(ours, torch.tensor([-1000.0, 1000.0], dtype=dtype))
    assert torch.isfinite(y).all() and torch.isfinite(g).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,expected", [("relu", 0.0), ("leaky_relu", 0.01), ("sigmoid", 0.25), ("tanh", 1.0), ("gelu", 0.5), ("gelu_tanh", 0.5), ("silu", 0.5)])
def test_derivative_at_zero_is_torch_convention(name, expected, dtype):
    _, g = value_and_grad(CASES[name][0], torch.zeros(1, dtype=dtype))
    assert g.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_saturating_functions_keep_relative_accuracy_for_tiny_inputs(name):
    x = torch.tensor([1e-12, -1e-12, 1e-300], dtype=torch.float64)
    ours, theirs = CASES[name]
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-15, atol=0)


# Exact GELU is left out: torch's CPU kernel returns NaN at +inf, where x * Phi(x) = +inf (ours).
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu_tanh", "silu"])
def test_special_values_propagate_like_torch(name):
    ours, theirs = CASES[name]
    x = torch.tensor([float("inf"), float("-inf"), float("nan")])
    torch.testing.assert_close(ours(x), theirs(x), equal_nan=True)


#: PyTorch's own activations, in every place one could call them from.
BUILTINS = [(torch, n) for n in ("relu", "tanh", "sigmoid", "celu", "selu", "rrelu")] + \
    [(torch.Tensor, n) for n in ("relu", "tanh", "sigmoid", "relu_", "tanh_", "sigmoid_")] + \
    [(F, n) for n in ("relu", "tanh", "sigmoid", "gelu", "leaky_relu", "silu", "elu", "softplus", "logsigmoid", "hardtanh")] + \
    [(torch.special, n) for n in ("expit",)]


@pytest.mark.parametrize("name", CASES)
def test_activation_works_with_torchs_own_activations_switched_off(name, monkeypatch):
    """Built from elementary operations: with every torch activation made to fail, ours still computes torch's values."""
    ours, theirs = CASES[name]
    x = inputs(torch.float64)
    expected_y, expected_g = value_and_grad(theirs, x)
    for owner, attr in BUILTINS:
        monkeypatch.setattr(owner, attr, lambda *a, _n=attr, **k: pytest.fail(f"called torch's {_n}"))
    y, g = value_and_grad(ours, x)
    monkeypatch.undo()
    torch.testing.assert_close(y, expected_y)
    torch.testing.assert_close(g, expected_g)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "silu"])
def test_activations_reject_non_float_tensors(name):
    with pytest.raises(TypeError, match="dtype"):
        getattr(activations, name)(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="x"):
        getattr(activations, name)([1.0])


def test_gelu_minimum_is_about_minus_0_17():
    x = torch.linspace(-3, 0, 300001, dtype=torch.float64)
    y = activations.gelu(x)
    assert y.min().item() == pytest.approx(-0.16997, abs=1e-5)
    assert x[y.argmin()].item() == pytest.approx(-0.7518, abs=1e-3)


def test_silu_gradient_is_the_derived_formula():
    """silu'(x) = sigma(x) (1 + x (1 - sigma(x))), the product rule, against autograd in float64."""
    x = inputs(torch.float64)
    _, g = value_and_grad(activations.silu, x)
    s, s_minus = torch.sigmoid(x), torch.sigmoid(-x)  # 1 - sigma(x) = sigma(-x), without cancellation
    torch.testing.assert_close(g, s * (1 + x * s_minus), rtol=1e-13, atol=1e-16)  # atol: near the minimum, where silu' = 0


def test_silu_minimum_is_x_star_plus_one():
    """Where silu' = 0, sigma(x*) = 1 + 1/x*, so silu(x*) = x* + 1 (about -0.2785 at x* about -1.2785)."""
    lo, hi = -2.0, -1.0                       # silu' < 0 at -2, > 0 at -1: bisect silu' = 0
    slope = lambda t: 1 + t * torch.sigmoid(torch.tensor(-t, dtype=torch.float64)).item()
    assert slope(lo) < 0 < slope(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    x_star = torch.tensor(lo, dtype=torch.float64)
    assert lo == pytest.approx(-1.278465, abs=1e-6)
    assert activations.silu(x_star).item() == pytest.approx(lo + 1, abs=1e-14)
    grid = torch.linspace(-3, 0, 300001, dtype=torch.float64)
    assert activations.silu(grid).min().item() == pytest.approx(lo + 1, abs=1e-10)


def test_silu_is_gelu_approximation_and_swish_tends_to_relu():
    """gelu(x) ~ silu(1.702 x) / 1.702 to within 0.021; x sigma(beta x) is within 0.2785 / beta of relu."""
    x = torch.linspace(-10, 10, 200001, dtype=torch.float64)
    gap = (activations.gelu(x) - activations.silu(1.702 * x) / 1.702).abs().max().item()
    assert 0.01 < gap < 0.021
    for beta in (1.0, 10.0, 100.0):
        gap = (activations.silu(beta * x) / beta - activations.relu(x)).abs().max().item()
        assert gap == pytest.approx(0.278465 / beta, rel=1e-3)
