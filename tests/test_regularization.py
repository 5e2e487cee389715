"""dlbook.regularization against PyTorch: penalties, soft-thresholding, and weight-decay parameter groups.

The Hypothesis tests at the end draw shapes, memory layouts (contiguous, transposed, sliced with
a step, expanded), dtypes (mixed within one call too), exact zeros, entries at exactly
+-threshold, NaN and infinities, and compare with torch: the penalties with
``torch.linalg.vector_norm`` and SGD's ``weight_decay``, soft-thresholding with
``F.softshrink``, decay groups with the parameter groups a torch optimizer builds from them.
"""

import copy
import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from dlbook.layers import BatchNorm1d, LayerNorm
from dlbook.regularization import decay_groups, l1_penalty, l2_penalty, soft_threshold
from strategies import assert_like_torch, dtypes, laid_out, layouts, scales, seeds, shapes, view

FAST = settings(max_examples=50, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

DT = torch.float64


def tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(5, 3, generator=g, dtype=DT), torch.randn(7, generator=g, dtype=DT),
            torch.randn(2, 3, 4, generator=g, dtype=DT)]


# --------------------------------------------------------------------------- penalties


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l2_penalty_is_half_the_squared_norm_and_its_gradient_is_w(seed):
    ts = [t.requires_grad_() for t in tensors(seed)]
    ours = l2_penalty(ts)
    flat = torch.cat([t.flatten() for t in ts])
    torch.testing.assert_close(ours, torch.linalg.vector_norm(flat, ord=2) ** 2 / 2)
    ours.backward()
    for t in ts:
        torch.testing.assert_close(t.grad, t.detach())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l1_penalty_is_the_l1_norm_and_its_gradient_is_the_sign(seed):
    ts = [t.requires_grad_() for t in tensors(seed)]
    ours = l1_penalty(ts)
    flat = torch.cat([t.flatten() for t in ts])
    torch.testing.assert_close(ours, torch.linalg.vector_norm(flat, ord=1))
    ours.backward()
    for t in ts:
        torch.testing.assert_close(t.grad, t.detach().sign())


def test_penalties_accept_a_single_tensor_and_model_parameters():
    w = torch.tensor([3.0, -4.0], dtype=DT)
    assert l2_penalty(w).item() == 12.5
    assert l1_penalty(w).item() == 7.0
    net = nn.Linear(3, 2).double()
    torch.testing.assert_close(l1_penalty(net.parameters()), net.weight.abs().sum() + net.bias.abs().sum())


@pytest.mark.parametrize("lam", [0.01, 0.3])
def test_sgd_on_loss_plus_l2_penalty_equals_sgd_weight_decay_over_steps(lam):
    torch.manual_seed(0)
    x, y = torch.randn(32, 6, dtype=DT), torch.randint(0, 3, (32,))
    ref = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    opt_a = torch.optim.SGD(a.parameters(), lr=0.2, weight_decay=lam)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.2)
    for _ in range(25):
        for model, opt, penalty in ((a, opt_a, 0.0), (b, opt_b, lam)):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y) + penalty * l2_penalty(model.parameters())
            loss.backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad, error", [(nn.Linear(2, 2), TypeError), ("w", TypeError), (3.0, TypeError),
                                        ([], ValueError), ([torch.tensor([1, 2])], TypeError)])
@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_penalties_reject_bad_arguments(penalty, bad, error):
    with pytest.raises(error, match="Invalid parameters"):
        penalty(bad)


# --------------------------------------------------------------------------- soft-thresholding


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.5, 1.0, 3.0])
def test_soft_threshold_equals_torch_softshrink(threshold):
    w = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=DT)
    ours = soft_threshold(w, threshold)
    torch.testing.assert_close(ours, nn.functional.softshrink(w, threshold), rtol=0, atol=0)
    assert bool((ours[w.abs() <= threshold] == 0).all())


@pytest.mark.parametrize("threshold", [0.1, 0.7])
def test_soft_threshold_minimizes_the_proximal_objective(threshold):
    v = torch.linspace(-2, 2, 41, dtype=DT)
    grid = torch.linspace(-3, 3, 60_001, dtype=DT)          # spacing 1e-4
    objective = 0.5 * (grid[None, :] - v[:, None]) ** 2 + threshold * grid.abs()[None, :]
    best = grid[objective.argmin(dim=1)]
    torch.testing.assert_close(soft_threshold(v, threshold), best, rtol=0, atol=1e-4)


def test_proximal_gradient_reaches_the_lasso_optimality_conditions():
    """ISTA on least squares + lam*|w|_1: at the optimum, grad_i = -lam*sign(w_i) where w_i != 0, |grad_i| <= lam where w_i = 0."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 20, generator=g, dtype=DT)
    y = x[:, :3] @ torch.tensor([2.0, -1.0, 0.5], dtype=DT) + 0.1 * torch.randn(50, generator=g, dtype=DT)
    lam = 0.3
    lr = 1 / torch.linalg.matrix_norm(x.T @ x / len(x), ord=2).item()
    w = torch.zeros(20, dtype=DT)
    for _ in range(5000):
        grad = x.T @ (x @ w - y) / len(x)
        w = soft_threshold(w - lr * grad, lr * lam)
    grad = x.T @ (x @ w - y) / len(x)
    nonzero = w != 0
    assert 0 < int(nonzero.sum()) < 20
    torch.testing.assert_close(grad[nonzero], -lam * w[nonzero].sign(), rtol=0, atol=1e-9)
    assert bool((grad[~nonzero].abs() <= lam + 1e-9).all())


@pytest.mark.parametrize("w, threshold, error", [([1.0], 0.1, TypeError), (torch.tensor([1, 2]), 0.1, TypeError),
                                                 (torch.ones(2), -0.1, ValueError), (torch.ones(2), "0.1", TypeError)])
def test_soft_threshold_rejects_bad_arguments(w, threshold, error):
    with pytest.raises(error, match="Invalid"):
        soft_threshold(w, threshold)


# --------------------------------------------------------------------------- decay groups


class Mixed(nn.Module):
    """Every kind of parameter: linear, convolution, embedding, torch and dlbook normalization layers."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.conv = nn.Conv1d(4, 6, 3)
        self.bn = nn.BatchNorm1d(6)
        self.fc1 = nn.Linear(6, 5)
        self.our_bn = BatchNorm1d(5)
        self.fc2 = nn.Linear(5, 5, bias=False)
        self.our_ln = LayerNorm(5)
        self.ln = nn.LayerNorm(5)
        self.out = nn.Linear(5, 3)

    def forward(self, tokens):
        h = self.bn(self.conv(self.embed(tokens).transpose(1, 2))).relu().mean(dim=2)
        h = self.our_bn(self.fc1(h)).relu()
        return self.out(self.ln(self.our_ln(self.fc2(h))))


def manual_groups(model, weight_decay):
    """By hand: the `weight` of each embedding, convolution and linear layer decays; nothing else."""
    m = model
    decay = [m.embed.weight, m.conv.weight, m.fc1.weight, m.fc2.weight, m.out.weight]
    no_decay = [m.conv.bias, m.bn.weight, m.bn.bias, m.fc1.bias, m.our_bn.weight, m.our_bn.bias,
                m.our_ln.weight, m.our_ln.bias, m.ln.weight, m.ln.bias, m.out.bias]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def ids(params):
    return [id(p) for p in params]


def test_decay_groups_match_a_grouping_by_hand():
    torch.manual_seed(0)
    model = Mixed()
    ours, theirs = decay_groups(model, 0.05), manual_groups(model, 0.05)
    assert [g["weight_decay"] for g in ours] == [0.05, 0.0]
    for a, b in zip(ours, theirs):
        assert sorted(ids(a["params"])) == sorted(ids(b["params"]))


def test_decay_groups_partition_the_parameters_in_model_order():
    model = Mixed()
    groups = decay_groups(model, 0.1)
    together = ids(groups[0]["params"]) + ids(groups[1]["params"])
    assert sorted(together) == sorted(ids(model.parameters()))
    assert len(set(together)) == len(together)
    for g in groups:
        order = [i for i in ids(model.parameters()) if i in set(ids(g["params"]))]
        assert ids(g["params"]) == order


def test_decay_groups_count_a_shared_parameter_once_and_drop_empty_groups():
    shared = nn.Linear(3, 3, bias=False)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    groups = decay_groups(model, 0.1)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 0.1
    assert ids(groups[0]["params"]) == [id(shared.weight)]


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (16, 7), generator=g), torch.randint(0, 3, (16,), generator=g)


def train(model, optimizer, steps, x, y, loss_extra=None, before_step=None):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if loss_extra is not None:
            loss = loss + loss_extra(model)
        loss.backward()
        if before_step is not None:
            before_step(model)
        optimizer.step()


@pytest.mark.parametrize("make", [
    lambda groups: torch.optim.AdamW(groups, lr=0.01),
    lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
    lambda groups: torch.optim.Adam(groups, lr=0.01),
])
def test_training_with_decay_groups_equals_training_with_hand_made_groups(make):
    torch.manual_seed(1)
    ref = Mixed().double()
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    x, y = data()
    train(a, make(decay_groups(a, 0.3)), 15, x, y)
    train(b, make(manual_groups(b, 0.3)), 15, x, y)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def test_adamw_with_zero_gradient_shrinks_only_the_weights():
    model = Mixed().double()
    before = copy.deepcopy(model)
    lr, lam, steps = 0.01, 0.5, 12
    optimizer = torch.optim.AdamW(decay_groups(model, lam), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        sum(0.0 * p.sum() for p in model.parameters()).backward()
        optimizer.step()
    for p, q in zip(model.parameters(), before.parameters()):
        expected = q * (1 - lr * lam) ** steps if p.ndim >= 2 else q
        torch.testing.assert_close(p, expected, rtol=1e-13, atol=0)


def test_sgd_with_decay_groups_equals_an_l2_penalty_on_the_weights_only():
    torch.manual_seed(2)
    ref = Mixed().double()
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    x, y = data(1)
    lam = 0.2
    train(a, torch.optim.SGD(decay_groups(a, lam), lr=0.1), 20, x, y)
    train(b, torch.optim.SGD(b.parameters(), lr=0.1), 20, x, y,
          loss_extra=lambda m: lam * l2_penalty([p for p in m.parameters() if p.ndim >= 2]))
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-9, atol=1e-11)


def test_adamw_with_decay_groups_equals_adam_after_decaying_the_weights_by_hand():
    torch.manual_seed(3)
    ref = Mixed().double()
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    x, y = data(2)
    lr, lam = 0.01, 0.4

    def decay_weights(model):
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim >= 2:
                    p.mul_(1 - lr * lam)

    train(a, torch.optim.AdamW(decay_groups(a, lam), lr=lr), 20, x, y)
    train(b, torch.optim.Adam(b.parameters(), lr=lr), 20, x, y, before_step=decay_weights)
    for pa, pb in zip(a.parameters(), b.parameters()):     # Adam's division amplifies rounding a little
        torch.testing.assert_close(pa, pb, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("model, wd, error, match", [
    ([nn.Parameter(torch.ones(2, 2))], 0.1, TypeError, "Invalid model: list"),
    (nn.Linear(2, 2), -0.1, ValueError, "Invalid weight_decay value: -0.1"),
    (nn.Linear(2, 2), "0.1", TypeError, "Invalid weight_decay value"),
    (nn.Linear(2, 2), float("nan"), ValueError, "Invalid weight_decay value"),
])
def test_decay_groups_reject_bad_arguments(model, wd, error, match):
    with pytest.raises(error, match=match):
        decay_groups(model, wd)


# --------------------------------------------------------------------------- Hypothesis: any shape, layout, dtype

#: One to three tensors, each with its own shape, layout and dtype.
tensor_specs = st.lists(st.tuples(shapes, layouts, dtypes), min_size=1, max_size=3)


def torch_l1(*views):
    return sum(torch.linalg.vector_norm(v, ord=1) for v in views)


def torch_l2(*views):
    return sum(torch.linalg.vector_norm(v, ord=2).square() for v in views) / 2


@FAST
@given(specs=tensor_specs, penalty=st.sampled_from(["l1", "l2"]), seed=seeds, scale=scales, zeros=st.booleans())
def test_penalties_equal_torchs_norms_in_any_layout(specs, penalty, seed, scale, zeros):
    """Value and gradient; at exact zeros |w|'s gradient is torch's subgradient 0; mixed dtypes promote as torch's do."""
    ours, theirs = (l1_penalty, torch_l1) if penalty == "l1" else (l2_penalty, torch_l2)
    all_float64 = all(dtype == torch.float64 for _, _, dtype in specs)   # float32 parts are summed in float32 by both
    assert_like_torch(lambda *views: ours(list(views)), theirs,
                      lambda: [laid_out(shape, layout, dtype, seed + i, scale, zeros=zeros)
                               for i, (shape, layout, dtype) in enumerate(specs)],
                      **({} if all_float64 else {"rtol": 1.3e-6, "atol": 1e-5}))
    views = [laid_out(shape, layout, dtype, seed + i, scale)[1] for i, (shape, layout, dtype) in enumerate(specs)]
    total = torch.nn.utils.get_total_norm(views, norm_type=1 if penalty == "l1" else 2)   # torch's total norm
    expected = total if penalty == "l1" else total.square() / 2
    assert ours(views).dtype == expected.dtype
    torch.testing.assert_close(ours(views), expected, rtol=1e-12 if all_float64 else 1e-5, atol=0)


@settings(FAST, max_examples=30)
@given(specs=st.lists(st.tuples(shapes, layouts.filter(lambda layout: layout != "expanded"), dtypes), min_size=1,
                      max_size=3),   # an expanded tensor cannot be updated in place, by any optimizer
       lam=st.sampled_from([0.0, 1e-4, 0.1, 2.0]), lr=st.sampled_from([0.01, 0.5]), seed=seeds)
def test_sgd_on_l2_penalty_equals_torchs_weight_decay_for_non_contiguous_parameters(specs, lam, lr, seed):
    """Three SGD steps on lam * l2_penalty(params) equal SGD(weight_decay=lam) on a zero loss, for parameters in any layout."""
    def parameters():
        return [view(laid_out(shape, layout, dtype, seed + i)[0], shape, layout).detach().requires_grad_(True)
                for i, (shape, layout, dtype) in enumerate(specs)]

    ours, theirs = parameters(), parameters()
    opt_ours, opt_theirs = torch.optim.SGD(ours, lr=lr), torch.optim.SGD(theirs, lr=lr, weight_decay=lam)
    for _ in range(3):
        opt_ours.zero_grad()
        (lam * l2_penalty(ours)).backward()
        opt_ours.step()
        for p in theirs:
            p.grad = torch.zeros_like(p)
        opt_theirs.step()
    for a, b in zip(ours, theirs):
        assert a.stride() == b.stride()
        torch.testing.assert_close(a, b, rtol=1e-12 if a.dtype == torch.float64 else 1e-6, atol=0)


def with_edges(threshold, specials):
    """Put entries at exactly +-threshold (where softshrink's two cases meet), and NaN and +-inf if asked."""
    def transform(t):
        flat = t.clone().reshape(-1)
        flat[1::5], flat[2::5] = threshold, -threshold
        if specials:
            flat[3::7], flat[4::7], flat[5::7] = float("nan"), float("inf"), -float("inf")
        return flat.reshape(t.shape)
    return transform


@FAST
@given(shape=shapes, layout=layouts, dtype=dtypes, seed=seeds, scale=scales, zeros=st.booleans(), specials=st.booleans(),
       threshold=st.one_of(st.sampled_from([0.0, 1e-30, 0.1, 1 / 3, 1.0, 1e4]), st.floats(0, 10)))
def test_soft_threshold_equals_torchs_softshrink_in_any_layout(shape, layout, dtype, seed, scale, zeros, specials,
                                                              threshold):
    """Exactly: the same numbers, NaN where softshrink has NaN, gradient 1 where an entry moves and 0 where it stops."""
    def softshrink(w):   # with gradient 1 at NaN (torch's is 0 or 1 by position: pinned below)
        return torch.where(w.isnan(), w, nn.functional.softshrink(w, lambd=threshold))

    assert_like_torch(functools.partial(soft_threshold, threshold=threshold), softshrink,
                      lambda: (laid_out(shape, layout, dtype, seed, scale, with_edges(threshold, specials), zeros),),
                      rtol=0, atol=0)


def test_soft_threshold_differs_from_torch_on_an_infinite_threshold():
    """Deliberate: softshrink refuses lambd = inf (and, for float32, any lambd above float32's largest number)."""
    w = torch.tensor([1.0, -1e30, 0.0])
    with pytest.raises(RuntimeError, match="lambda must be in range"):
        nn.functional.softshrink(w, float("inf"))
    assert torch.equal(soft_threshold(w, float("inf")), torch.zeros(3))
    assert "Unlike softshrink" in soft_threshold.__doc__


def test_soft_threshold_differs_from_torch_in_the_gradient_at_nan():
    """Deliberate: NaN passes through with gradient 1 everywhere; softshrink's gradient at NaN is 0 in its vectorized
    kernel and 1 in its scalar tail (here: the first 16 of 17 float32 entries, and the last)."""
    def grad(fn):
        w = torch.full((17,), float("nan"), requires_grad=True)
        fn(w).sum().backward()
        return w.grad

    assert torch.equal(grad(lambda w: soft_threshold(w, 0.5)), torch.ones(17))
    theirs = grad(lambda w: nn.functional.softshrink(w, 0.5))
    assert set(theirs.tolist()) == {0.0, 1.0}
    assert "gradient 1 at NaN" in soft_threshold.__doc__


LAYERS = {
    "linear": lambda: nn.Linear(3, 3),
    "linear_no_bias": lambda: nn.Linear(3, 3, bias=False),
    "conv": lambda: nn.Conv1d(3, 3, 2),
    "embedding": lambda: nn.Embedding(5, 3),
    "batchnorm": lambda: nn.BatchNorm1d(3),
    "layernorm": lambda: nn.LayerNorm(3),
    "dlbook_layernorm": lambda: LayerNorm(3),
    "relu": nn.ReLU,
}


@FAST
@given(kinds=st.lists(st.sampled_from(sorted(LAYERS)), min_size=1, max_size=6), share=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2, 0.5]), optimizer=st.sampled_from(["SGD", "AdamW"]))
def test_decay_groups_are_the_parameter_groups_torch_builds(kinds, share, weight_decay, optimizer):
    """A torch optimizer accepts them (no parameter twice, no empty group) and holds every parameter once, decayed iff ndim >= 2."""
    layers = [LAYERS[k]() for k in kinds]
    model = nn.Sequential(*layers, *(layers[:1] if share else []))   # a shared layer: its parameters once
    opt = getattr(torch.optim, optimizer)(decay_groups(model, weight_decay), lr=0.1)
    params = list(model.parameters())
    assert sorted(id(p) for g in opt.param_groups for p in g["params"]) == sorted(map(id, params))
    expected = [([p for p in params if p.ndim >= 2], weight_decay), ([p for p in params if p.ndim < 2], 0.0)]
    assert [([id(p) for p in g["params"]], g["weight_decay"]) for g in opt.param_groups] == \
        [([id(p) for p in ps], wd) for ps, wd in expected if ps]
