"""dlbook.losses checked against torch.nn.functional: values and gradients, every reduction, both float dtypes.

The Hypothesis tests at the end draw shapes, memory layouts (contiguous, transposed, sliced with
a step, expanded), dtypes, scales (logits up to 1e4) and exact zeros, and compare with torch in
value and in the gradient of every input; they also check each gradient against finite
differences (gradcheck).
"""

import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import losses
from strategies import assert_like_torch, dtypes, laid_out, layouts, reductions, scales, seeds, shapes, view

FAST = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

DTYPES = [torch.float32, torch.float64]
REDUCTIONS = ["mean", "sum", "none"]


def values_and_grads(fn, *inputs, grad_inputs=(0,)):
    """fn(*inputs) and the gradient of its sum (weighted, so that 'none' is checked elementwise too)."""
    leaves = [t.detach().clone().requires_grad_(i in grad_inputs) for i, t in enumerate(inputs)]
    out = fn(*leaves)
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).view_as(out)
    grads = torch.autograd.grad((out * weights).sum(), [leaves[i] for i in grad_inputs])
    return out.detach(), grads


def assert_same_as_torch(ours, theirs, *inputs, grad_inputs=(0,)):
    value, grads = values_and_grads(ours, *inputs, grad_inputs=grad_inputs)
    expected_value, expected_grads = values_and_grads(theirs, *inputs, grad_inputs=grad_inputs)
    assert value.dtype == expected_value.dtype and value.shape == expected_value.shape
    torch.testing.assert_close(value, expected_value)
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g, e)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0, 100.0, 1000.0])
@pytest.mark.parametrize("shape", [(1, 2), (7, 3), (32, 10)])
def test_cross_entropy_matches_torch_value_and_gradient(dtype, reduction, scale, shape):
    logits = scale * torch.randn(shape, generator=gen(0), dtype=dtype)
    target = torch.randint(0, shape[1], (shape[0],), generator=gen(1))
    assert_same_as_torch(
        lambda z, y: losses.cross_entropy(z, y, reduction=reduction),
        lambda z, y: F.cross_entropy(z, y, reduction=reduction),
        logits, target,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_finite_for_extreme_logits(dtype):
    logits = torch.tensor([[100.0, -100.0, 0.0], [-100.0, 100.0, 100.0], [1e4, -1e4, 0.0]], dtype=dtype)
    target = torch.tensor([1, 0, 0])
    value = losses.cross_entropy(logits, target, reduction="none")
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value, F.cross_entropy(logits, target, reduction="none"))
    torch.testing.assert_close(value[0], torch.tensor(200.0, dtype=dtype))


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = torch.randn(5, 4, dtype=torch.float64, generator=gen(2), requires_grad=True)
    target = torch.tensor([0, 3, 1, 1, 2])
    losses.cross_entropy(logits, target, reduction="sum").backward()
    expected = torch.softmax(logits.detach(), dim=1) - F.one_hot(target, 4).double()
    torch.testing.assert_close(logits.grad, expected)


def test_log_softmax_matches_torch_and_exponentiates_to_a_distribution():
    z = 50 * torch.randn(6, 5, dtype=torch.float64, generator=gen(3))
    torch.testing.assert_close(losses.log_softmax(z, dim=1), F.log_softmax(z, dim=1))
    torch.testing.assert_close(losses.log_softmax(z, dim=1).exp().sum(dim=1), torch.ones(6, dtype=torch.float64))


@pytest.mark.parametrize(
    "logits,target,error,match",
    [
        (torch.zeros(()), torch.tensor(0), ValueError, "logits shape"),
        (torch.zeros(3), torch.tensor([0]), ValueError, r"target shape: \(1,\) \(expected \(\) for logits of shape \(3,\)"),
        (torch.zeros(2, 3, 4), torch.tensor([0, 1]), ValueError, r"expected \(2, 4\)"),
        (torch.zeros(2, 3), torch.tensor([0.0, 1.0]), TypeError, "target dtype"),
        (torch.zeros(2, 3), torch.tensor([0, 1, 2]), ValueError, "target shape"),
        (torch.zeros(2, 3), torch.tensor([0, 3]), ValueError, r"\[0, 3\)"),
        (torch.zeros(2, 3), torch.tensor([-1, 0]), ValueError, r"\[0, 3\)"),
        ([[0.0, 1.0]], torch.tensor([0]), TypeError, "logits"),
    ],
)
def test_cross_entropy_rejects_bad_arguments(logits, target, error, match):
    with pytest.raises(error, match=match):
        losses.cross_entropy(logits, target)


# ----------------------------------------------------------------------------- MSE and L1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("shape", [(1,), (9,), (4, 3), (2, 3, 5)])
def test_regression_losses_match_torch_value_and_gradients(dtype, reduction, name, shape):
    x = 3 * torch.randn(shape, generator=gen(4), dtype=dtype)
    y = torch.randn(shape, generator=gen(5), dtype=dtype)
    assert_same_as_torch(
        lambda a, b: getattr(losses, name)(a, b, reduction=reduction),
        lambda a, b: getattr(F, name)(a, b, reduction=reduction),
        x, y, grad_inputs=(0, 1),
    )


def test_l1_gradient_is_zero_where_prediction_equals_target_like_torch():
    x = torch.tensor([1.0, 2.0, 3.0])
    y = torch.tensor([1.0, 0.0, 5.0])
    assert_same_as_torch(losses.l1_loss, F.l1_loss, x, y)
    x.requires_grad_(True)
    losses.l1_loss(x, y, reduction="sum").backward()
    assert x.grad.tolist() == [0.0, 1.0, -1.0]


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_elementwise_losses_reject_shape_mismatch_and_bad_reduction(name):
    fn = getattr(losses, name)
    with pytest.raises(ValueError, match="target shape"):
        fn(torch.full((3,), 0.5), torch.zeros(1))
    with pytest.raises(ValueError, match="'avg'"):
        fn(torch.full((3,), 0.5), torch.zeros(3), reduction="avg")
    with pytest.raises(TypeError, match="input"):
        fn([0.5], torch.zeros(1))


@pytest.mark.parametrize("name", ["cross_entropy", "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_reduction_none_sums_and_averages_to_the_other_reductions(name):
    fn = getattr(losses, name)
    if name == "cross_entropy":
        x, y = torch.randn(6, 4, dtype=torch.float64, generator=gen(6)), torch.tensor([0, 1, 2, 3, 0, 1])
    else:
        x, y = torch.rand(6, 2, dtype=torch.float64, generator=gen(6)), torch.rand(6, 2, dtype=torch.float64, generator=gen(7))
    per_element = fn(x, y, reduction="none")
    torch.testing.assert_close(fn(x, y, reduction="sum"), per_element.sum())
    torch.testing.assert_close(fn(x, y), per_element.mean())


# ----------------------------------------------------------------------------- binary cross-entropy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch_value_and_gradient(dtype, reduction):
    p = torch.rand(50, generator=gen(8), dtype=dtype) * 0.98 + 0.01
    y = (torch.rand(50, generator=gen(9), dtype=dtype) > 0.5).to(dtype)
    y[:5] = torch.rand(5, generator=gen(10), dtype=dtype)   # soft targets too
    assert_same_as_torch(
        lambda a, b: losses.binary_cross_entropy(a, b, reduction=reduction),
        lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
        p, y,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_reproduces_torch_clamp_at_zero_and_one(dtype):
    # p exactly 0 or 1, and p so close to them that p(1-p) < 1e-12: value floored at 100, gradient from the floored denominator
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-13, 0.5], dtype=dtype)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=dtype)
    assert_same_as_torch(
        lambda a, b: losses.binary_cross_entropy(a, b, reduction="none"),
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
        p, y,
    )
    value = losses.binary_cross_entropy(p, y, reduction="none")
    assert value[0].item() == value[1].item() == 100.0
    assert value[2].item() == value[3].item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_through_sigmoid_matches_torch_for_extreme_logits(dtype):
    z = torch.tensor([-100.0, -40.0, -17.0, 0.0, 17.0, 40.0, 100.0], dtype=dtype)
    for target in (0.0, 1.0):
        y = torch.full_like(z, target)
        assert_same_as_torch(
            lambda a, b: losses.binary_cross_entropy(torch.sigmoid(a), b, reduction="none"),
            lambda a, b: F.binary_cross_entropy(torch.sigmoid(a), b, reduction="none"),
            z, y,
        )


@pytest.mark.parametrize("bad", [torch.tensor([1.5]), torch.tensor([-0.1])])
def test_binary_cross_entropy_rejects_probabilities_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="probs"):
        losses.binary_cross_entropy(bad, torch.zeros(1))
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy(torch.full((1,), 0.5), bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 10.0, 100.0, 1000.0])
def test_binary_cross_entropy_with_logits_matches_torch_value_and_gradient(dtype, reduction, scale):
    z = scale * torch.randn(40, generator=gen(11), dtype=dtype)
    y = (torch.rand(40, generator=gen(12), dtype=dtype) > 0.5).to(dtype)
    y[:4] = torch.rand(4, generator=gen(13), dtype=dtype)
    assert_same_as_torch(
        lambda a, b: losses.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
        z, y,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_with_logits_at_extreme_and_zero_logits(dtype):
    z = torch.tensor([-100.0, -40.0, 0.0, 0.0, 40.0, 100.0, -1e4, 1e4], dtype=dtype)
    y = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], dtype=dtype)
    assert_same_as_torch(
        lambda a, b: losses.binary_cross_entropy_with_logits(a, b, reduction="none"),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
        z, y,
    )
    z.requires_grad_(True)
    per = losses.binary_cross_entropy_with_logits(z, y, reduction="none")
    per.sum().backward()
    torch.testing.assert_close(per[:2].detach(), torch.tensor([100.0, 40.0], dtype=dtype))  # confidently wrong: loss = |z|
    torch.testing.assert_close(z.grad[2:4], torch.tensor([0.5, -0.5], dtype=dtype))         # sigmoid(0) - y


def test_with_logits_keeps_the_gradient_that_probabilities_lose():
    z = torch.tensor([40.0], requires_grad=True)
    y = torch.tensor([0.0])
    losses.binary_cross_entropy(torch.sigmoid(z), y).backward()
    assert z.grad.item() == 0.0  # sigmoid(40) == 1.0 in float32: no signal reaches the logit
    z.grad = None
    losses.binary_cross_entropy_with_logits(z, y).backward()
    assert z.grad.item() == 1.0  # sigmoid(40) - 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_gives_the_target_a_gradient_like_torch(dtype):
    """torch differentiates BCE in the target too (-logit(p)); a soft target can be learned through it."""
    p = torch.tensor([0.3, 0.8, 0.5, 1e-3, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([0.2, 0.9, 1.0, 0.0, 0.5, 0.5], dtype=dtype)
    for reduction in REDUCTIONS:
        assert_same_as_torch(
            lambda a, b: losses.binary_cross_entropy(a, b, reduction=reduction),
            lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
            p, y, grad_inputs=(0, 1),
        )


def test_documented_differences_from_torch_are_pinned():
    """Where dlbook's losses deliberately differ from torch's, both sides of the difference are checked."""
    logits, bad_target = torch.zeros(2, 3), torch.tensor([0, 3])
    with pytest.raises(IndexError):                      # torch on the CPU: IndexError
        F.cross_entropy(logits, bad_target)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):   # dlbook: ValueError naming the range
        losses.cross_entropy(logits, bad_target)
    with pytest.warns(UserWarning, match="broadcast"):   # torch broadcasts mismatched shapes, with a warning
        F.mse_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ValueError, match="target shape"):  # dlbook refuses
        losses.mse_loss(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(RuntimeError):                    # torch on the CPU: RuntimeError for p outside [0, 1]
        F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="probs"):
        losses.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))


# ----------------------------------------------------------------------------- the stable arithmetic, printed in chapter 03


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_sigmoid_matches_torch_value_and_gradient_at_every_scale(dtype):
    z = torch.cat([1000 * torch.randn(20, generator=gen(14), dtype=dtype),
                   torch.tensor([-1e4, -100.0, -40.0, -17.0, 0.0, 17.0, 40.0, 100.0, 1e4], dtype=dtype)])
    assert_same_as_torch(losses.log_sigmoid, F.logsigmoid, z)
    assert torch.isfinite(losses.log_sigmoid(z)).all()


def test_log_sigmoid_rejects_integer_logits():
    with pytest.raises(TypeError, match="logits dtype"):
        losses.log_sigmoid(torch.tensor([1, 2]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_printed_arithmetic_of_cross_entropy_matches_torch_without_overflow(dtype):
    """The kernels chapter 03 prints are what the public losses run, and they are right where the naive forms overflow."""
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [0.5, 2.5, 0.3]], dtype=dtype)
    target = torch.tensor([1, 2, 0])
    assert_same_as_torch(losses._cross_entropy,
                         lambda z, y: F.cross_entropy(z, y, reduction="none"), logits, target)
    torch.testing.assert_close(losses._cross_entropy(logits, target),
                               losses.cross_entropy(logits, target, reduction="none"), rtol=0, atol=0)
    torch.testing.assert_close(losses._log_softmax(logits, dim=1), F.log_softmax(logits, dim=1))
    naive = -torch.log(torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True))
    assert not torch.isfinite(naive[0, 1]) and torch.isnan(naive[1, 2])   # overflow, and 0/0 after underflow


@pytest.mark.parametrize("dtype", DTYPES)
def test_printed_arithmetic_of_bce_with_logits_matches_torch_without_overflow(dtype):
    z = torch.tensor([-1000.0, -100.0, 0.0, 40.0, 1000.0], dtype=dtype)
    for target in (0.0, 1.0):
        y = torch.full_like(z, target)
        assert_same_as_torch(losses._binary_cross_entropy_with_logits,
                             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"), z, y)
        torch.testing.assert_close(losses._binary_cross_entropy_with_logits(z, y),
                                   losses.binary_cross_entropy_with_logits(z, y, reduction="none"), rtol=0, atol=0)


def test_bce_with_logits_rejects_integer_logits():
    with pytest.raises(TypeError, match="logits dtype"):
        losses.binary_cross_entropy_with_logits(torch.tensor([1, 2]), torch.zeros(2))


# ----------------------------------------------------------------------------- Hypothesis: any shape, layout, dtype

#: Each public loss beside torch's (``log_sigmoid`` is ``F.logsigmoid``); the tests below draw from it.
COUNTERPARTS = {
    "binary_cross_entropy": F.binary_cross_entropy,
    "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
    "cross_entropy": F.cross_entropy,
    "l1_loss": F.l1_loss,
    "log_sigmoid": F.logsigmoid,
    "log_softmax": F.log_softmax,
    "mse_loss": F.mse_loss,
}


def test_every_public_loss_has_a_drawn_comparison():
    assert set(losses.__all__) == set(COUNTERPARTS)


@FAST
@given(name=st.sampled_from(["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"]), shape=shapes,
       layout_x=layouts, layout_y=layouts, dtype=dtypes, dtype_y=dtypes, reduction=reductions, seed=seeds,
       scale=scales, zeros=st.booleans())
def test_elementwise_losses_equal_torchs_in_any_layout(name, shape, layout_x, layout_y, dtype, dtype_y, reduction,
                                                      seed, scale, zeros):
    """Also with input and target of different float dtypes (both promote), and exact ties x = y (l1's kink)."""
    if name.startswith("binary"):
        dtype_y = dtype  # torch returns the target's dtype for float64 logits and float32 targets: pinned below
    unit = (lambda t: torch.sigmoid(t)) if name.startswith("binary") else None  # BCE targets lie in [0, 1]
    assert_like_torch(
        functools.partial(getattr(losses, name), reduction=reduction),
        functools.partial(getattr(F, name), reduction=reduction),
        lambda: (laid_out(shape, layout_x, dtype, seed, scale, zeros=zeros),
                 laid_out(shape, layout_y, dtype_y, seed + 1, transform=unit, zeros=zeros and not unit)),
    )


@FAST
@given(shape=shapes, layout_p=layouts, layout_y=layouts, dtype=dtypes, reduction=reductions, seed=seeds,
       steepness=st.sampled_from([1.0, 4.0, 100.0]))
def test_binary_cross_entropy_equals_torchs_in_any_layout(shape, layout_p, layout_y, dtype, reduction, seed, steepness):
    """steepness 100 rounds many probabilities to exactly 0 or 1: torch's floor at -100 and its gradient's clamp."""
    def probability(t):
        return torch.sigmoid(steepness * t)

    assert_like_torch(
        functools.partial(losses.binary_cross_entropy, reduction=reduction),
        functools.partial(F.binary_cross_entropy, reduction=reduction),
        lambda: (laid_out(shape, layout_p, dtype, seed, transform=probability),
                 laid_out(shape, layout_y, dtype, seed + 1, transform=probability)),
    )


@FAST
@given(n=st.integers(1, 8), c=st.integers(1, 7), extra=st.lists(st.integers(1, 3), max_size=2), batched=st.booleans(),
       layout=layouts, dtype=dtypes, reduction=reductions, seed=seeds, scale=scales, strided_target=st.booleans(),
       target_dtype=st.sampled_from([torch.int64, torch.uint8]))
def test_cross_entropy_equals_torchs_in_any_layout(n, c, extra, batched, layout, dtype, reduction, seed, scale,
                                                   strided_target, target_dtype):
    """Logits (N, C), (C,) and (N, C, d1, ...), up to +-1e4; targets int64 or uint8 (torch's two), sliced or not."""
    shape, target_shape = ((n, c, *extra), (n, *extra)) if batched else ((c,), ())
    target_dtype = torch.int64 if extra else target_dtype  # torch takes uint8 class indices for (N, C) logits only
    target = torch.randint(0, c, (*target_shape, 2), generator=torch.Generator().manual_seed(seed), dtype=target_dtype)
    target = target[..., 0] if strided_target else target[..., 0].contiguous()
    assert target.shape == target_shape
    assert_like_torch(
        lambda z: losses.cross_entropy(z, target, reduction=reduction),
        lambda z: F.cross_entropy(z, target, reduction=reduction),
        lambda: (laid_out(shape, layout, dtype, seed, scale),),
    )


@settings(FAST, max_examples=40)
@given(shape=shapes, data=st.data(), layout=layouts, dtype=dtypes, seed=seeds, scale=scales)
def test_log_softmax_equals_torchs_along_any_dim_in_any_layout(shape, data, layout, dtype, seed, scale):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    assert_like_torch(lambda z: losses.log_softmax(z, dim=dim), lambda z: F.log_softmax(z, dim=dim),
                      lambda: (laid_out(shape, layout, dtype, seed, scale),))


@settings(FAST, max_examples=40)
@given(shape=shapes, layout=layouts, dtype=dtypes, seed=seeds, scale=scales, zeros=st.booleans())
def test_log_sigmoid_equals_torchs_in_any_layout(shape, layout, dtype, seed, scale, zeros):
    assert_like_torch(losses.log_sigmoid, F.logsigmoid, lambda: (laid_out(shape, layout, dtype, seed, scale, zeros=zeros),))


def away_from_kinks(t):
    """|x| has no derivative at 0; finite differences straddling it disagree with any slope."""
    return torch.sign(t) * (0.05 + t.abs())


GRADCHECKED = {
    "mse_loss": (lambda x: losses.mse_loss(x, torch.linspace(-1, 1, x.numel(), dtype=x.dtype).reshape(x.shape)), None),
    "l1_loss": (lambda x: losses.l1_loss(x, torch.zeros_like(x)), away_from_kinks),
    "bce_with_logits": (lambda x: losses.binary_cross_entropy_with_logits(x, torch.full_like(x, 0.3)), None),
    "bce": (lambda x: losses.binary_cross_entropy(x, torch.full_like(x, 0.7)), lambda t: 0.05 + 0.9 * torch.sigmoid(t)),
    "bce_target": (lambda y: losses.binary_cross_entropy(torch.full_like(y, 0.2), y), torch.sigmoid),
    "cross_entropy": (lambda x: losses.cross_entropy(x.reshape(len(x), -1), torch.zeros(len(x), dtype=torch.long)), None),
    "log_softmax": (lambda x: losses.log_softmax(x, dim=0), None),
    "log_sigmoid": (losses.log_sigmoid, None),
}


@settings(FAST, max_examples=40)
@given(name=st.sampled_from(sorted(GRADCHECKED)), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       layout=layouts, seed=seeds)
def test_loss_gradients_equal_finite_differences(name, shape, layout, seed):
    fn, transform = GRADCHECKED[name]
    if name == "cross_entropy":
        shape = (shape[0], 2 + (shape[-1] if len(shape) > 1 else 1))
    leaf, _ = laid_out(shape, layout, torch.float64, seed, transform=transform)
    assert torch.autograd.gradcheck(lambda t: fn(view(t, shape, layout)), (leaf,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_bce_with_logits_differs_from_torch_on_mixed_dtypes():
    """Deliberate: float64 logits with a float32 target give float64 here (ordinary promotion); torch returns float32."""
    z, y = torch.tensor([0.3, -2.0], dtype=torch.float64), torch.tensor([1.0, 0.0])
    assert F.binary_cross_entropy_with_logits(z, y).dtype == torch.float32
    ours = losses.binary_cross_entropy_with_logits(z, y)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(z, y.double()), rtol=1e-15, atol=0)
    assert "Unlike torch" in losses.binary_cross_entropy_with_logits.__doc__


def test_binary_cross_entropy_differs_from_torch_on_mixed_dtypes():
    """Deliberate: torch refuses probs and target of different dtypes; here they promote (to float64)."""
    p, y = torch.tensor([0.3, 0.9]), torch.tensor([1.0, 0.0], dtype=torch.float64)
    with pytest.raises(RuntimeError, match="dtype"):
        F.binary_cross_entropy(p, y)
    ours = losses.binary_cross_entropy(p, y)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, F.binary_cross_entropy(p.double(), y), rtol=1e-6, atol=0)   # log p in float32
    assert "Unlike torch, which requires" in losses.binary_cross_entropy.__doc__


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_losses_differ_from_torch_in_half_precision_by_a_rounding_error(dtype):
    """Deliberate (module docstring): torch computes these in float32 and rounds once; here every step rounds."""
    g = gen(20)
    z = (3 * torch.randn(64, 10, generator=g, dtype=torch.float64)).to(dtype)
    t, y = torch.randint(0, 10, (64,), generator=g), torch.rand(64, 10, generator=g, dtype=torch.float64).to(dtype)
    pairs = [(losses.cross_entropy(z, t, reduction="none"), F.cross_entropy(z, t, reduction="none")),
             (losses.log_softmax(z, 1), F.log_softmax(z, 1)),
             (losses.log_sigmoid(z), F.logsigmoid(z)),
             (losses.binary_cross_entropy_with_logits(z, y, reduction="none"),
              F.binary_cross_entropy_with_logits(z, y, reduction="none"))]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.dtype == dtype
        a, b = ours.double(), theirs.double()
        assert ((a - b).abs() <= 2 * torch.finfo(dtype).eps * (1 + b.abs())).all()
        assert not torch.equal(a, b)
    assert "differ from torch's by about one rounding" in " ".join(losses.__doc__.split())
