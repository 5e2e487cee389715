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
