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
        for p in params:                   # Value accumulates like torch: reset, as zero_grad() does
            p.grad = 0.0
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


# --------------------------------------------------------------------------- accumulation: .grad adds up, as in torch


def _chain(engine_leaf):
    """z = x·x, y = 3z + x: a non-leaf z between the leaf x and the output y."""
    x = engine_leaf
    z = x * x
    return x, z, z * 3.0 + x


def _torch_leaf(value):
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def test_backward_twice_accumulates_like_torch_with_retain_graph():
    x, z, y = _chain(Value(1.5))
    tx, tz, ty = _chain(_torch_leaf(1.5))
    tz.retain_grad()
    for _ in range(2):
        y.backward()
        ty.backward(retain_graph=True)
        assert x.grad == tx.grad.item() and z.grad == tz.grad.item()
    assert x.grad == 2 * (6 * 1.5 + 1)      # dy/dx = 6x + 1, twice; z's 3 from the first call did not flow again
    assert z.grad == 6.0


def test_backward_of_two_outputs_sharing_a_leaf_adds_like_torch():
    a, b = Value(0.7), Value(-1.2)
    u, v = (a * b).tanh(), a.exp() + b ** 2
    ta, tb = _torch_leaf(0.7), _torch_leaf(-1.2)
    tu, tv = (ta * tb).tanh(), ta.exp() + tb ** 2
    u.backward(), v.backward()
    tu.backward(), tv.backward()
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-15) and b.grad == pytest.approx(tb.grad.item(), rel=1e-15)


def test_two_backward_calls_give_the_backward_of_the_sum():
    a = Value(0.3)
    u, v = a.sigmoid(), a * a * a
    u.backward(), v.backward()
    separately = a.grad
    a.grad = 0.0
    (u + v).backward()
    assert separately == pytest.approx(a.grad, rel=1e-15)


def test_resetting_grad_to_zero_starts_over_like_zero_grad():
    x, _, y = _chain(Value(-0.4))
    tx, _, ty = _chain(_torch_leaf(-0.4))
    y.backward(), y.backward()
    ty.backward(retain_graph=True), ty.backward(retain_graph=True)
    x.grad = 0.0                  # torch: x.grad = None (zero_grad's default) or x.grad.zero_()
    tx.grad = None
    y.backward()
    ty.backward()
    assert x.grad == tx.grad.item() == 6 * -0.4 + 1


def test_resetting_only_the_leaves_is_enough():
    """A training loop resets its parameters only; stale non-leaf grads must not leak into the next call."""
    x, z, y = _chain(Value(2.0))
    y.backward()
    x.grad = 0.0                  # z.grad still holds 3
    y.backward()
    assert x.grad == 6 * 2.0 + 1 and z.grad == 6.0


def test_backward_again_differs_from_torch_which_needs_retain_graph():
    x, _, y = _chain(Value(1.0))
    y.backward()
    y.backward()                  # no retain_graph needed: the graph is kept
    assert x.grad == 14.0
    tx, _, ty = _chain(_torch_leaf(1.0))
    ty.backward()
    with pytest.raises(RuntimeError, match="second time"):
        ty.backward()


def test_non_leaf_grad_differs_from_torch_it_is_kept_as_if_retain_grad():
    x, z, y = _chain(Value(1.0))
    y.backward()
    assert z.grad == 3.0 and y.grad == 1.0
    tx, tz, ty = _chain(_torch_leaf(1.0))
    ty.backward()
    with pytest.warns(UserWarning, match="retain_grad"):
        assert tz.grad is None    # torch keeps no non-leaf .grad unless asked


def test_float_grad_on_every_value_differs_from_torch_constants_included():
    x = Value(2.0)
    assert x.grad == 0.0          # torch: None before the first backward
    y = x * 2.5
    y.backward()
    constant = next(node for node in y.topological_order() if node is not x and not node._prev)
    assert constant.data == 2.5 and constant.grad == 2.0   # torch: a constant has no .grad
    assert _torch_leaf(2.0).grad is None


def test_pow_zero_has_zero_gradient_like_torch_even_at_zero():
    x = Value(0.0)
    (x ** 0).backward()
    t = _torch_leaf(0.0)
    (t ** 0).backward()
    assert x.grad == t.grad.item() == 0.0


def _sqrt_grad_at_zero(v):
    """d/dv (v - 1)^0.5 at v = 1: infinite."""
    ((v - 1) ** 0.5).backward()
    return v.grad


DOMAIN = {  # ours raises; torch returns inf or nan (each lambda gets a leaf holding 1.0)
    "log(0)": (lambda v: (v * 0).log(), ValueError),
    "1/0": (lambda v: v / (v * 0), ZeroDivisionError),
    "(-4)**0.5": (lambda v: (v - 5) ** 0.5, ValueError),
    "0**-1": (lambda v: (v * 0) ** -1, ZeroDivisionError),
    "exp(1000)": (lambda v: (v * 1000).exp(), OverflowError),
    "(1e200)**3": (lambda v: (v * 1e200) ** 3, OverflowError),
    "d/dx x**0.5 at x = 0": (_sqrt_grad_at_zero, ZeroDivisionError),
}


@pytest.mark.parametrize("case", DOMAIN)
def test_domain_error_differs_from_torch_which_returns_inf_or_nan(case):
    f, error = DOMAIN[case]
    with pytest.raises(error):
        f(Value(1.0))
    assert not math.isfinite(f(_torch_leaf(1.0)).item())


# --------------------------------------------------------------------------- Hypothesis: drawn expressions against torch

from hypothesis import HealthCheck, assume, given, settings, strategies as st  # noqa: E402

FAST = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _safe(a, av):
    """a if it is at least 0.25 away from 0, else a·a + 1 (>= 1): a safe divisor, log argument or base."""
    return a if abs(av) >= 0.25 else a * a + 1


def _positive(a, av):
    return a if av >= 0.25 else a * a + 1


# Each op works on Value and on torch tensors alike; av, bv are the operands' values, so both
# engines take the same branch of a guard. Guards only keep the result finite and real.
OPS = {
    "add": lambda a, b, av, bv: a + b,
    "sub": lambda a, b, av, bv: a - b,
    "mul": lambda a, b, av, bv: a * b,
    "div": lambda a, b, av, bv: a / _safe(b, bv),
    "radd": lambda a, b, av, bv: 1.5 + a,
    "rsub": lambda a, b, av, bv: 1.5 - a,
    "rmul": lambda a, b, av, bv: -0.7 * a,
    "rdiv": lambda a, b, av, bv: 3.0 / _safe(a, av),
    "neg": lambda a, b, av, bv: -a,
    "pow0": lambda a, b, av, bv: a ** 0,
    "pow1": lambda a, b, av, bv: a ** 1,
    "pow2": lambda a, b, av, bv: a ** 2,
    "pow3": lambda a, b, av, bv: a ** 3,
    "pow2.0": lambda a, b, av, bv: a ** 2.0,
    "pow-1": lambda a, b, av, bv: _safe(a, av) ** -1,
    "pow-2": lambda a, b, av, bv: _safe(a, av) ** -2,
    "pow0.5": lambda a, b, av, bv: _positive(a, av) ** 0.5,
    "pow1.5": lambda a, b, av, bv: _positive(a, av) ** 1.5,
    "exp": lambda a, b, av, bv: a.exp() if av < 30 else a.tanh().exp(),
    "log": lambda a, b, av, bv: _positive(a, av).log(),
    "tanh": lambda a, b, av, bv: a.tanh(),
    "sigmoid": lambda a, b, av, bv: a.sigmoid(),
    "relu": lambda a, b, av, bv: a.relu(),
}


@st.composite
def programs(draw):
    """Leaves, then steps (op, i, j) each applying op to earlier nodes i and j (reused nodes: fan-out).

    The ops come from shuffles of all of them, so that 60 examples try every op many times
    (sampled_from, drawn afresh per step, left tanh out of 60 derandomized examples).
    """
    special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.25])   # kinks and guard edges: relu at 0, 0 ** 0
    leaves = draw(st.lists(st.one_of(special, st.floats(-2, 2, allow_nan=False)), min_size=1, max_size=4))
    operands = draw(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=10))
    ops = draw(st.permutations(sorted(OPS))) + draw(st.permutations(sorted(OPS)))
    outputs = draw(st.lists(st.integers(0, 99), min_size=2, max_size=2))
    return leaves, [(op, i, j) for op, (i, j) in zip(ops, operands)], outputs


def run_program(leaves, steps):
    """The program's nodes, built by both engines: (Value nodes, tensor nodes), leaves first.

    None if a value overflows (Python's float ** and math.exp raise where torch returns inf).
    """
    values = [Value(v) for v in leaves]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves]
    for op, i, j in steps:
        i, j = i % len(values), j % len(values)
        av, bv = values[i].data, values[j].data
        try:
            values.append(OPS[op](values[i], values[j], av, bv))
        except OverflowError:
            return None
        tensors.append(OPS[op](tensors[i], tensors[j], av, bv))
        if not abs(values[-1].data) < 1e100:
            return None
    for t in tensors[len(leaves):]:
        t.retain_grad()                 # torch keeps non-leaf grads only when asked; Value always does
    return values, tensors


def assert_same(values, tensors):
    """Same values and same .grad on every node, to rounding relative to the graph's largest numbers."""
    scale = max(1.0, *(abs(v.data) for v in values), *(abs(v.grad) for v in values))
    ours = torch.tensor([[v.data, v.grad] for v in values], dtype=torch.float64)
    theirs = torch.tensor([[t.item(), 0.0 if t.grad is None else t.grad.item()] for t in tensors], dtype=torch.float64)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12 * scale)


@FAST
@given(programs())
def test_drawn_expressions_match_torch_over_two_backward_calls_and_a_reset(program):
    leaves, steps, (first, second) = program
    built = run_program(leaves, steps)
    assume(built is not None)
    values, tensors = built
    first, second = first % len(values), second % len(values)
    values[first].backward()                            # 1: fresh gradients
    tensors[first].backward(retain_graph=True)
    assert_same(values, tensors)
    values[second].backward()                           # 2: added to them (maybe the same output again)
    tensors[second].backward(retain_graph=True)
    assert_same(values, tensors)
    for v, t in zip(values[:len(leaves)], tensors):     # 3: reset the leaves only, as zero_grad() does
        v.grad = 0.0
        t.grad = None
    values[first].backward()
    tensors[first].backward()
    assert_same(values, tensors)


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("a,b", [(0.0, 0.0), (0.0, -1.5), (-0.0, 0.7), (1.0, 0.25), (-0.25, 2.0), (-1.3, -0.6)])
def test_every_op_matches_torch_at_special_points(op, a, b):
    values, tensors = run_program([a, b], [(op, 0, 1)])   # never None here
    values[-1].backward()
    tensors[-1].backward()
    assert_same(values, tensors)


@FAST
@given(programs())
def test_backward_calls_add_up_to_the_backward_of_the_sum(program):
    leaves, steps, (first, second) = program
    built = run_program(leaves, steps)
    assume(built is not None)
    values, _ = built
    first, second = values[first % len(values)], values[second % len(values)]
    first.backward()
    second.backward()
    separately = [v.grad for v in values[:len(leaves)]]
    for v in values:
        v.grad = 0.0
    (first + second).backward()
    scale = max(1.0, *(abs(g) for g in separately))
    assert [v.grad for v in values[:len(leaves)]] == pytest.approx(separately, rel=1e-12, abs=1e-12 * scale)
