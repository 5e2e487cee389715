"""dlbook.schedules: each schedule equals torch's scheduler over many epochs."""

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from dlbook.schedules import cosine_annealing_lr, exponential_lr, linear_warmup, step_lr

EPOCHS = 120


def torch_sequence(make_scheduler, base_lr, epochs=EPOCHS):
    """The learning rate torch's scheduler gives at epochs 0..epochs-1 (stepped once per epoch)."""
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def assert_same(ours, theirs):
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("base_lr", [0.1, 3e-4])
@pytest.mark.parametrize("step_size,gamma", [(1, 0.9), (7, 0.5), (30, 0.1), (10, 2.0)])
def test_step_lr_equals_torch_step_lr(base_lr, step_size, gamma):
    theirs = torch_sequence(lambda o: lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma), base_lr)
    assert_same([step_lr(t, base_lr, step_size, gamma) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("base_lr", [0.1, 3e-4])
@pytest.mark.parametrize("gamma", [0.5, 0.95, 0.999, 1.01])
def test_exponential_lr_equals_torch_exponential_lr(base_lr, gamma):
    theirs = torch_sequence(lambda o: lr_scheduler.ExponentialLR(o, gamma=gamma), base_lr)
    assert_same([exponential_lr(t, base_lr, gamma) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("base_lr", [0.1, 3e-4])
@pytest.mark.parametrize("t_max", [1, 10, 50, 200])
@pytest.mark.parametrize("eta_min", [0.0, 1e-5])
def test_cosine_annealing_lr_equals_torch_cosine_annealing_lr_even_past_t_max(base_lr, t_max, eta_min):
    # 120 epochs run past t_max = 1, 10, 50: torch keeps following the cosine back up, and so do we.
    theirs = torch_sequence(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min), base_lr)
    ours = [cosine_annealing_lr(t, base_lr, t_max, eta_min) for t in range(EPOCHS)]
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64), rtol=1e-9, atol=1e-12)


def test_cosine_annealing_reaches_eta_min_at_t_max_and_is_halfway_at_half():
    assert cosine_annealing_lr(20, 0.1, t_max=20, eta_min=0.01) == pytest.approx(0.01)
    assert cosine_annealing_lr(10, 0.1, t_max=20, eta_min=0.01) == pytest.approx(0.055)


@pytest.mark.parametrize("base_lr", [0.1, 1e-3])
@pytest.mark.parametrize("warmup_steps", [1, 2, 5, 40])
def test_linear_warmup_equals_torch_lambda_lr(base_lr, warmup_steps):
    theirs = torch_sequence(lambda o: lr_scheduler.LambdaLR(o, lambda t: min(1.0, (t + 1) / warmup_steps)), base_lr)
    assert_same([linear_warmup(t, base_lr, warmup_steps) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("base_lr", [0.1, 1e-3])
@pytest.mark.parametrize("warmup_steps", [2, 5, 40])
def test_linear_warmup_equals_torch_linear_lr_starting_at_one_over_w(base_lr, warmup_steps):
    theirs = torch_sequence(
        lambda o: lr_scheduler.LinearLR(o, start_factor=1 / warmup_steps, total_iters=warmup_steps - 1), base_lr
    )
    ours = [linear_warmup(t, base_lr, warmup_steps) for t in range(EPOCHS)]
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64), rtol=1e-9, atol=1e-15)


def test_linear_warmup_never_uses_a_zero_learning_rate():
    assert linear_warmup(0, 0.1, 10) == pytest.approx(0.01)
    assert linear_warmup(9, 0.1, 10) == linear_warmup(1000, 0.1, 10) == 0.1


@pytest.mark.parametrize("call,error,match", [
    (lambda: step_lr(-1, 0.1, 5), ValueError, "epoch"),
    (lambda: step_lr(1.5, 0.1, 5), TypeError, "epoch"),
    (lambda: step_lr(0, -0.1, 5), ValueError, "learning rate"),
    (lambda: step_lr(0, 0.1, 0), ValueError, "step_size"),
    (lambda: step_lr(0, 0.1, 5, gamma=0.0), ValueError, "gamma"),
    (lambda: exponential_lr(0, 0.1, gamma=-0.5), ValueError, "gamma"),
    (lambda: exponential_lr(0, float("nan"), gamma=0.5), ValueError, "learning rate"),
    (lambda: cosine_annealing_lr(0, 0.1, t_max=0), ValueError, "t_max"),
    (lambda: cosine_annealing_lr(0, 0.1, t_max=10, eta_min=-1e-3), ValueError, "eta_min"),
    (lambda: linear_warmup(0, 0.1, warmup_steps=0), ValueError, "warmup_steps"),
    (lambda: linear_warmup(-2, 0.1, warmup_steps=5), ValueError, "step"),
    (lambda: linear_warmup(0, "0.1", warmup_steps=5), TypeError, "learning rate"),
])
def test_schedules_reject_invalid_arguments(call, error, match):
    with pytest.raises(error, match=f"Invalid {match}"):
        call()


# --------------------------------------------------------------------------- Hypothesis: drawn hyperparameters, groups and epochs

import warnings  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

base_lrs = st.lists(st.floats(1e-6, 10.0), min_size=1, max_size=3)  # one learning rate per parameter group
#: Each schedule: its hyperparameters, our function, torch's scheduler built from the same values,
#: and how close the two sequences are (torch updates the rate recursively, ours is closed form).
SCHEDULES = {
    "step_lr": (st.fixed_dictionaries(dict(step_size=st.integers(1, 30), gamma=st.floats(1e-3, 2.0))),
                lambda t, lr, h: step_lr(t, lr, h["step_size"], h["gamma"]),
                lambda o, h: lr_scheduler.StepLR(o, step_size=h["step_size"], gamma=h["gamma"]),
                dict(rtol=1e-12, atol=0)),
    "exponential_lr": (st.fixed_dictionaries(dict(gamma=st.floats(0.5, 1.05))),
                       lambda t, lr, h: exponential_lr(t, lr, h["gamma"]),
                       lambda o, h: lr_scheduler.ExponentialLR(o, gamma=h["gamma"]),
                       dict(rtol=1e-12, atol=0)),
    "cosine_annealing_lr": (st.fixed_dictionaries(dict(t_max=st.integers(1, 100), eta_min=st.floats(0.0, 1.0))),
                            lambda t, lr, h: cosine_annealing_lr(t, lr, h["t_max"], h["eta_min"]),
                            lambda o, h: lr_scheduler.CosineAnnealingLR(o, T_max=h["t_max"], eta_min=h["eta_min"]),
                            dict(rtol=1e-9, atol=1e-12)),
    # warmup as LambdaLR: the same product base_lr * factor, so bit for bit
    "linear_warmup": (st.fixed_dictionaries(dict(warmup_steps=st.integers(1, 50))),
                      lambda t, lr, h: linear_warmup(t, lr, h["warmup_steps"]),
                      lambda o, h: lr_scheduler.LambdaLR(o, lambda t: min(1.0, (t + 1) / h["warmup_steps"])),
                      dict(rtol=0, atol=0)),
    "linear_warmup as LinearLR": (st.fixed_dictionaries(dict(warmup_steps=st.integers(2, 50))),
                                  lambda t, lr, h: linear_warmup(t, lr, h["warmup_steps"]),
                                  lambda o, h: lr_scheduler.LinearLR(o, start_factor=1 / h["warmup_steps"],
                                                                     total_iters=h["warmup_steps"] - 1),
                                  dict(rtol=1e-9, atol=0)),
}


def optimizer_with_groups(lrs):
    return torch.optim.SGD([dict(params=[nn.Parameter(torch.zeros(1))], lr=lr) for lr in lrs])


def assert_lrs_close(ours, theirs, close, scale):
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64),
                               rtol=close["rtol"], atol=close["atol"] * scale)


@pytest.mark.parametrize("name", SCHEDULES)
@FAST
@given(data=st.data())
def test_property_schedule_follows_torch_scheduler_in_every_group_epoch_by_epoch(name, data):
    """Drawn hyperparameters, 1-3 parameter groups with their own base rates, and up to 150 epochs:
    our function of (epoch, group's base rate) is the rate torch's scheduler sets in each group."""
    hyper, ours, make, close = SCHEDULES[name]
    h, lrs, epochs = data.draw(hyper), data.draw(base_lrs), data.draw(st.integers(1, 150))
    optimizer = optimizer_with_groups(lrs)
    scheduler = make(optimizer, h)
    theirs = []
    for _ in range(epochs):
        theirs.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    expected = [[ours(t, lr, h) for lr in lrs] for t in range(epochs)]
    assert_lrs_close(expected, theirs, close, scale=max(lrs + [h.get("eta_min", 0.0)]))
    assert scheduler.last_epoch == epochs and scheduler.get_last_lr() == [group["lr"] for group in optimizer.param_groups]


CLOSED_FORM = ["step_lr", "exponential_lr", "cosine_annealing_lr"]


@pytest.mark.parametrize("name", CLOSED_FORM)
@FAST
@given(data=st.data())
def test_property_schedule_is_torchs_closed_form_at_any_epoch_bit_for_bit(name, data):
    """Jumping straight to a drawn epoch (``scheduler.step(epoch)``, torch's closed form) gives our value exactly."""
    hyper, ours, make, _ = SCHEDULES[name]
    h, lrs, epoch = data.draw(hyper), data.draw(base_lrs), data.draw(st.integers(0, 10_000))
    optimizer = optimizer_with_groups(lrs)
    scheduler = make(optimizer, h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # step(epoch) is deprecated in favour of step()
        scheduler.step(epoch)
    assert [group["lr"] for group in optimizer.param_groups] == [ours(epoch, lr, h) for lr in lrs]



@pytest.mark.parametrize("make,call", [
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.0), lambda: step_lr(3, 0.1, 2, gamma=0.0)),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.5), lambda: step_lr(3, 0.1, 2, gamma=-0.5)),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), lambda: exponential_lr(3, 0.1, gamma=-0.5)),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=-0.1), lambda: cosine_annealing_lr(3, 0.1, 4, eta_min=-0.1)),
])
def test_zero_or_negative_factors_and_minima_differ_from_torch_which_takes_them(make, call):
    """torch's schedulers take them and produce a zero or negative learning rate; ours refuse up front."""
    lrs = torch_sequence(make, 0.1, epochs=5)
    assert min(lrs) <= 0
    with pytest.raises(ValueError, match="Invalid (gamma|eta_min)"):
        call()

@FAST
@given(data=st.data())
def test_property_schedules_take_numpy_integers_and_floats_like_python_ones(data):
    np = pytest.importorskip("numpy")
    t, lr = data.draw(st.integers(0, 500)), data.draw(st.floats(1e-6, 10.0))
    assert step_lr(np.int64(t), np.float64(lr), np.int32(7), np.float32(0.5)) == step_lr(t, lr, 7, 0.5)
    assert cosine_annealing_lr(np.int64(t), np.float64(lr), np.int64(50)) == cosine_annealing_lr(t, lr, 50)
    assert linear_warmup(np.int64(t), np.float64(lr), np.int64(9)) == linear_warmup(t, lr, 9)


# --- global random state ---
# The schedules are pure functions of the step: nothing random, no seed, and no global generator touched.

from rng_guard import leaves_global_rng_alone  # noqa: E402


@pytest.mark.parametrize("schedule", [
    lambda t: step_lr(t, 0.1, 3), lambda t: exponential_lr(t, 0.1, 0.9),
    lambda t: cosine_annealing_lr(t, 0.1, 10), lambda t: linear_warmup(t, 0.1, 5),
], ids=["step_lr", "exponential_lr", "cosine_annealing_lr", "linear_warmup"])
def test_schedules_draw_nothing_from_the_global_generators(schedule):
    with leaves_global_rng_alone():
        values = [schedule(t) for t in range(12)]
    assert values == [schedule(t) for t in range(12)]
