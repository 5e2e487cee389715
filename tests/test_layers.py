"""dlbook.layers against torch.nn: outputs, gradients, running statistics, train and eval mode."""

import math

import pytest
import torch
from torch import nn

import dlbook
from dlbook.layers import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm

# --------------------------------------------------------------------------- dropout
# On the CPU our mask is torch's (same draw from the global generator, see the Hypothesis
# tests at the end); dropout is also tested by its statistics and its exact algebra (kept
# values scaled by 1/(1-p), gradient = mask/(1-p)), which hold on any device.


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


BATCH_NORMS = {1: (BatchNorm1d, nn.BatchNorm1d), 2: (BatchNorm2d, nn.BatchNorm2d)}


def twin_batch_norms(num_features, *, dims=1, **kwargs):
    """Ours and torch's BatchNorm{dims}d in float64, with the same non-trivial parameters."""
    ours_class, theirs_class = BATCH_NORMS[dims]
    ours = ours_class(num_features, **kwargs).double()
    theirs = theirs_class(num_features, **kwargs).double()
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


def six_train_and_eval_steps_match(ours, theirs, shape):
    """Six training steps, each followed by an evaluation, in float64: outputs, gradients and running state equal."""
    for step in range(6):
        x = 3.0 * torch.randn(shape, dtype=torch.float64) + 2.0
        upstream = torch.randn(shape, dtype=torch.float64)
        assert_same_forward_and_backward(ours.train(), theirs.train(), x, upstream)
        assert_same_state(ours, theirs)  # running mean, unbiased running var, num_batches_tracked
        x_eval = torch.randn(shape, dtype=torch.float64)
        assert_same_forward_and_backward(ours.eval(), theirs.eval(), x_eval, upstream)
    assert ours.num_batches_tracked.item() == 6


@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_batch_norm_matches_torch_in_train_and_eval_over_many_steps(shape, momentum, affine, eps):
    torch.manual_seed(0)
    ours, theirs = twin_batch_norms(shape[1], momentum=momentum, affine=affine, eps=eps)
    six_train_and_eval_steps_match(ours, theirs, shape)


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


@pytest.mark.parametrize("layer", [BatchNorm1d, BatchNorm2d])
@pytest.mark.parametrize("kwargs,error,match", [
    ({"num_features": 0}, ValueError, "num_features"),
    ({"num_features": 2.0}, TypeError, "num_features"),  # a float where an integer belongs: a wrong type
    ({"num_features": 2, "eps": -1e-5}, ValueError, "eps"),
    ({"num_features": 2, "momentum": 1.5}, ValueError, "momentum"),
    ({"num_features": 2, "momentum": -0.1}, ValueError, "momentum"),
    ({"num_features": 2, "momentum": "fast"}, TypeError, "momentum"),
])
def test_batch_norm_rejects_invalid_arguments(layer, kwargs, error, match):
    with pytest.raises(error, match=f"Invalid {match}"):
        layer(**kwargs)


def test_batch_norm_rejects_inputs_with_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="Invalid input shape"):
        BatchNorm1d(3)(torch.randn(4, 5))


# --------------------------------------------------------------------------- batch norm of images (BatchNorm2d)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_batch_norm_2d_matches_torch_in_train_and_eval_over_many_steps(momentum, affine, eps):
    torch.manual_seed(0)
    shape = (4, 3, 5, 2)
    ours, theirs = twin_batch_norms(3, dims=2, momentum=momentum, affine=affine, eps=eps)
    six_train_and_eval_steps_match(ours, theirs, shape)


def test_batch_norm_2d_has_torch_parameter_and_buffer_names():
    assert list(BatchNorm2d(3).state_dict()) == list(nn.BatchNorm2d(3).state_dict())


def test_batch_norm_2d_pools_each_channel_over_the_batch_and_every_pixel():
    """BatchNorm2d on (N, C, H, W) is BatchNorm1d on the N*H*W rows of (pixel, channel) values."""
    torch.manual_seed(0)
    x = 3 * torch.randn(4, 3, 5, 2, dtype=torch.float64) + 1
    rows = x.permute(0, 2, 3, 1).reshape(-1, 3)  # one row per (example, pixel)
    images, table = BatchNorm2d(3, momentum=None).double(), BatchNorm1d(3, momentum=None).double()
    y = images(x)
    torch.testing.assert_close(y.permute(0, 2, 3, 1).reshape(-1, 3), table(rows), rtol=1e-12, atol=1e-12)
    assert_same_state(images, table)
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(images.running_var, x.var(dim=(0, 2, 3), unbiased=True))  # M - 1 = 39, not N - 1


def test_batch_norm_2d_with_one_value_per_channel_in_training_raises_like_torch():
    x = torch.randn(1, 3, 1, 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm2d(3)(x)
    BatchNorm2d(3).eval()(x)  # fine in evaluation mode
    BatchNorm2d(3)(torch.randn(1, 3, 2, 1))  # one image, two pixels: two values per channel, as torch


@pytest.mark.parametrize("shape", [(4, 5, 2, 2), (4, 3, 2), (4, 3), (2, 3, 2, 2, 2)])
def test_batch_norm_2d_rejects_inputs_that_are_not_images_with_its_channels(shape):
    with pytest.raises(ValueError, match=r"Invalid input shape: .* \(expected \(N, 3, H, W\)\)"):
        BatchNorm2d(3)(torch.randn(shape))
    with pytest.raises((ValueError, RuntimeError)):  # torch: ValueError for the dimensions, RuntimeError for the channels
        nn.BatchNorm2d(3)(torch.randn(shape))


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


# --------------------------------------------------------------------------- every layout and dtype (Hypothesis)
# Each layer against its torch.nn counterpart with the same parameters, on inputs that are
# contiguous, transposed, sliced with a stride or expanded, in float32 and float64: the output,
# the gradient reaching the input's storage and the parameters' gradients, and for batch norm
# the running statistics after each training step. Dropout's mask is torch's own on the CPU, so
# with a shared seed the comparison is exact, global generator's state included.

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rng_guard import leaves_global_rng_alone, moves_only  # noqa: E402
from strategies import dtypes, layouts, seeds  # noqa: E402

FAST = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def laid_out(shape, layout, dtype, seed, *, expand_dim=-1):
    """A leaf tensor, and the view of it of ``shape`` a layer sees, laid out in memory as ``layout``.

    As ``strategies.laid_out``, but ``expanded`` repeats the axis ``expand_dim`` (layer norm
    gets a repeated example, not a repeated feature, whose variance would be 0), the values
    are 3 x + 1, so that the mean is not 0, and a 4-d ``shape`` may be ``channels_last``
    (stored as (N, H, W, C): torch's ``torch.channels_last`` memory format).
    """
    g = torch.Generator().manual_seed(seed)
    stored = list(shape)
    if layout == "channels_last":
        stored = [shape[0], *shape[2:], shape[1]]
    elif layout == "transposed":
        stored = stored[::-1]
    elif layout == "strided":
        stored[-1] *= 2
    elif layout == "expanded":
        stored[expand_dim] = 1
    leaf = (3 * torch.randn(stored, generator=g, dtype=torch.float64) + 1).to(dtype).requires_grad_()
    if layout == "channels_last":
        return leaf, leaf.permute(0, 3, 1, 2)
    if layout == "transposed":
        return leaf, leaf.permute(*reversed(range(len(shape))))
    if layout == "strided":
        return leaf, leaf[..., ::2]
    if layout == "expanded":
        return leaf, leaf.expand(*shape)
    return leaf, leaf


def assert_near(ours, theirs, msg=None):
    """float64 to 1e-12; float32 to torch's own float32 tolerance (about 1e-6 relative)."""
    tight = {"rtol": 1e-12, "atol": 1e-12} if theirs.dtype == torch.float64 else {}
    torch.testing.assert_close(ours, theirs, msg=msg, **tight)


def assert_like_torch_in_layout(ours, theirs, shape, layout, dtype, seed, *, expand_dim=-1):
    """Both layers on equal inputs in ``layout``: equal outputs, input gradients and parameter gradients."""
    (leaf_a, view_a), (leaf_b, view_b) = (laid_out(shape, layout, dtype, seed, expand_dim=expand_dim) for _ in range(2))
    y_a, y_b = ours(view_a), theirs(view_b)
    assert y_a.dtype == y_b.dtype == dtype and y_a.shape == y_b.shape
    assert_near(y_a, y_b)
    weights = torch.linspace(0.5, 1.5, y_b.numel(), dtype=dtype).reshape(y_b.shape)
    (y_a * weights).sum().backward()
    (y_b * weights).sum().backward()
    assert_near(leaf_a.grad, leaf_b.grad, "input gradient")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_near(p.grad, q.grad, name)
        p.grad, q.grad = None, None


def random_affine_parameters(layer, seed):
    """Non-trivial gamma and beta, so that they matter in the comparison."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))


@settings(FAST, max_examples=25)
@given(n=st.integers(2, 6), c=st.integers(1, 4), length=st.none() | st.integers(1, 4), layout=layouts, dtype=dtypes,
       momentum=st.sampled_from([0.1, 0.5, 0.0, 1.0, None]), affine=st.booleans(), eps=st.sampled_from([1e-5, 0.1]),
       seed=seeds)
def test_batch_norm_equals_torch_in_every_layout_and_dtype(n, c, length, layout, dtype, momentum, affine, eps, seed):
    shape = (n, c) if length is None else (n, c, length)
    ours = BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine).to(dtype)
    theirs = nn.BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine).to(dtype)
    random_affine_parameters(ours, seed)
    theirs.load_state_dict(ours.state_dict())
    with leaves_global_rng_alone():
        for step in range(2):  # training: batch statistics, and the running ones updated once per step
            assert_like_torch_in_layout(ours.train(), theirs.train(), shape, layout, dtype, seed + step)
            for key, value in theirs.state_dict().items():
                assert ours.state_dict()[key].dtype == value.dtype
                assert_near(ours.state_dict()[key], value, key)
        assert_like_torch_in_layout(ours.eval(), theirs.eval(), shape, layout, dtype, seed + 2)  # the running ones
    assert ours.num_batches_tracked.item() == 2


@settings(FAST, max_examples=25)
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3),
       layout=layouts | st.just("channels_last"), dtype=dtypes, momentum=st.sampled_from([0.1, 0.5, 1.0, None]),
       affine=st.booleans(), eps=st.sampled_from([1e-5, 0.1]), seed=seeds)
def test_batch_norm_2d_equals_torch_in_every_layout_and_dtype(n, c, h, w, layout, dtype, momentum, affine, eps, seed):
    """Three training steps (output, gradients of input, weight and bias, running statistics), then evaluation."""
    if n * h * w < 2:
        n = 2  # training needs two values per channel, in torch as in ours (tested above)
    shape = (n, c, h, w)
    ours = BatchNorm2d(c, eps=eps, momentum=momentum, affine=affine).to(dtype)
    theirs = nn.BatchNorm2d(c, eps=eps, momentum=momentum, affine=affine).to(dtype)
    random_affine_parameters(ours, seed)
    theirs.load_state_dict(ours.state_dict())
    with leaves_global_rng_alone():
        for step in range(3):
            assert_like_torch_in_layout(ours.train(), theirs.train(), shape, layout, dtype, seed + step)
            for key, value in theirs.state_dict().items():
                assert ours.state_dict()[key].dtype == value.dtype
                assert_near(ours.state_dict()[key], value, key)
        assert_like_torch_in_layout(ours.eval(), theirs.eval(), shape, layout, dtype, seed + 3)
    assert ours.num_batches_tracked.item() == 3


@FAST
@given(n=st.integers(1, 4), normalized=st.sampled_from([(5,), (3, 4), (1,), (2, 1)]), lead=st.booleans(),
       layout=layouts, dtype=dtypes, affine=st.booleans(), eps=st.sampled_from([1e-5, 0.5]), training=st.booleans(),
       seed=seeds)
def test_layer_norm_equals_torch_in_every_layout_and_dtype(n, normalized, lead, layout, dtype, affine, eps, training, seed):
    shape = (n, 2, *normalized) if lead else (n, *normalized)
    ours = LayerNorm(normalized, eps=eps, elementwise_affine=affine).to(dtype).train(training)
    theirs = nn.LayerNorm(normalized, eps=eps, elementwise_affine=affine).to(dtype).train(training)
    random_affine_parameters(ours, seed)
    theirs.load_state_dict(ours.state_dict())
    with leaves_global_rng_alone():
        assert_like_torch_in_layout(ours, theirs, shape, layout, dtype, seed, expand_dim=0)  # a repeated example


@FAST
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), layout=layouts, dtype=dtypes,
       p=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]) | st.floats(0.0, 1.0), training=st.booleans(), seed=seeds)
def test_dropout_draws_torchs_mask_from_the_global_generator(shape, layout, dtype, p, training, seed):
    """Under the same global seed, on the CPU: torch's output, gradient, layout and global generator state, exactly."""
    results = []
    for layer in (Dropout(p), nn.Dropout(p)):
        layer.train(training)
        leaf, view = laid_out(shape, layout, dtype, seed)
        torch.manual_seed(seed)
        draws = training and 0.0 < p < 1.0  # evaluation mode, p = 0 and p = 1 draw nothing, as in torch
        with moves_only("torch") if draws else leaves_global_rng_alone():
            y = layer(view)
        (y * torch.linspace(0.5, 1.5, y.numel(), dtype=dtype).reshape(y.shape)).sum().backward()
        results.append((y, leaf.grad, torch.get_rng_state(), y is view))
    (y_a, grad_a, state_a, same_a), (y_b, grad_b, state_b, same_b) = results
    assert torch.equal(y_a, y_b) and y_a.stride() == y_b.stride()
    assert torch.equal(grad_a, grad_b)
    assert torch.equal(state_a, state_b) and same_a == same_b  # the identity returns its input itself, as torch's


# --------------------------------------------------------------------------- inputs of another dtype than the layer's


NORMALIZATIONS = [  # (make the layer from a module, nn or dlbook.layers; an input shape)
    pytest.param(lambda m: m.BatchNorm1d(3), (6, 3), id="BatchNorm1d"),
    pytest.param(lambda m: m.BatchNorm2d(3), (2, 3, 2, 2), id="BatchNorm2d"),
    pytest.param(lambda m: m.LayerNorm(3), (6, 3), id="LayerNorm"),
]


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("make,shape", NORMALIZATIONS)
def test_half_and_bfloat16_inputs_are_computed_in_float32_and_returned_as_they_came_like_torch(low, make, shape):
    ours, theirs = make(dlbook.layers), make(nn)
    random_affine_parameters(ours, 0)
    theirs.load_state_dict(ours.state_dict())
    x = (3 * torch.randn(shape, generator=torch.Generator().manual_seed(0)) + 1).to(low)
    for mode in ("train", "eval"):
        (xa := x.clone().requires_grad_()), (xb := x.clone().requires_grad_())
        ya, yb = ours.train(mode == "train")(xa), theirs.train(mode == "train")(xb)
        assert ya.dtype == yb.dtype == low
        torch.testing.assert_close(ya, yb)  # to the low dtype's own tolerance
        ya.float().sum().backward(), yb.float().sum().backward()
        torch.testing.assert_close(xa.grad, xb.grad, atol=0.05, rtol=0.02)
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert p.grad.dtype == q.grad.dtype == torch.float32
            torch.testing.assert_close(p.grad, q.grad, atol=0.05, rtol=0.02, msg=name)
        for (name, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
            assert b.dtype == c.dtype
            torch.testing.assert_close(b, c, msg=name)


@pytest.mark.parametrize("make,shape", NORMALIZATIONS)
def test_a_float64_input_to_a_float32_layer_differs_from_torch_which_raises(make, shape):
    """torch raises 'mixed dtype'; ours computes in float64 and returns float64, as its docstring says."""
    x = torch.randn(shape, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="mixed dtype"):
        make(nn)(x)
    ours, twin = make(dlbook.layers), make(nn).double()
    assert ours(x).dtype == torch.float64
    torch.testing.assert_close(ours(x), twin(x), rtol=1e-12, atol=1e-12)
