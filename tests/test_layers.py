"""dlbook.layers against torch.nn: outputs, gradients, running statistics, train and eval mode."""

import math

import pytest
import torch
from torch import nn

import dlbook
from dlbook.layers import BatchNorm1d, Dropout, LayerNorm

# --------------------------------------------------------------------------- dropout
# Our mask and torch's come from different random streams, so dropout is tested by
# its statistics and its exact algebra (kept values scaled by 1/(1-p), gradient = mask/(1-p)).


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_like_torch(p):
    dlbook.seed_everything(0)
    x = torch.ones(200_000, dtype=torch.float64)
    ours = (Dropout(p)(x) == 0).double().mean().item()
    theirs = (nn.Dropout(p)(x) == 0).double().mean().item()
    sigma = math.sqrt(p * (1 - p) / x.numel())  # binomial standard error of a fraction
    assert abs(ours - p) < 5 * sigma
    assert abs(ours - theirs) < 7 * sigma


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_scales_kept_values_by_one_over_keep_probability(p):
    dlbook.seed_everything(1)
    x = torch.randn(1000, 7, dtype=torch.float64)
    y = Dropout(p)(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    assert y.mean().item() == pytest.approx(x.mean().item(), abs=6 * x.std().item() / math.sqrt(x.numel()) / (1 - p) ** 0.5)


def test_dropout_keeps_the_expected_value_of_every_element():
    dlbook.seed_everything(2)
    x = torch.full((20_000, 3), 2.0, dtype=torch.float64)
    column_means = Dropout(0.5)(x).mean(dim=0)
    torch.testing.assert_close(column_means, torch.full((3,), 2.0, dtype=torch.float64), atol=0.06, rtol=0)


def test_dropout_gradient_is_the_scaled_mask():
    dlbook.seed_everything(3)
    x = torch.randn(50, 20, dtype=torch.float64, requires_grad=True)
    y = Dropout(0.4)(x)
    y.sum().backward()
    mask = (y != 0).double()
    torch.testing.assert_close(x.grad, mask / 0.6)


def test_dropout_in_eval_mode_is_the_identity_like_torch():
    x = torch.randn(30, 5)
    for layer in (Dropout(0.5).eval(), nn.Dropout(0.5).eval()):
        assert torch.equal(layer(x), x)


def test_dropout_p0_is_the_identity_and_p1_drops_everything_like_torch():
    x = torch.randn(40, 6, dtype=torch.float64, requires_grad=True)
    assert torch.equal(Dropout(0.0)(x), nn.Dropout(0.0)(x))
    ours, theirs = Dropout(1.0)(x), nn.Dropout(1.0)(x)
    assert torch.equal(ours, theirs) and torch.equal(ours, torch.zeros_like(x))
    ours.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_dropout_is_repeatable_under_seed_everything():
    x = torch.ones(100)
    dlbook.seed_everything(0)
    a = Dropout(0.5)(x)
    dlbook.seed_everything(0)
    assert torch.equal(a, Dropout(0.5)(x))


@pytest.mark.parametrize("p,error", [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("0.5", TypeError)])
def test_dropout_rejects_invalid_probabilities(p, error):
    with pytest.raises(error, match="Invalid dropout probability"):
        Dropout(p)


# --------------------------------------------------------------------------- batch norm


def twin_batch_norms(num_features, **kwargs):
    ours = BatchNorm1d(num_features, **kwargs).double()
    theirs = nn.BatchNorm1d(num_features, **kwargs).double()
    if ours.affine:  # non-trivial gamma, beta so that they matter in the comparison
        with torch.no_grad():
            ours.weight.copy_(torch.linspace(0.5, 2.0, num_features))
            ours.bias.copy_(torch.linspace(-1.0, 1.0, num_features))
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def assert_same_state(ours, theirs):
    for key, value in theirs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, msg=key)


def assert_same_forward_and_backward(ours, theirs, x, upstream):
    """Run both modules on copies of ``x``; require equal outputs and equal gradients for input and parameters."""
    x = x.detach().clone().requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    y_ours, y_theirs = ours(x), theirs(x2)
    torch.testing.assert_close(y_ours, y_theirs)
    (y_ours * upstream).sum().backward()
    (y_theirs * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_batch_norm_matches_torch_in_train_and_eval_over_many_steps(shape, momentum, affine, eps):
    torch.manual_seed(0)
    ours, theirs = twin_batch_norms(shape[1], momentum=momentum, affine=affine, eps=eps)
    for step in range(6):
        x = 3.0 * torch.randn(shape, dtype=torch.float64) + 2.0
        upstream = torch.randn(shape, dtype=torch.float64)
        assert_same_forward_and_backward(ours.train(), theirs.train(), x, upstream)
        assert_same_state(ours, theirs)  # running mean, unbiased running var, num_batches_tracked
        x_eval = torch.randn(shape, dtype=torch.float64)
        assert_same_forward_and_backward(ours.eval(), theirs.eval(), x_eval, upstream)
    assert ours.num_batches_tracked.item() == 6


def test_batch_norm_has_torch_parameter_and_buffer_names():
    assert list(BatchNorm1d(3).state_dict()) == list(nn.BatchNorm1d(3).state_dict())


def test_batch_norm_running_var_is_unbiased():
    bn = BatchNorm1d(1, momentum=1.0)  # momentum 1: running statistics = last batch's
    x = torch.tensor([[1.0], [2.0], [6.0]])
    bn(x)
    assert bn.running_mean.item() == pytest.approx(3.0)
    assert bn.running_var.item() == pytest.approx(x.var(unbiased=True).item())  # 7.0, not 14/3


def test_batch_norm_in_eval_mode_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    bn = BatchNorm1d(4)
    for _ in range(3):
        bn(torch.randn(10, 4))
    bn.eval()
    x = torch.randn(6, 4)
    torch.testing.assert_close(bn(x)[:1], bn(x[:1]))
    assert bn.num_batches_tracked.item() == 3  # eval mode does not update the statistics


def test_batch_norm_with_one_value_per_feature_in_training_raises_like_torch():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(torch.randn(1, 3))
    BatchNorm1d(3).eval()(torch.randn(1, 3))  # fine in evaluation mode


@pytest.mark.parametrize("kwargs,error,match", [
    ({"num_features": 0}, ValueError, "num_features"),
    ({"num_features": 2.0}, TypeError, "num_features"),  # a float where an integer belongs: a wrong type
    ({"num_features": 2, "eps": -1e-5}, ValueError, "eps"),
    ({"num_features": 2, "momentum": 1.5}, ValueError, "momentum"),
    ({"num_features": 2, "momentum": -0.1}, ValueError, "momentum"),
    ({"num_features": 2, "momentum": "fast"}, TypeError, "momentum"),
])
def test_batch_norm_rejects_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"Invalid {match}"):
        BatchNorm1d(**kwargs)


def test_batch_norm_rejects_inputs_with_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="Invalid input shape"):
        BatchNorm1d(3)(torch.randn(4, 5))


# --------------------------------------------------------------------------- layer norm


@pytest.mark.parametrize("normalized_shape,input_shape", [(6, (5, 6)), ((6,), (2, 3, 6)), ((3, 4), (5, 3, 4)), (4, (4,))])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 0.5])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_layer_norm_matches_torch(normalized_shape, input_shape, affine, eps, mode):
    torch.manual_seed(0)
    ours = LayerNorm(normalized_shape, eps=eps, elementwise_affine=affine).double()
    theirs = nn.LayerNorm(normalized_shape, eps=eps, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            ours.weight.copy_(torch.randn(ours.weight.shape))
            ours.bias.copy_(torch.randn(ours.bias.shape))
    theirs.load_state_dict(ours.state_dict())
    ours.train(mode == "train")
    theirs.train(mode == "train")
    x = 4.0 * torch.randn(input_shape, dtype=torch.float64) - 1.0
    upstream = torch.randn(input_shape, dtype=torch.float64)
    assert_same_forward_and_backward(ours, theirs, x, upstream)


def test_layer_norm_normalizes_each_row_and_batch_norm_each_column():
    torch.manual_seed(0)
    x = 5 * torch.randn(8, 4, dtype=torch.float64) + 3
    ln = LayerNorm(4, eps=0.0, elementwise_affine=False)(x)
    bn = BatchNorm1d(4, eps=0.0, affine=False).double()(x)
    zeros = torch.zeros(8, dtype=torch.float64)
    torch.testing.assert_close(ln.mean(dim=1), zeros)
    torch.testing.assert_close(ln.var(dim=1, unbiased=False), torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(bn.mean(dim=0), zeros[:4])
    torch.testing.assert_close(bn.var(dim=0, unbiased=False), torch.ones(4, dtype=torch.float64))
    assert not torch.allclose(ln.mean(dim=0), zeros[:4], atol=1e-3)  # the axes really differ


@pytest.mark.parametrize("args,error", [((0,), ValueError), (((3, -1),), ValueError), (((),), ValueError), ((4, -1.0), ValueError), ((4, "small"), TypeError)])
def test_layer_norm_rejects_invalid_arguments(args, error):
    with pytest.raises(error, match="Invalid"):
        LayerNorm(*args)


def test_layer_norm_rejects_inputs_with_the_wrong_trailing_shape():
    with pytest.raises(ValueError, match="Invalid input shape"):
        LayerNorm(4)(torch.randn(4, 5))
