"""dlbook.activations checked against PyTorch's: values and autograd gradients, float32 and float64, up to |x| = 1000.

The Hypothesis tests at the end draw shapes, memory layouts (contiguous, transposed, sliced with
a step, expanded), dtypes, scales up to 1e4 and exact zeros, and compare with torch in value and
gradient; they also check each gradient against finite differences (gradcheck).
"""

import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import activations
from strategies import assert_like_torch, dtypes, laid_out, layouts, scales, seeds, shapes, view

FAST = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

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


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activations_reject_integer_tensors_and_what_is_not_a_tensor(name):
    with pytest.raises(TypeError, match="dtype"):
        getattr(activations, name)(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="x"):
        getattr(activations, name)([1.0])


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations_differ_from_torch_on_integer_tensors(name):
    """Deliberate: torch.relu keeps an integer dtype and torch.sigmoid/tanh promote to float; dlbook raises TypeError."""
    ours, theirs = CASES[name]
    ints = torch.tensor([1, -2])
    assert theirs(ints).dtype == (torch.int64 if name == "relu" else torch.get_default_dtype())
    with pytest.raises(TypeError, match="Invalid x dtype: torch.int64"):
        ours(ints)
    assert "Unlike :func:`torch." in ours.__doc__ and "integer tensor raises ``TypeError``" in ours.__doc__


@pytest.mark.parametrize("name", ["leaky_relu", "gelu", "silu"])
def test_torch_rejects_integer_tensors_too(name):
    with pytest.raises(NotImplementedError):
        CASES[name][1](torch.tensor([1, -2]))


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


# --------------------------------------------------------------------------- Hypothesis: any shape, layout, dtype


def test_the_tables_cover_every_public_activation():
    """CASES and the drawn tests below name every function of dlbook.activations and every layer of LAYERS."""
    functions = {n for n in activations.__all__ if n.islower() and n != "as_layer"}
    assert functions == set(activations.ACTIVATIONS) == {name.split("_0")[0].removesuffix("_tanh") for name in CASES}
    assert set(activations.LAYERS) == functions | {"identity"}


@FAST
@given(name=st.sampled_from(sorted(CASES)), shape=shapes, layout=layouts, dtype=dtypes, seed=seeds, scale=scales,
       zeros=st.booleans())
def test_activations_equal_torchs_in_any_layout(name, shape, layout, dtype, seed, scale, zeros):
    ours, theirs = CASES[name]
    assert_like_torch(ours, theirs, lambda: (laid_out(shape, layout, dtype, seed, scale, zeros=zeros),))


@FAST
@given(slope=st.one_of(st.sampled_from([0.0, 0.01, 1.0, -0.5]), st.floats(-3, 3)), shape=shapes, layout=layouts,
       dtype=dtypes, seed=seeds, zeros=st.booleans())
def test_leaky_relu_equals_torchs_for_any_negative_slope(slope, shape, layout, dtype, seed, zeros):
    assert_like_torch(lambda x: activations.leaky_relu(x, negative_slope=slope),
                      lambda x: F.leaky_relu(x, negative_slope=slope),
                      lambda: (laid_out(shape, layout, dtype, seed, 10.0, zeros=zeros),))


@FAST
@given(name=st.sampled_from(sorted(activations.ACTIVATIONS)), shape=shapes, layout=layouts, dtype=dtypes, seed=seeds,
       scale=scales)
def test_activation_layer_equals_torchs_module(name, shape, layout, dtype, seed, scale):
    """Activation(fn) in a model computes what the module of LAYERS (as_layer's choice for that name) computes."""
    assert_like_torch(activations.Activation(activations.ACTIVATIONS[name]), activations.as_layer(name),
                      lambda: (laid_out(shape, layout, dtype, seed, scale),))


def away_from_kinks(t):
    """relu and leaky_relu have no derivative at 0; finite differences straddling it disagree with any slope."""
    return torch.sign(t) * (0.05 + t.abs())


@settings(FAST, max_examples=40)
@given(name=st.sampled_from(sorted(CASES)), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       layout=layouts, seed=seeds)
def test_activation_gradients_equal_finite_differences(name, shape, layout, seed):
    ours, _ = CASES[name]
    leaf, _ = laid_out(shape, layout, torch.float64, seed, transform=away_from_kinks)
    assert torch.autograd.gradcheck(lambda t: ours(view(t, shape, layout)), (leaf,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(CASES))
def test_activations_differ_from_torch_in_half_precision_by_a_few_rounding_errors(name, dtype):
    """Deliberate (module docstring): torch computes half precision in float32 and rounds once; here every step rounds."""
    ours, theirs = CASES[name]
    x = torch.linspace(-12, 12, 20001, dtype=torch.float64).to(dtype)
    a, b = ours(x).double(), theirs(x).double()
    assert ours(x).dtype == dtype
    assert ((a - b).abs() <= 8 * torch.finfo(dtype).eps * (1 + b.abs())).all()
    if name in ("tanh", "sigmoid", "gelu", "gelu_tanh", "silu"):   # the rounding steps show
        assert not torch.equal(a, b)
    assert "In float16 and bfloat16 the results differ from torch's" in activations.__doc__
