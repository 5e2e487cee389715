"""dlbook.optim run side by side with torch.optim: the same trajectory over many steps, every option, several shapes."""

import inspect
import itertools

import pytest
import torch

from dlbook import optim
from dlbook.models import count_parameters, mlp

SHAPES = [(), (3,), (4, 5), (2, 3, 4)]
PAIRS = {"SGD": (optim.SGD, torch.optim.SGD), "Adam": (optim.Adam, torch.optim.Adam),
         "AdamW": (optim.AdamW, torch.optim.AdamW), "RMSprop": (optim.RMSprop, torch.optim.RMSprop),
         "Adagrad": (optim.Adagrad, torch.optim.Adagrad)}


def grid(**options):
    names = list(options)
    return [dict(zip(names, values)) for values in itertools.product(*options.values())]


SGD_OPTIONS = [o for o in grid(lr=[0.01], momentum=[0, 0.9], dampening=[0, 0.3], weight_decay=[0, 0.1], nesterov=[False, True])
               if not (o["nesterov"] and (o["momentum"] == 0 or o["dampening"] != 0))]
ADAM_OPTIONS = grid(lr=[1e-3, 0.05], betas=[(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)], eps=[1e-8, 1e-3], weight_decay=[0, 0.1])
ADAMW_OPTIONS = grid(lr=[1e-3, 0.05], betas=[(0.9, 0.999), (0.0, 0.9)], eps=[1e-8], weight_decay=[0, 1e-2, 0.5])
RMSPROP_OPTIONS = grid(lr=[0.01], alpha=[0.99, 0.5], eps=[1e-8, 1e-2], weight_decay=[0, 0.1], momentum=[0, 0.9], centered=[False, True])
ADAGRAD_OPTIONS = grid(lr=[0.01, 0.5], lr_decay=[0, 0.05], weight_decay=[0, 0.1], initial_accumulator_value=[0, 0.3],
                       eps=[1e-10, 1e-2])
CASES = ([("SGD", o) for o in SGD_OPTIONS] + [("Adam", o) for o in ADAM_OPTIONS]
         + [("AdamW", o) for o in ADAMW_OPTIONS] + [("RMSprop", o) for o in RMSPROP_OPTIONS]
         + [("Adagrad", o) for o in ADAGRAD_OPTIONS])


def make_params(dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True) for shape in SHAPES]


def loss_at(params, t):
    """A non-convex loss whose coordinates have very different curvatures, plus step-dependent noise.

    The last parameter only takes part every third step, so it has no gradient
    (``.grad is None``) on the others: optimizers must skip it and keep its state as is.
    """
    g = torch.Generator().manual_seed(1000 + t)
    total = 0.0
    for i, p in enumerate(params):
        if i == len(params) - 1 and t % 3:
            continue
        scale = 10.0 ** torch.linspace(-2, 2, p.numel(), dtype=p.dtype).view(p.shape)
        noise = 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
        total = total + (scale * (p - 1) ** 2).sum() + 0.1 * torch.sin(3 * p).sum() + (noise * p).sum()
    return total


def step_both(ours, theirs, ours_params, their_params, t):
    for opt, params in ((ours, ours_params), (theirs, their_params)):
        opt.zero_grad()
        loss_at(params, t).backward()
        opt.step()


def run_side_by_side(name, options, steps=100, dtype=torch.float64, groups=None, scheduler=None, **close):
    ours_cls, torch_cls = PAIRS[name]
    ours_params, their_params = make_params(dtype), make_params(dtype)
    if groups is None:
        ours, theirs = ours_cls(ours_params, **options), torch_cls(their_params, **options)
    else:
        ours = ours_cls([dict(params=[ours_params[i] for i in idx], **extra) for idx, extra in groups], **options)
        theirs = torch_cls([dict(params=[their_params[i] for i in idx], **extra) for idx, extra in groups], **options)
    schedulers = [scheduler(ours), scheduler(theirs)] if scheduler else []
    for t in range(steps):
        step_both(ours, theirs, ours_params, their_params, t)
        for s in schedulers:
            s.step()
        for a, b in zip(ours_params, their_params):
            torch.testing.assert_close(a, b, **close, msg=lambda m: f"step {t}: {m}")
    return ours, theirs, ours_params, their_params


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_same_trajectory_as_torch_for_every_option(name, options):
    ours, theirs, params, _ = run_side_by_side(name, options, steps=100, rtol=0, atol=0)
    assert all(torch.isfinite(p).all() for p in params)
    assert params[1].sub(make_params()[1]).abs().max() > 1e-3  # the optimizer really moved the parameters


@pytest.mark.parametrize("name", PAIRS)
def test_state_has_torch_keys_shapes_and_step_counts(name):
    options = {"SGD": dict(lr=0.01, momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True),
               "Adagrad": dict(lr_decay=0.01, initial_accumulator_value=0.1)}.get(name, {})
    ours, theirs, ours_params, their_params = run_side_by_side(name, options, steps=20)
    for a, b in zip(ours_params, their_params):
        sa, sb = ours.state[a], theirs.state[b]
        assert sorted(sa) == sorted(sb)
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)
    assert optim.state_nbytes(ours) == optim.state_nbytes(theirs) > 0


@pytest.mark.parametrize("name,options,per_param", [
    ("SGD", dict(lr=0.1), 0), ("SGD", dict(lr=0.1, momentum=0.9), 1), ("RMSprop", {}, 1),
    ("RMSprop", dict(momentum=0.9, centered=True), 3), ("Adam", {}, 2), ("AdamW", {}, 2), ("Adagrad", {}, 1)])
def test_state_nbytes_counts_one_float32_copy_per_buffer(name, options, per_param):
    torch.manual_seed(0)
    model = mlp([6, 5, 3])
    opt = PAIRS[name][0](model.parameters(), **options)
    model(torch.randn(4, 6)).sum().backward()
    opt.step()
    n_tensors = len(list(model.parameters()))
    step_counters = 4 * n_tensors if name != "SGD" else 0
    assert optim.state_nbytes(opt) == 4 * per_param * count_parameters(model) + step_counters


@pytest.mark.parametrize("name", PAIRS)
def test_float32_trajectory_matches_torch(name):
    options = dict(lr=0.01) if name == "SGD" else {}
    run_side_by_side(name, options, steps=50, dtype=torch.float32, rtol=0, atol=0)


@pytest.mark.parametrize("name", PAIRS)
def test_param_groups_with_their_own_hyperparameters(name):
    options = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    extra = {"SGD": dict(lr=0.1, momentum=0.5, nesterov=True), "Adam": dict(lr=0.05, betas=(0.8, 0.9)),
             "AdamW": dict(lr=0.05, weight_decay=0.3), "RMSprop": dict(lr=0.001, centered=True, momentum=0.3),
             "Adagrad": dict(lr=0.1, lr_decay=0.02, eps=1e-3)}[name]
    run_side_by_side(name, options, groups=[([0, 1], {}), ([2, 3], extra)], rtol=0, atol=0)


SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5),
    "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=60),
    # cycles momentum / beta1 too, where the optimizer has one (Adagrad has neither)
    "one_cycle": lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, total_steps=61, cycle_momentum="momentum" in opt.defaults or "betas" in opt.defaults),
}


@pytest.mark.parametrize("schedule", SCHEDULERS)
@pytest.mark.parametrize("name", PAIRS)
def test_torch_lr_schedulers_drive_our_optimizers_like_theirs(name, schedule):
    options = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    ours, _, _, _ = run_side_by_side(name, options, steps=60, scheduler=SCHEDULERS[schedule], rtol=0, atol=0)
    assert ours.param_groups[0]["lr"] != 0.01


@pytest.mark.parametrize("direction", ["ours_to_torch", "torch_to_ours"])
@pytest.mark.parametrize("name", PAIRS)
def test_state_dict_moves_between_our_optimizer_and_torchs(name, direction):
    options = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    ours_cls, torch_cls = PAIRS[name]
    first_cls, second_cls = (ours_cls, torch_cls) if direction == "ours_to_torch" else (torch_cls, ours_cls)
    params, reference = make_params(), make_params()
    first, ref_opt = first_cls(params, **options), first_cls(reference, **options)
    for t in range(15):
        step_both(first, ref_opt, params, reference, t)
    second = second_cls(params, **options)
    second.load_state_dict(first.state_dict())
    for t in range(15, 40):
        step_both(second, ref_opt, params, reference, t)
    for a, b in zip(params, reference):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


INVALID = {
    "SGD": [dict(lr=-0.1), dict(lr=0.1, momentum=-0.5), dict(lr=0.1, weight_decay=-1e-4),
            dict(lr=0.1, nesterov=True), dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)],
    "Adam": [dict(lr=-1e-3), dict(eps=-1e-8), dict(betas=(1.0, 0.999)), dict(betas=(-0.1, 0.999)),
             dict(betas=(0.9, 1.0)), dict(betas=(0.9, -0.5)), dict(weight_decay=-0.1)],
    "AdamW": [dict(lr=-1e-3), dict(eps=-1.0), dict(betas=(1.5, 0.999)), dict(betas=(0.9, 1.0)), dict(weight_decay=-0.01)],
    "RMSprop": [dict(lr=-0.01), dict(eps=-1e-8), dict(momentum=-0.9), dict(weight_decay=-0.1), dict(alpha=-0.5)],
    "Adagrad": [dict(lr=-0.01), dict(lr_decay=-0.1), dict(weight_decay=-1e-4), dict(initial_accumulator_value=-0.1),
                dict(eps=-1e-10)],
}
INVALID_CASES = [(name, kwargs) for name, cases in INVALID.items() for kwargs in cases]


@pytest.mark.parametrize("name,kwargs", INVALID_CASES, ids=[f"{n}-{k}" for n, k in INVALID_CASES])
def test_invalid_arguments_raise_torch_value_error_and_message(name, kwargs):
    ours_cls, torch_cls = PAIRS[name]
    with pytest.raises(ValueError) as expected:
        torch_cls(make_params(), **kwargs)
    with pytest.raises(ValueError) as actual:
        ours_cls(make_params(), **kwargs)
    assert str(actual.value) == str(expected.value)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("value", [0.0, 1.0, 2.5])
def test_valid_edge_values_are_accepted_like_torch(name, value):
    # lr = 0 is allowed by torch; RMSprop's alpha has no upper bound there; Adam's betas may be 0
    key = "alpha" if name == "RMSprop" else "lr"
    if name in ("Adam", "AdamW") and value > 0:
        kwargs = dict(betas=(0.0, 0.0), lr=value)
    else:
        kwargs = {key: value} if name != "SGD" else dict(lr=value)
    PAIRS[name][1](make_params(), **kwargs)
    PAIRS[name][0](make_params(), **kwargs)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr="0.1")), ("Adam", dict(lr=None)), ("Adam", dict(betas=0.9)),
                                          ("RMSprop", dict(alpha="0.9")), ("AdamW", dict(weight_decay=True)),
                                          ("Adagrad", dict(lr_decay="0")), ("Adagrad", dict(initial_accumulator_value=None))])
def test_non_numeric_hyperparameters_raise_type_error(name, kwargs):
    with pytest.raises(TypeError, match="Invalid"):
        PAIRS[name][0](make_params(), **kwargs)


@pytest.mark.parametrize("name", PAIRS)
def test_step_returns_the_closure_loss(name):
    params = make_params()
    opt = PAIRS[name][0](params, lr=0.01)

    def closure():
        opt.zero_grad()
        loss = loss_at(params, 0)
        loss.backward()
        return loss

    before = loss_at(params, 0).item()
    assert opt.step(closure).item() == pytest.approx(before)
    assert loss_at(params, 0).item() < before


def test_adamw_differs_from_adam_with_l2_only_in_the_weight_decay():
    a, b, c = make_params(), make_params(), make_params()
    adam_l2, adamw, adam = optim.Adam(a, lr=0.01, weight_decay=0.5), optim.AdamW(b, lr=0.01, weight_decay=0.5), optim.Adam(c, lr=0.01)
    for t in range(30):
        for opt, params in ((adam_l2, a), (adamw, b), (adam, c)):
            opt.zero_grad()
            loss_at(params, t).backward()
            opt.step()
    assert not torch.allclose(a[2], b[2]) and not torch.allclose(b[2], c[2])
    assert b[2].norm() < c[2].norm()  # decoupled decay shrinks the weights


def test_trajectory_matches_a_hand_written_loop_and_leaves_start_alone():
    start = torch.tensor([-1.5, 2.0], dtype=torch.float64)

    def rosenbrock(p):
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    path = optim.trajectory(torch.optim.Adam, rosenbrock, start, steps=50, lr=0.05)
    assert path.shape == (51, 2) and torch.equal(path[0], start)
    assert start.tolist() == [-1.5, 2.0] and not start.requires_grad
    p = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.05)
    for _ in range(50):
        opt.zero_grad()
        rosenbrock(p).backward()
        opt.step()
    torch.testing.assert_close(path[-1], p.detach())
    with pytest.raises(ValueError, match="steps"):
        optim.trajectory(optim.SGD, rosenbrock, start, steps=-1, lr=0.1)


def test_state_nbytes_rejects_non_optimizers():
    with pytest.raises(TypeError, match="optimizer"):
        optim.state_nbytes({"state": {}})


STATEFUL = {"SGD": dict(lr=0.01, momentum=0.9, weight_decay=0.1), "Adam": dict(weight_decay=0.1), "AdamW": {},
            "RMSprop": dict(momentum=0.5, centered=True, weight_decay=0.1),
            "Adagrad": dict(lr_decay=0.01, weight_decay=0.1)}


@pytest.mark.parametrize("name", PAIRS)
def test_step_updates_the_state_tensors_in_place(name):
    """The buffers are the same tensor objects, at the same addresses, step after step, as in torch.optim."""
    params = make_params()
    opt = PAIRS[name][0](params, **STATEFUL[name])
    step_both(opt, opt, params, params, 0)  # creates the state (twice the same step: harmless here)
    before = {(i, key): (value, value.data_ptr(), value.clone())
              for i, p in enumerate(params) for key, value in opt.state[p].items()}
    for t in range(1, 4):
        opt.zero_grad()
        loss_at(params, t).backward()
        opt.step()
    for (i, key), (tensor, address, old) in before.items():
        now = opt.state[params[i]][key]
        assert now is tensor and now.data_ptr() == address, f"{name}: state[{key!r}] of parameter {i} was replaced"
        if key != "step" and i == 1:
            assert not torch.equal(now, old), f"{name}: state[{key!r}] did not change"


def test_nan_learning_rate_differs_from_torch_sgd_which_accepts_it():
    """A documented difference: torch's SGD tests lr < 0, which NaN passes; every weight then becomes NaN."""
    torch.optim.SGD(make_params(), lr=float("nan"))
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        optim.SGD(make_params(), lr=float("nan"))


def test_adagrad_state_exists_before_the_first_step_like_torch():
    ours, theirs = optim.Adagrad(make_params(), initial_accumulator_value=0.2), torch.optim.Adagrad(make_params(), initial_accumulator_value=0.2)
    assert optim.state_nbytes(ours) == optim.state_nbytes(theirs) > 0
    for a, b in zip(ours.state.values(), theirs.state.values()):
        assert sorted(a) == sorted(b) == ["step", "sum"]
        torch.testing.assert_close(a["sum"], b["sum"], rtol=0, atol=0)
        assert a["step"].item() == b["step"].item() == 0


def test_adagrad_effective_rate_only_falls_and_follows_one_over_root_t():
    """With a constant gradient G, s_t = tG², so step t moves the coordinate by exactly lr/√t (eps = 0)."""
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = optim.Adagrad([w], lr=0.5, eps=0)
    slopes = torch.tensor([1e-3, 1.0, 1e3], dtype=torch.float64)
    before, steps = w.detach().clone(), []
    for _ in range(200):
        opt.zero_grad()
        (slopes * w).sum().backward()
        opt.step()
        steps.append((before - w.detach()).clone())
        before = w.detach().clone()
    steps = torch.stack(steps)
    expected = 0.5 / torch.arange(1, 201, dtype=torch.float64).sqrt()
    torch.testing.assert_close(steps, expected[:, None].expand(-1, 3), rtol=1e-12, atol=0)


def test_adagrad_initial_accumulator_value_of_a_group_differs_from_torch():
    """The documented difference: torch starts every group's sum at the constructor's value."""
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    groups = lambda: [dict(params=[a]), dict(params=[b], initial_accumulator_value=4.0)]
    ours, theirs = optim.Adagrad(groups(), initial_accumulator_value=1.0), torch.optim.Adagrad(groups(), initial_accumulator_value=1.0)
    assert ours.state[a]["sum"].tolist() == theirs.state[a]["sum"].tolist() == [1.0, 1.0]
    assert ours.state[b]["sum"].tolist() == [4.0, 4.0] and theirs.state[b]["sum"].tolist() == [1.0, 1.0]


# --------------------------------------------------------------------------- Hypothesis: every layout, dtype and option

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def unit(low=0.0, high=1.0):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def zero_or(strategy):
    """0 half the time: the branches that test ``!= 0`` (momentum, weight decay) are taken both ways."""
    return st.one_of(st.just(0.0), strategy)


@st.composite
def sgd_options(draw):
    momentum = draw(zero_or(unit(0.0, 0.99)))
    dampening = draw(zero_or(unit()))
    nesterov = momentum > 0 and dampening == 0 and draw(st.booleans())
    return dict(lr=draw(unit(0.0, 0.5)), momentum=momentum, dampening=dampening,
                weight_decay=draw(zero_or(unit(0.0, 0.5))), nesterov=nesterov, maximize=draw(st.booleans()))


def adam_options(decoupled):
    return st.fixed_dictionaries(dict(
        lr=unit(0.0, 0.1), betas=st.tuples(unit(0.0, 0.999), unit(0.0, 0.9999)), eps=unit(1e-10, 1e-2),
        weight_decay=zero_or(unit(0.0, 0.5)) if not decoupled else unit(0.0, 0.5),
        amsgrad=st.booleans(), maximize=st.booleans()))


OPTIONS = {
    "SGD": sgd_options(),
    "Adam": adam_options(decoupled=False),
    "AdamW": adam_options(decoupled=True),
    "RMSprop": st.fixed_dictionaries(dict(
        lr=unit(0.0, 0.1), alpha=unit(0.0, 0.999), eps=unit(1e-10, 1e-2), weight_decay=zero_or(unit(0.0, 0.5)),
        momentum=zero_or(unit(0.0, 0.95)), centered=st.booleans(), maximize=st.booleans())),
    "Adagrad": st.fixed_dictionaries(dict(
        lr=unit(0.0, 0.5), lr_decay=zero_or(unit(0.0, 0.5)), weight_decay=zero_or(unit(0.0, 0.5)),
        initial_accumulator_value=zero_or(unit(0.0, 1.0)), eps=unit(1e-10, 1e-2), maximize=st.booleans())),
}
PARAM_LAYOUTS = ["contiguous", "transposed", "sliced"]
#: How a step's gradient arrives: its own memory, a transposed view, expanded from one row
#: (stride 0), zeros (what zero_grad(set_to_none=False) leaves), or no gradient at all.
GRAD_KINDS = ["contiguous", "transposed", "expanded", "zeros", "none"]
DTYPES = [torch.float32, torch.float64, torch.complex64]
#: What torch's parameter groups hold beyond ours: its switches between implementations of one update.
TORCH_ONLY_GROUP_KEYS = {"foreach", "fused", "capturable", "differentiable", "decoupled_weight_decay"}


def leaf(shape, layout, dtype, seed):
    """A parameter (a leaf) of ``shape`` laid out as ``layout``: its own memory, a transpose, or a slice with a step."""
    g = torch.Generator().manual_seed(seed)
    rows, cols = shape
    if layout == "transposed":
        x = torch.randn(cols, rows, generator=g, dtype=dtype).t()
    elif layout == "sliced":
        x = torch.randn(2 * rows, cols + 1, generator=g, dtype=dtype)[::2, 1:]
    else:
        x = torch.randn(rows, cols, generator=g, dtype=dtype)
    return x.detach().requires_grad_(True)


def gradient(shape, kind, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    rows, cols = shape
    if kind == "none":
        return None
    if kind == "zeros":
        return torch.zeros(shape, dtype=dtype)
    if kind == "transposed":
        return torch.randn(cols, rows, generator=g, dtype=dtype).t()
    if kind == "expanded":
        return torch.randn(cols, generator=g, dtype=dtype).expand(rows, cols)
    return torch.randn(rows, cols, generator=g, dtype=dtype)


@st.composite
def setups(draw, name):
    """Parameters (shape, layout, dtype: mixed within one optimizer), a second group added later, and the gradients."""
    n = draw(st.integers(1, 3))
    specs = [(draw(st.tuples(st.integers(1, 4), st.integers(1, 4))), draw(st.sampled_from(PARAM_LAYOUTS)),
              draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**31))) for _ in range(n)]
    steps = draw(st.integers(1, 4))
    grads = [[(draw(st.sampled_from(GRAD_KINDS)), draw(st.integers(0, 2**31))) for _ in specs] for _ in range(steps)]
    late = draw(st.booleans())  # the last parameter joins through add_param_group, with options of its own
    late_options = draw(OPTIONS[name]) if late else None
    if late and name == "Adagrad":  # a group's own s_0: the pinned difference (test_adagrad_..._differs_from_torch)
        del late_options["initial_accumulator_value"]
    return dict(specs=specs, grads=grads, options=draw(OPTIONS[name]), late_options=late_options,
                late_at=draw(st.integers(0, steps - 1)) if late else None)


def run(cls, setup):
    """Build the parameters and the optimizer, apply the drawn gradients; return both and each parameter's first address."""
    params = [leaf(shape, layout, dtype, seed) for shape, layout, dtype, seed in setup["specs"]]
    addresses = [(p.data_ptr(), p.stride()) for p in params]
    late = setup["late_options"] is not None and len(params) > 1
    opt = cls(params[:-1] if late else params, **setup["options"])
    for t, step in enumerate(setup["grads"]):
        if late and t == setup["late_at"]:
            opt.add_param_group(dict(params=[params[-1]], **setup["late_options"]))
        for p, (kind, seed) in zip(params, step):
            p.grad = gradient(p.shape, kind, p.dtype, seed)
        opt.step()
    return opt, params, addresses


def assert_same_state(ours, theirs, ours_params, their_params):
    for i, (a, b) in enumerate(zip(ours_params, their_params)):
        sa, sb = ours.state.get(a, {}), theirs.state.get(b, {})
        assert sorted(sa) == sorted(sb), f"parameter {i}: state keys {sorted(sa)} != torch's {sorted(sb)}"
        for key in sa:
            x, y = sa[key], sb[key]
            assert (x.dtype, x.device, x.shape, x.stride()) == (y.dtype, y.device, y.shape, y.stride()), (i, key)
            torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True, msg=f"parameter {i}: state[{key!r}]")


@pytest.mark.parametrize("name", PAIRS)
@FAST
@given(data=st.data())
def test_property_same_parameters_and_state_as_torch_in_every_layout_dtype_and_option(name, data):
    """Bit for bit: every parameter and every state tensor (value, dtype, shape, strides) equals torch.optim's.

    Parameters are contiguous, transposed or sliced with a step, float32, float64 or complex64
    (mixed in one optimizer); gradients contiguous, transposed, expanded (stride 0), zero, or
    missing (the parameter is skipped and gets no state); a second group may join later. The
    update is in place: each parameter keeps its memory and its strides.
    """
    setup = data.draw(setups(name))
    ours, ours_params, addresses = run(PAIRS[name][0], setup)
    theirs, their_params, _ = run(PAIRS[name][1], setup)
    for i, (a, b) in enumerate(zip(ours_params, their_params)):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=f"parameter {i}")
        assert (a.data_ptr(), a.stride()) == addresses[i], f"parameter {i} was not updated in place"
    assert_same_state(ours, theirs, ours_params, their_params)
    assert [len(g["params"]) for g in ours.param_groups] == [len(g["params"]) for g in theirs.param_groups]
    # the state dict holds the same tensors and every option torch's holds (less its implementation switches)
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert sd_ours["state"].keys() == sd_theirs["state"].keys()
    for g_ours, g_theirs in zip(sd_ours["param_groups"], sd_theirs["param_groups"]):
        assert g_ours == {k: v for k, v in g_theirs.items() if k not in TORCH_ONLY_GROUP_KEYS}


# --------------------------------------------------------------------------- what torch accepts, and the pinned differences


def test_sgd_learning_rate_defaults_to_torchs():
    assert optim.SGD(make_params()).defaults["lr"] == torch.optim.SGD(make_params()).defaults["lr"] == 1e-3


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("name", PAIRS)
def test_zero_grad_then_step_like_torch(name, set_to_none):
    """zero_grad(set_to_none=False) leaves zero gradients, which still count as a step (Adam's t grows); None skips."""
    runs = []
    for cls in PAIRS[name][:2]:
        params = make_params()
        opt = cls(params, lr=0.01)
        loss_at(params, 0).backward()
        opt.step()
        grads = [p.grad for p in params]
        opt.zero_grad(set_to_none=set_to_none)
        assert all((p.grad is None) == set_to_none for p in params)
        if not set_to_none:
            assert all(p.grad is g and not p.grad.any() for p, g in zip(params, grads))
        opt.step()
        runs.append((opt, params))
    (ours, a), (theirs, b) = runs
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert_same_state(ours, theirs, a, b)


@pytest.mark.parametrize("name", PAIRS)
def test_step_hooks_run_like_torchs(name):
    calls = []
    params = make_params()
    opt = PAIRS[name][0](params, lr=0.01)
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    loss_at(params, 0).backward()
    opt.step()
    assert calls == ["pre", "post"]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_amsgrad_state_dict_from_torch_continues_bit_for_bit(name):
    ours_cls, torch_cls = PAIRS[name]
    params, reference = make_params(), make_params()
    first, ref_opt = torch_cls(params, lr=0.05, amsgrad=True), torch_cls(reference, lr=0.05, amsgrad=True)
    for t in range(10):
        step_both(first, ref_opt, params, reference, t)
    second = ours_cls(params, lr=0.05)  # amsgrad comes with the loaded groups
    second.load_state_dict(first.state_dict())
    for t in range(10, 30):
        step_both(second, ref_opt, params, reference, t)
    for a, b in zip(params, reference):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_sparse_gradients_like_torch_in_sgd_and_rejected_like_torch_in_adam_and_rmsprop():
    grad = lambda: torch.sparse_coo_tensor([[1, 3, 1]], torch.ones(3, 2), (4, 2))  # row 1 twice: summed
    a, b = torch.ones(4, 2, requires_grad=True), torch.ones(4, 2, requires_grad=True)
    ours, theirs = optim.SGD([a], lr=0.1, momentum=0.9), torch.optim.SGD([b], lr=0.1, momentum=0.9)
    for _ in range(3):
        a.grad, b.grad = grad(), grad()
        ours.step()
        theirs.step()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    for name in ("Adam", "AdamW", "RMSprop"):
        messages = []
        for cls in PAIRS[name][:2]:
            w = torch.ones(4, 2, requires_grad=True)
            w.grad = grad()
            with pytest.raises(RuntimeError) as error:
                cls([w]).step()
            messages.append(str(error.value))
        assert messages[0] == messages[1]


def test_adagrad_sparse_gradient_differs_from_torch_which_accepts_it():
    w, v = torch.ones(4, 2, requires_grad=True), torch.ones(4, 2, requires_grad=True)
    w.grad, v.grad = (torch.sparse_coo_tensor([[1]], torch.ones(1, 2), (4, 2)) for _ in range(2))
    torch.optim.Adagrad([v]).step()
    with pytest.raises(RuntimeError, match="Invalid gradient: a sparse tensor"):
        optim.Adagrad([w]).step()
    assert torch.equal(w, torch.ones(4, 2))  # nothing moved


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("switch", [dict(foreach=False), dict(fused=None), dict(capturable=False), dict(differentiable=False)])
def test_implementation_switches_differ_from_torch_they_are_not_arguments(name, switch):
    """torch picks between implementations of one update (loop, foreach, fused); there is one here."""
    ours_cls, torch_cls = PAIRS[name]
    kwargs = dict(switch, lr=0.01)
    if next(iter(switch)) not in inspect.signature(torch_cls).parameters:
        pytest.skip(f"torch's {name} has no such switch either")
    torch_cls(make_params(), **kwargs)
    with pytest.raises(TypeError, match=next(iter(switch))):
        ours_cls(make_params(), **kwargs)


@pytest.mark.parametrize("name", PAIRS)
def test_tensor_hyperparameters_differ_from_torch_which_accepts_them(name):
    """torch takes a 1-element tensor learning rate (for compiled and captured steps); here it is a number."""
    torch_cls, ours_cls = PAIRS[name][1], PAIRS[name][0]
    torch_cls(make_params(), lr=torch.tensor(0.01))
    with pytest.raises(TypeError, match="Invalid learning rate: tensor"):
        ours_cls(make_params(), lr=torch.tensor(0.01))
