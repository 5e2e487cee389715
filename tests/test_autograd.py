"""dlbook.autograd.Value checked against torch.autograd on random expressions."""

import math
import random

import pytest
import torch

from dlbook.autograd import Value, draw_graph

UNARY = ["tanh", "relu", "sigmoid", "exp", "log", "neg", "pow2", "pow3", "sqrt_pos"]
BINARY = ["add", "sub", "mul", "div", "radd", "rsub", "rmul", "rdiv"]


def build(rng, leaves, depth, ops):
    """A random expression over `leaves`, built with the engine-specific `ops`."""
    if depth == 0:
        return rng.choice(leaves)
    if rng.random() < 0.4:
        op = rng.choice(UNARY)
        a = build(rng, leaves, depth - 1, ops)
        return ops[op](a)
    op = rng.choice(BINARY)
    return ops[op](build(rng, leaves, depth - 1, ops), build(rng, leaves, depth - 1, ops))


def value_ops():
    return {
        "tanh": Value.tanh, "relu": Value.relu, "sigmoid": Value.sigmoid,
        # exp and log kept in a safe range: exp of a squashed value, log of a positive one
        "exp": lambda a: a.tanh().exp(), "log": lambda a: (a * a + 1).log(),
        "neg": lambda a: -a, "pow2": lambda a: a ** 2, "pow3": lambda a: a ** 3,
        "sqrt_pos": lambda a: (a * a + 0.5) ** 0.5,
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / (b * b + 1), "radd": lambda a, b: 2.5 + a, "rsub": lambda a, b: 1.5 - b,
        "rmul": lambda a, b: -0.7 * a, "rdiv": lambda a, b: 3.0 / (a * a + 1),
    }


def torch_ops():
    return {
        "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
        "exp": lambda a: torch.exp(torch.tanh(a)), "log": lambda a: torch.log(a * a + 1),
        "neg": lambda a: -a, "pow2": lambda a: a ** 2, "pow3": lambda a: a ** 3,
        "sqrt_pos": lambda a: (a * a + 0.5) ** 0.5,
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / (b * b + 1), "radd": lambda a, b: 2.5 + a, "rsub": lambda a, b: 1.5 - b,
        "rmul": lambda a, b: -0.7 * a, "rdiv": lambda a, b: 3.0 / (a * a + 1),
    }


@pytest.mark.parametrize("seed", range(300))
def test_random_expression_matches_torch(seed):
    rng = random.Random(seed)
    inputs = [rng.uniform(-2, 2) for _ in range(4)]
    depth = rng.randint(1, 6)
    values = [Value(v) for v in inputs]
    out = build(random.Random(seed + 10_000), values, depth, value_ops())
    out.backward()
    tensors = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
    tout = build(random.Random(seed + 10_000), list(tensors.unbind()), depth, torch_ops())
    if tout.requires_grad:
        tout.backward()
    grads = tensors.grad if tensors.grad is not None else torch.zeros(4, dtype=torch.float64)
    assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-12)
    torch.testing.assert_close(torch.tensor([v.grad for v in values], dtype=torch.float64), grads, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.5, 3.0, 40.0, -40.0, 800.0, -800.0])
@pytest.mark.parametrize("op", ["tanh", "sigmoid", "relu"])
def test_unary_ops_match_torch_at_extremes(op, x):
    v = Value(x)
    y = getattr(v, op)()
    y.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = getattr(torch, op)(t)
    ty.backward()
    assert y.data == pytest.approx(ty.item(), abs=1e-15)
    assert v.grad == pytest.approx(t.grad.item(), abs=1e-15)


def test_reused_node_accumulates_gradient():
    a = Value(3.0)
    b = a * a + a  # db/da = 2a + 1
    b.backward()
    assert a.grad == 7.0


def test_deep_chain_does_not_hit_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_errors_are_clear():
    with pytest.raises(TypeError, match="data"):
        Value("1.0")
    with pytest.raises(ValueError, match="log"):
        Value(-1.0).log()
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(2.0)


def test_draw_graph_has_one_box_per_node():
    import matplotlib

    matplotlib.use("Agg")
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    out = (a * b + a).tanh()
    out.backward()
    ax = draw_graph(out)
    assert len(ax.texts) == len(out.topological_order())
    assert any(f"grad {a.grad:.4g}" in t.get_text() for t in ax.texts)
    assert not math.isnan(a.grad)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_small_network_trained_with_value_tracks_torch(activation):
    """Chapter 02 trains a network with Value in place of loss.backward(): same gradients, same run."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 3), getattr(torch.nn, {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}[activation])(), torch.nn.Linear(3, 1)).double()
    x = torch.randn(8, 5, dtype=torch.float64)
    t = (torch.rand(8, dtype=torch.float64) > 0.5).double()
    W1 = [[Value(w) for w in row] for row in net[0].weight.tolist()]
    b1 = [Value(b) for b in net[0].bias.tolist()]
    W2 = [Value(w) for w in net[2].weight[0].tolist()]
    b2 = Value(net[2].bias.item())
    params = [w for row in W1 for w in row] + b1 + W2 + [b2]
    sgd = torch.optim.SGD(net.parameters(), lr=0.3)
    for _ in range(5):
        total = 0
        for image, label in zip(x.tolist(), t.tolist()):
            hidden = [getattr(sum((w * v for w, v in zip(row, image)), b), activation)() for row, b in zip(W1, b1)]
            score = sum((w * h for w, h in zip(W2, hidden)), b2)
            signed = score if label == 1 else -score
            total = total + (1 + (-signed).exp()).log()
        loss = total / len(x)
        loss.backward()
        sgd.zero_grad()
        torch_loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x).squeeze(1), t)
        torch_loss.backward()
        assert loss.data == pytest.approx(torch_loss.item(), rel=1e-12, abs=1e-12)
        theirs = torch.cat([p.grad.flatten() for p in net.parameters()])
        torch.testing.assert_close(torch.tensor([p.grad for p in params], dtype=torch.float64), theirs, rtol=1e-10, atol=1e-13)
        for p in params:
            p.data -= 0.3 * p.grad
        sgd.step()
    final = torch.cat([p.detach().flatten() for p in net.parameters()])
    torch.testing.assert_close(torch.tensor([p.data for p in params], dtype=torch.float64), final, rtol=1e-10, atol=1e-13)
