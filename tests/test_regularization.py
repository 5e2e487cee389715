"""dlbook.regularization against PyTorch: penalties, soft-thresholding, and weight-decay parameter groups."""

import copy

import pytest
import torch
from torch import nn

from dlbook.layers import BatchNorm1d, LayerNorm
from dlbook.regularization import decay_groups, l1_penalty, l2_penalty, soft_threshold

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
