"""dlbook.gradients checked against autograd and against closed forms."""

import pytest
import torch
from torch import nn

from dlbook.gradients import dead_relu_fraction, gradient_descent, layer_gradient_norms, numerical_gradient
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
