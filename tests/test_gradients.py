"""dlbook.gradients checked against autograd and against closed forms."""

import pytest
import torch
from torch import nn

from dlbook.gradients import (clip_grad_norm, dead_relu_fraction, gradient_descent, layer_gradient_norms,
                              numerical_gradient)
from dlbook.models import mlp

FUNCTIONS = {
    "quadratic": lambda x: (x ** 2 * torch.arange(1, x.numel() + 1, dtype=x.dtype).view_as(x)).sum(),
    "logsumexp": lambda x: torch.logsumexp(x.flatten(), 0),
    "tanh_product": lambda x: torch.tanh(x).prod(),
    "mlp_loss": lambda x: nn.functional.cross_entropy(x.view(3, 4), torch.tensor([0, 3, 1])),
}


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("seed", range(3))
def test_numerical_gradient_matches_autograd(name, seed):
    f = FUNCTIONS[name]
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    expected = torch.autograd.functional.jacobian(f, x)
    actual = numerical_gradient(f, x)
    assert actual.shape == x.shape
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-8)


def test_numerical_gradient_does_not_modify_input():
    x = torch.randn(5, dtype=torch.float64)
    before = x.clone()
    numerical_gradient(lambda v: (v ** 3).sum(), x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("bad,error", [(torch.tensor([1, 2]), TypeError), ([1.0], TypeError)])
def test_numerical_gradient_rejects_bad_inputs(bad, error):
    with pytest.raises(error, match="x"):
        numerical_gradient(lambda v: v.sum(), bad)


def test_numerical_gradient_rejects_non_scalar_f():
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, torch.ones(2, dtype=torch.float64))


def test_gradient_descent_on_quadratic_has_closed_form():
    # f(x) = 0.5 * a * x^2 has x_t = (1 - lr a)^t x_0
    a, lr = 3.0, 0.1
    path = gradient_descent(lambda v: 0.5 * a * (v ** 2).sum(), torch.tensor([2.0, -1.0], dtype=torch.float64), lr=lr, steps=10)
    expected = torch.stack([(1 - lr * a) ** t * torch.tensor([2.0, -1.0], dtype=torch.float64) for t in range(11)])
    torch.testing.assert_close(path, expected)


def test_layer_gradient_norms_match_manual_backward():
    torch.manual_seed(0)
    model = mlp([5, 7, 3])
    x, y = torch.randn(9, 5), torch.randint(0, 3, (9,))
    norms = layer_gradient_norms(model, x, y)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    assert norms == [model[0].weight.grad.norm().item(), model[2].weight.grad.norm().item()]


def test_dead_relu_fraction_counts_units_dead_on_every_input():
    lin = nn.Linear(3, 4)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.copy_(torch.tensor([-1.0, 1.0, -2.0, 0.0]))  # 0.0 gives output 0 everywhere: dead too
    assert dead_relu_fraction(nn.Sequential(lin, nn.ReLU()), torch.randn(10, 3)) == [0.75]


def test_helpers_reject_models_without_the_layers_they_measure():
    with pytest.raises(ValueError, match="ReLU"):
        dead_relu_fraction(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))
    with pytest.raises(ValueError, match="Linear"):
        layer_gradient_norms(nn.Sequential(nn.ReLU()), torch.randn(3, 2), torch.tensor([0, 1, 0]))


def _model_with_grads(seed, dtype=torch.float64, scale=1.0, none_grad=False):
    """A small network whose parameters hold a gradient (one left at None if asked)."""
    gen = torch.Generator().manual_seed(seed)
    model = mlp([6, 5, 4, 3]).to(dtype)
    for p in model.parameters():
        p.grad = scale * torch.randn(p.shape, dtype=dtype, generator=gen)
    if none_grad:
        model[2].weight.grad = None
    return model


def _twins(seed, **kwargs):
    a, b = _model_with_grads(seed, **kwargs), _model_with_grads(seed, **kwargs)
    return list(a.parameters()), list(b.parameters())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("max_norm", [0.0, 1e-3, 0.5, 2.0, 1e6])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("none_grad", [False, True])
def test_clip_grad_norm_matches_torch(seed, max_norm, norm_type, none_grad):
    ours, theirs = _twins(seed, none_grad=none_grad)
    total = clip_grad_norm(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    torch.testing.assert_close(total, expected, rtol=1e-13, atol=0)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("seed", range(3))
def test_clip_grad_norm_caps_the_norm_and_keeps_the_direction(seed):
    params = list(_model_with_grads(seed, scale=10.0).parameters())
    before = torch.cat([p.grad.flatten() for p in params]).clone()
    total = clip_grad_norm(params, 1.0)
    after = torch.cat([p.grad.flatten() for p in params])
    torch.testing.assert_close(total, before.norm(), rtol=1e-14, atol=0)
    assert total > 1.0
    torch.testing.assert_close(after.norm(), torch.tensor(1.0, dtype=after.dtype), rtol=1e-5, atol=0)
    torch.testing.assert_close(after / after.norm(), before / before.norm(), rtol=1e-14, atol=1e-15)


def test_clip_grad_norm_leaves_short_gradients_alone():
    params = list(_model_with_grads(0, scale=1e-2).parameters())
    before = [p.grad.clone() for p in params]
    total = clip_grad_norm(params, max_norm=100.0)
    assert total < 100.0
    for p, b in zip(params, before):
        torch.testing.assert_close(p.grad, b, rtol=1e-6, atol=0)   # factor |g| / (|g| + 1e-6)


def test_clip_grad_norm_of_zero_gradients_is_zero_and_keeps_them():
    ours, theirs = _twins(0, scale=0.0)
    total = clip_grad_norm(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.item() == 0.0 == expected.item()
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in ours)


def test_clip_grad_norm_without_any_gradient_returns_zero():
    params = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    total = clip_grad_norm(params, 1.0)
    assert total.item() == 0.0 == torch.nn.utils.clip_grad_norm_(params, 1.0).item()
    assert all(p.grad is None for p in params)


def test_clip_grad_norm_accepts_a_single_tensor_and_a_generator():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    w.grad = torch.tensor([3.0, 4.0], dtype=torch.float64)
    assert clip_grad_norm(w, 1.0).item() == 5.0
    torch.testing.assert_close(w.grad, torch.tensor([0.6, 0.8], dtype=torch.float64), rtol=1e-6, atol=0)
    model = _model_with_grads(1)
    twin = _model_with_grads(1)
    torch.testing.assert_close(clip_grad_norm(model.parameters(), 0.1),
                               torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.1), rtol=1e-13, atol=0)


def test_clip_grad_norm_propagates_non_finite_gradients_as_torch_does():
    ours, theirs = _twins(0)
    for params in (ours, theirs):
        params[0].grad[0, 0] = float("inf")
    total = clip_grad_norm(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert torch.isinf(total) and torch.isinf(expected)
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad, equal_nan=True)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_norm": -1.0}, ValueError, "max_norm"),
    ({"max_norm": "1"}, TypeError, "max_norm"),
    ({"max_norm": 1.0, "norm_type": 0.5}, ValueError, "norm_type"),
    ({"max_norm": float("nan")}, ValueError, "max_norm"),
])
def test_clip_grad_norm_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        clip_grad_norm(list(_model_with_grads(0).parameters()), **kwargs)


@pytest.mark.parametrize("bad", [3.0, [torch.zeros(1), "w"]])
def test_clip_grad_norm_rejects_what_is_not_tensors(bad):
    with pytest.raises(TypeError, match="parameters"):
        clip_grad_norm(bad, 1.0)
