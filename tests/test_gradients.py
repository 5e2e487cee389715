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
    ({"max_norm": 1.0, "norm_type": float("nan")}, ValueError, "norm_type"),
    ({"max_norm": 1.0, "norm_type": "two"}, ValueError, "norm_type"),
    ({"max_norm": 1.0, "norm_type": None}, TypeError, "norm_type"),
    ({"max_norm": float("nan")}, ValueError, "max_norm"),
])
def test_clip_grad_norm_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        clip_grad_norm(list(_model_with_grads(0).parameters()), **kwargs)


@pytest.mark.parametrize("bad", [3.0, [torch.zeros(1), "w"]])
def test_clip_grad_norm_rejects_what_is_not_tensors(bad):
    with pytest.raises(TypeError, match="parameters"):
        clip_grad_norm(bad, 1.0)


# --- Hypothesis: values against torch in any shape, layout and dtype ---

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from strategies import laid_out, seeds, shapes  # noqa: E402

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

#: Smooth elementwise pieces; exp is taken of a bounded argument so that no term dominates the sum.
SMOOTH = {"sin": torch.sin, "tanh": torch.tanh, "square": torch.square, "cube": lambda t: t ** 3,
          "softplus": nn.functional.softplus, "exp_tanh": lambda t: torch.exp(torch.tanh(t))}


@st.composite
def smooth_functions(draw):
    """f(v) = sum_k c_k sum_i g_k(a_k v_i + b_k), plus logsumexp(v) and a term coupling neighbours, if drawn."""
    terms = draw(st.lists(st.tuples(st.sampled_from(sorted(SMOOTH)), st.floats(-2, 2), st.floats(-2, 2),
                                    st.floats(-1, 1)), min_size=1, max_size=3))
    lse, couple = draw(st.booleans()), draw(st.booleans())

    def f(v):
        out = sum(c * SMOOTH[g](a * v + b).sum() for g, a, b, c in terms)
        if lse:
            out = out + torch.logsumexp(v.flatten(), 0)
        if couple:
            flat = v.flatten()
            out = out + 0.1 * (flat * flat.roll(1)).sum() ** 2
        return out

    return f


#: Every layout of the point: contiguous, sliced with a step, expanded, and transposed.
point_layouts = st.sampled_from(["contiguous", "strided", "expanded", "transposed"])


@FAST
@given(f=smooth_functions(), shape=shapes, layout=point_layouts, seed=seeds)
def test_numerical_gradient_equals_autograd_on_drawn_smooth_functions_in_float64(f, shape, layout, seed):
    x = laid_out(shape, layout, torch.float64, seed)[1].detach()
    before = x.clone()
    expected = torch.autograd.functional.jacobian(f, x)
    actual = numerical_gradient(f, x)
    assert actual.shape == x.shape and actual.dtype == torch.float64
    torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-7)   # central differences: eps^2 + rounding/eps
    assert torch.equal(x, before)


@settings(FAST, max_examples=20)
@given(f=smooth_functions(), shape=shapes, layout=point_layouts, seed=seeds)
def test_numerical_gradient_equals_autograd_on_drawn_smooth_functions_in_float32(f, shape, layout, seed):
    """float32 carries 7 digits: a step of 1e-2 (error ~1e-5 times the third derivative, plus ~1e-5 |f| of rounding)."""
    x = laid_out(shape, layout, torch.float32, seed)[1].detach()
    expected = torch.autograd.functional.jacobian(f, x)
    actual = numerical_gradient(f, x, eps=1e-2)
    assert actual.shape == x.shape and actual.dtype == torch.float32
    scale = 1 + abs(f(x).item()) + expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=1e-3, atol=1e-3 * scale)


def test_numerical_gradient_takes_a_transposed_point_like_autograd():
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).T
    f = FUNCTIONS["quadratic"]
    torch.testing.assert_close(numerical_gradient(f, x), torch.autograd.functional.jacobian(f, x), rtol=1e-6, atol=1e-8)


@FAST
@given(f=smooth_functions(), shape=shapes, layout=st.sampled_from(["contiguous", "transposed", "strided", "expanded"]),
       dtype=st.sampled_from([torch.float32, torch.float64]), lr=st.sampled_from([1e-3, 0.01, 0.05]),
       steps=st.integers(0, 8), seed=seeds)
def test_gradient_descent_follows_torchs_sgd(f, shape, layout, dtype, lr, steps, seed):
    """The path is what torch.optim.SGD(lr) takes from x0 on f, point by point, for a start point in any layout."""
    x0 = laid_out(shape, layout, dtype, seed)[1].detach()
    path = gradient_descent(f, x0, lr=lr, steps=steps)
    x = x0.clone().requires_grad_(True)   # an expanded start point is copied out, by both
    opt = torch.optim.SGD([x], lr=lr)
    expected = [x.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        expected.append(x.detach().clone())
    assert path.shape == (steps + 1, *shape) and path.dtype == dtype
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(path, torch.stack(expected), **tol)


@FAST
@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=4), dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.sampled_from([1e-30, 1e-8, 1.0, 1e18, 1e30]), norm_type=st.one_of(st.sampled_from([1.0, 2.0, float("inf")]),
                                                                                 st.floats(1, 8)),
       max_norm=st.sampled_from([0.0, 1e-6, 1.0, 1e20]), seed=seeds)
def test_clip_grad_norm_equals_torchs_at_extreme_magnitudes_and_any_norm_type(sizes, dtype, scale, norm_type, max_norm,
                                                                              seed):
    """Empty gradients, norms that underflow or overflow float32 (an infinite norm: both multiply by 0), p in [1, 8]."""
    gen = torch.Generator().manual_seed(seed)
    grads = [scale * torch.randn(n, dtype=dtype, generator=gen) for n in sizes]

    def params():
        ps = [torch.zeros(len(g), dtype=dtype, requires_grad=True) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = g.clone()
        return ps

    ours, theirs = params(), params()
    if norm_type == float("inf") and 0 in sizes:   # the largest entry of nothing: an error in torch, and here
        with pytest.raises(RuntimeError, match="empty tensor"):
            torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
        with pytest.raises(RuntimeError, match="empty tensor"):
            clip_grad_norm(ours, max_norm, norm_type)
        return
    total = clip_grad_norm(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    tol = {"rtol": 1e-12, "atol": 0} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 0}
    assert total.dtype == expected.dtype
    torch.testing.assert_close(total, expected, equal_nan=True, **tol)
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad, equal_nan=True, **tol)


# --- gradient accumulation (.grad) ---

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

ACCUMULATION = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow])


def test_layer_gradient_norms_leaves_every_grad_as_it_was():
    """A measurement in the middle of accumulating gradients must not clear or add to them."""
    torch.manual_seed(0)
    model = mlp([5, 7, 3])
    x, y = torch.randn(9, 5), torch.randint(0, 3, (9,))
    nn.functional.cross_entropy(model(x), y).backward()          # a gradient being accumulated
    held = [p.grad.clone() for p in model.parameters()]
    norms = layer_gradient_norms(model, x[:4], y[:4])
    for p, g in zip(model.parameters(), held):
        assert torch.equal(p.grad, g)
    fresh = mlp([5, 7, 3])
    fresh.load_state_dict(model.state_dict())
    nn.functional.cross_entropy(fresh(x[:4]), y[:4]).backward()
    assert norms == [fresh[0].weight.grad.norm().item(), fresh[2].weight.grad.norm().item()]
    assert mlp([5, 7, 3])[0].weight.grad is None                 # and a model without .grad keeps None
    untouched = mlp([5, 7, 3])
    layer_gradient_norms(untouched, x, y)
    assert all(p.grad is None for p in untouched.parameters())


def test_gradient_descent_writes_no_grad():
    """torch.autograd.grad returns gradients without accumulating them anywhere."""
    w = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)   # a parameter f closes over
    x0 = torch.tensor([1.0, 3.0], dtype=torch.float64, requires_grad=True)
    x0.grad = torch.tensor([7.0, 7.0], dtype=torch.float64)
    path = gradient_descent(lambda v: ((v - w) ** 2).sum(), x0, lr=0.1, steps=3)
    assert w.grad is None and torch.equal(x0.grad, torch.tensor([7.0, 7.0], dtype=torch.float64))
    assert torch.equal(x0.detach(), torch.tensor([1.0, 3.0], dtype=torch.float64)) and not path.requires_grad


@st.composite
def grad_layouts(draw):
    """Parameters with a .grad each: float32 or float64, contiguous, transposed or sliced, some None."""
    params = []
    for k in range(draw(st.integers(1, 4))):
        rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        dtype = draw(st.sampled_from([torch.float32, torch.float64]))
        gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
        scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
        layout = draw(st.sampled_from(["contiguous", "transposed", "sliced", "none"]))
        p = torch.zeros(rows, cols, dtype=dtype, requires_grad=True)
        if layout == "contiguous":
            p.grad = scale * torch.randn(rows, cols, dtype=dtype, generator=gen)
        elif layout == "transposed":
            p.grad = (scale * torch.randn(cols, rows, dtype=dtype, generator=gen)).T
        elif layout == "sliced":
            p.grad = (scale * torch.randn(2 * rows, cols + 1, dtype=dtype, generator=gen))[::2, 1:]
        params.append(p)
    max_norm = draw(st.sampled_from([0.0, 1e-2, 1.0, 50.0, 1e6]))
    norm_type = draw(st.sampled_from([1.0, 2.0, 3.0, float("inf")]))
    return params, max_norm, norm_type


def _twin(params):
    twins = []
    for p in params:
        q = p.detach().clone().requires_grad_(True)
        if p.grad is not None:   # the same strides as p.grad: clone() keeps a dense non-contiguous layout
            q.grad = torch.empty_strided(p.grad.shape, p.grad.stride(), dtype=p.grad.dtype).copy_(p.grad)
        twins.append(q)
    return twins


@ACCUMULATION
@given(grad_layouts())
def test_clip_grad_norm_rescales_each_grad_in_place_like_torch(case):
    """Same norm and same .grad as torch, written into the same memory (a view's base sees it, as in torch)."""
    params, max_norm, norm_type = case
    theirs = _twin(params)
    held = [(p.grad, None if p.grad is None else p.grad.data_ptr()) for p in params]
    total = clip_grad_norm(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.dtype == expected.dtype
    torch.testing.assert_close(total, expected, rtol=1e-6, atol=0)
    for p, q, (g, address) in zip(params, theirs, held):
        assert p.grad is g                                       # not replaced, not set to None
        if g is None:
            assert q.grad is None
            continue
        assert p.grad.data_ptr() == address and p.grad.stride() == q.grad.stride()
        tol = {"rtol": 1e-6, "atol": 1e-30} if g.dtype == torch.float32 else {"rtol": 1e-13, "atol": 1e-300}
        torch.testing.assert_close(p.grad, q.grad, **tol)


def test_clip_grad_norm_after_two_backward_calls_clips_their_sum_like_torch():
    """Clipping acts on what .grad holds, accumulated gradients included."""
    torch.manual_seed(0)
    ours, theirs = mlp([4, 6, 3]).double(), mlp([4, 6, 3]).double()
    theirs.load_state_dict(ours.state_dict())
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    for model in (ours, theirs):
        for half in (slice(0, 4), slice(4, 8)):
            nn.functional.cross_entropy(model(x[half]), y[half]).backward()
    total = clip_grad_norm(ours.parameters(), 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1)
    torch.testing.assert_close(total, expected, rtol=1e-14, atol=0)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-14, atol=1e-300)


# --------------------------------------------------------------------------- norm types below 1, "inf", non-finite norms


@pytest.mark.parametrize("norm_type", [0.5, 0.0, -float("inf"), "inf", "-inf", 0.25])
def test_clip_grad_norm_takes_every_norm_type_torch_takes(norm_type):
    """p < 1, p = 0 (a count of non-zero entries), -inf (the smallest entry) and the string "inf", as torch."""
    grads = [torch.tensor([3.0, 0.0, 4.0]), torch.tensor([[0.5, -2.0]]).T]

    def params():
        ps = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = g.clone()
        return ps

    ours, theirs = params(), params()
    total = clip_grad_norm(ours, 1.0, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    assert torch.equal(total, expected)
    for p, q in zip(ours, theirs):
        assert torch.equal(p.grad, q.grad)


@pytest.mark.parametrize("error", [False, True])
def test_clip_grad_norm_error_if_nonfinite_like_torch(error):
    def params():
        p = torch.zeros(2, requires_grad=True)
        p.grad = torch.tensor([float("inf"), 1.0])
        return [p]

    ours, theirs = params(), params()
    if error:
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match="non-finite"):
            clip_grad_norm(ours, 1.0, error_if_nonfinite=True)
        assert torch.equal(ours[0].grad, theirs[0].grad)  # left as they were
    else:
        assert torch.equal(clip_grad_norm(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0))
        torch.testing.assert_close(ours[0].grad, theirs[0].grad, equal_nan=True)


def test_clip_grad_norm_differs_from_torch_it_has_no_foreach_argument():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.nn.utils.clip_grad_norm_([p], 1.0, foreach=False)
    with pytest.raises(TypeError, match="foreach"):
        clip_grad_norm([p], 1.0, foreach=False)


# --- hessian_top_eigenvalue: power iteration against the full Hessian's eigenvalues ---

from hypothesis import assume  # noqa: E402

from dlbook.gradients import hessian_top_eigenvalue  # noqa: E402
from rng_guard import leaves_global_rng_alone  # noqa: E402


def largest_magnitude(eigenvalues: torch.Tensor) -> float:
    return eigenvalues[eigenvalues.abs().argmax()].item()


def symmetric_with_eigenvalues(eigenvalues, seed):
    """Q diag(eigenvalues) Q^T with a random orthogonal Q, in float64."""
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    return q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T


@pytest.mark.parametrize("eigenvalues", [[5.0, 3.0, 1.0, 0.5], [4.0, 2.0], [-6.0, 2.0, 1.0], [7.0, -3.0, 0.0, 0.0, 1e-3],
                                         [2.5], [1e-4, 5e-5], [3.0, 3.0, 1.0]])
@pytest.mark.parametrize("seed", range(2))
def test_hessian_top_eigenvalue_of_a_quadratic_is_the_matrix_largest_magnitude_eigenvalue(eigenvalues, seed):
    a = symmetric_with_eigenvalues(eigenvalues, seed)
    x = torch.randn(len(eigenvalues), dtype=torch.float64, requires_grad=True)
    top = hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=500, tol=1e-15)
    expected = largest_magnitude(torch.linalg.eigvalsh(a))
    assert top.value == pytest.approx(expected, rel=1e-12)
    v = top.vector[0]
    assert v.dtype == torch.float64 and v.norm().item() == pytest.approx(1.0, rel=1e-12)
    torch.testing.assert_close(a @ v, expected * v, rtol=0, atol=1e-6 * abs(expected))


def flat_hessian(model, loss_of_output):
    """The full Hessian of loss_of_output(model(...)) w.r.t. all parameters as one vector (torch.autograd.functional)."""
    names, params = zip(*model.named_parameters())
    shapes_, sizes = [p.shape for p in params], [p.numel() for p in params]

    def loss_of_flat(flat):
        pieces = dict(zip(names, (t.view(s) for t, s in zip(flat.split(sizes), shapes_))))
        return loss_of_output(torch.func.functional_call(model, pieces, ()))

    flat = torch.cat([p.detach().flatten() for p in params])
    return torch.autograd.functional.hessian(loss_of_flat, flat)


class TinyNet(nn.Module):
    def __init__(self, x):
        super().__init__()
        self.x = x
        self.hidden, self.out = nn.Linear(3, 4), nn.Linear(4, 2)

    def forward(self):
        return self.out(torch.tanh(self.hidden(self.x)))


@pytest.mark.parametrize("seed", range(3))
def test_hessian_top_eigenvalue_of_a_small_network_matches_the_full_hessian_in_float64(seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = TinyNet(torch.randn(8, 3, dtype=torch.float64, generator=g)).double()
    y = torch.randint(0, 2, (8,), generator=g)
    loss_of_output = lambda out: nn.functional.cross_entropy(out, y)  # noqa: E731
    h = flat_hessian(net, loss_of_output)
    expected = largest_magnitude(torch.linalg.eigvalsh(h))
    top = hessian_top_eigenvalue(lambda: loss_of_output(net()), net.parameters(), iters=5000, tol=1e-14)
    assert top.value == pytest.approx(expected, rel=1e-9)
    v = torch.cat([t.flatten() for t in top.vector])
    assert (h @ v - expected * v).norm().item() < 1e-4 * abs(expected)


def test_hessian_top_eigenvalue_spans_several_parameters_as_one_vector_and_takes_any_layout():
    a = symmetric_with_eigenvalues([9.0, -4.0, 2.0, 1.0, 0.5, 0.25], seed=5)
    w = torch.randn(3, 1, dtype=torch.float64).t().requires_grad_()  # (1, 3), not contiguous
    b = torch.randn(3, dtype=torch.float64)[::1].requires_grad_()
    unused = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def loss():
        z = torch.cat([w.flatten(), b])
        return 0.5 * z @ a @ z

    top = hessian_top_eigenvalue(loss, [w, b, unused], iters=500, tol=1e-15)
    assert top.value == pytest.approx(9.0, rel=1e-12)
    assert [t.shape for t in top.vector] == [w.shape, b.shape, unused.shape] and top.vector[2].abs().max() < 1e-8


def test_hessian_top_eigenvalue_in_float32_is_close_to_float64s():
    a = symmetric_with_eigenvalues([3.0, 1.0, -0.5], seed=1)
    x = torch.randn(3, requires_grad=True)
    a32 = a.float()
    top = hessian_top_eigenvalue(lambda: 0.5 * x @ a32 @ x, x, iters=200, tol=1e-7)
    assert top.vector[0].dtype == torch.float32 and top.value == pytest.approx(3.0, rel=1e-5)


def test_hessian_top_eigenvalue_of_a_loss_linear_in_the_parameters_is_zero():
    w = torch.ones(4, requires_grad=True)
    top = hessian_top_eigenvalue(lambda: (w * torch.arange(4.0)).sum(), [w])
    assert top.value == 0.0 and top.iterations == 1


def test_hessian_top_eigenvalue_stops_early_at_tol_and_at_zero_tol_only_once_lambda_stops_changing():
    a = symmetric_with_eigenvalues([4.0, 2.0, 1.0], seed=0)
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=200, tol=1e-6).iterations < 30
    assert hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=12, tol=0).iterations == 12


def test_hessian_top_eigenvalue_leaves_every_grad_as_it_was_and_works_under_no_grad():
    torch.manual_seed(0)
    net = TinyNet(torch.randn(5, 3))
    net.hidden.weight.grad = torch.full_like(net.hidden.weight, 0.5)
    kept = net.hidden.weight.grad
    loss = lambda: net().pow(2).mean()  # noqa: E731
    with torch.no_grad():
        value = hessian_top_eigenvalue(loss, net.parameters()).value
    assert value == hessian_top_eigenvalue(loss, net.parameters()).value
    assert net.hidden.weight.grad is kept and torch.equal(kept, torch.full_like(kept, 0.5))
    assert all(p.grad is None for name, p in net.named_parameters() if name != "hidden.weight")


def test_hessian_top_eigenvalue_draws_from_its_own_generator_only():
    a = symmetric_with_eigenvalues([4.0, 2.0, 1.0], seed=0)
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    with leaves_global_rng_alone():
        first = hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], seed=3)
    again = hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], seed=3)
    other = hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], seed=4)
    assert first.value == again.value and torch.equal(first.vector[0], again.vector[0])
    assert other.value == pytest.approx(first.value, rel=1e-5) and not torch.equal(other.vector[0], first.vector[0])


_x3 = torch.ones(3, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("call,error,match", [
    (lambda: hessian_top_eigenvalue(0.5, [_x3]), TypeError, "loss_fn"),
    (lambda: hessian_top_eigenvalue(lambda: _x3 * 2, [_x3]), ValueError, "loss_fn"),
    (lambda: hessian_top_eigenvalue(lambda: 1.0, [_x3]), ValueError, "loss_fn"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), []), ValueError, "params"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), 3), TypeError, "params"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3, "w"]), TypeError, "params"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [torch.ones(3)]), ValueError, "params"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [torch.ones(3, dtype=torch.long)]), TypeError, "params"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3], iters=0), ValueError, "iters"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3], iters=2.0), TypeError, "iters"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3], tol=-1e-3), ValueError, "tol"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3], seed=-1), ValueError, "seed"),
    (lambda: hessian_top_eigenvalue(lambda: _x3.sum(), [_x3], seed=0.5), TypeError, "seed"),
])
def test_hessian_top_eigenvalue_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=f"Invalid {match}"):
        call()


@settings(FAST, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(n=st.integers(1, 6), data=st.data())
def test_property_hessian_top_eigenvalue_of_a_drawn_quadratic_is_eigvalshs_largest_magnitude(n, data):
    """½ xᵀAx for a drawn symmetric A (Hessian A everywhere): power iteration finds eigvalsh's eigenvalue of largest
    magnitude to 1e-6 relative, whenever the second largest magnitude is at most 0.9 of it."""
    entries = data.draw(st.lists(st.floats(-10, 10), min_size=n * n, max_size=n * n))
    m = torch.tensor(entries, dtype=torch.float64).view(n, n)
    a = (m + m.T) / 2
    magnitudes = torch.linalg.eigvalsh(a).abs().sort(descending=True).values
    assume(magnitudes[0] > 1e-3 and (n == 1 or magnitudes[1] <= 0.9 * magnitudes[0]))
    x = torch.tensor(data.draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)), dtype=torch.float64,
                     requires_grad=True)
    top = hessian_top_eigenvalue(lambda: 0.5 * x @ a @ x, [x], iters=1000, tol=1e-12, seed=data.draw(seeds))
    assert top.value == pytest.approx(largest_magnitude(torch.linalg.eigvalsh(a)), rel=1e-6)
