"""dlbook.schedules: each schedule equals torch's scheduler over many epochs."""

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

import math

from dlbook.schedules import (cosine_annealing_lr, exponential_lr, inverse_sqrt_lr, linear_warmup, multistep_lr,
                              one_cycle_lr, polynomial_lr, step_lr)

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


@pytest.mark.parametrize("base_lr", [0.1, 3e-4])
@pytest.mark.parametrize("milestones", [[], [0], [30, 80], [10, 20, 20, 90], [100, 5, 50], [119], [500]])
@pytest.mark.parametrize("gamma", [0.1, 0.5, 1.5])
def test_multistep_lr_equals_torch_multistep_lr(base_lr, milestones, gamma):
    # a milestone at 0 decays the first rate, a repeated one decays twice, an unsorted list is as if sorted
    theirs = torch_sequence(lambda o: lr_scheduler.MultiStepLR(o, milestones=milestones, gamma=gamma), base_lr)
    assert_same([multistep_lr(t, base_lr, milestones, gamma) for t in range(EPOCHS)], theirs)


@pytest.mark.parametrize("base_lr", [0.1, 3e-4])
@pytest.mark.parametrize("total_iters", [1, 5, 50, 119, 300])
@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 0.9, 2.0])
def test_polynomial_lr_equals_torch_polynomial_lr_and_stays_at_zero_after_total_iters(base_lr, total_iters, power):
    theirs = torch_sequence(lambda o: lr_scheduler.PolynomialLR(o, total_iters=total_iters, power=power), base_lr)
    ours = [polynomial_lr(t, base_lr, total_iters, power) for t in range(EPOCHS)]
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64), rtol=1e-9, atol=1e-15)
    if power > 0 and total_iters < EPOCHS:
        assert ours[total_iters:] == theirs[total_iters:] == [0.0] * (EPOCHS - total_iters)


@pytest.mark.parametrize("base_lr", [0.1, 1e-3])
@pytest.mark.parametrize("warmup_steps", [1, 2, 5, 40, 4000])
def test_inverse_sqrt_lr_equals_torch_lambda_lr_bit_for_bit(base_lr, warmup_steps):
    factor = lambda t: min((t + 1) / warmup_steps, math.sqrt(warmup_steps / (t + 1)))  # noqa: E731
    theirs = torch_sequence(lambda o: lr_scheduler.LambdaLR(o, factor), base_lr)
    assert [inverse_sqrt_lr(t, base_lr, warmup_steps) for t in range(EPOCHS)] == theirs


def test_inverse_sqrt_lr_peaks_at_the_end_of_warmup_and_halves_four_times_later():
    lrs = [inverse_sqrt_lr(t, 0.1, 25) for t in range(400)]
    assert max(lrs) == lrs[24] == 0.1 and lrs[:25] == [linear_warmup(t, 0.1, 25) for t in range(25)]
    assert lrs[99] == pytest.approx(0.05) and all(a > b for a, b in zip(lrs[24:], lrs[25:]))


def one_cycle_sequence(max_lr, total_steps, kwargs):
    """torch's OneCycleLR rate at steps 0..total_steps (the last one comes after the final training step)."""
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=max_lr, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=total_steps, **kwargs)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(total_steps):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize("total_steps", [2, 7, 100, 997])
@pytest.mark.parametrize("pct_start", [0.0, 0.25, 0.3, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr_equals_torch_one_cycle_lr_bit_for_bit_at_every_step(total_steps, pct_start, anneal_strategy, three_phase):
    kwargs = dict(pct_start=pct_start, anneal_strategy=anneal_strategy, three_phase=three_phase, div_factor=10.0,
                  final_div_factor=100.0)
    try:
        theirs = one_cycle_sequence(0.3, total_steps, kwargs)
    except ZeroDivisionError:  # a phase of length 0 (pct_start * total_steps == 1, ...): torch cannot step through it
        with pytest.raises(ValueError, match="Invalid pct_start"):
            [one_cycle_lr(t, 0.3, total_steps, **kwargs) for t in range(total_steps + 1)]
        return
    assert [one_cycle_lr(t, 0.3, total_steps, **kwargs) for t in range(total_steps + 1)] == theirs


def test_one_cycle_lr_defaults_are_torchs_and_the_cycle_ends_far_below_its_start():
    lrs = [one_cycle_lr(t, 0.1, 200) for t in range(201)]
    assert lrs == one_cycle_sequence(0.1, 200, {})
    assert lrs[0] == pytest.approx(0.1 / 25) and max(lrs) == lrs[59] == 0.1 and lrs[199] == pytest.approx(0.1 / 25 / 1e4)


@pytest.mark.parametrize("total_steps,pct_start,three_phase,bad_step", [
    (10, 0.1, False, 0), (10, 1.0, False, 10), (10, 0.1, True, 0), (10, 0.55, True, 10),
])
def test_one_cycle_lr_zero_length_phase_differs_from_torch_value_error_not_zero_division(total_steps, pct_start, three_phase,
                                                                                          bad_step):
    """torch raises ZeroDivisionError on the step that falls in a phase of length 0; we raise a ValueError naming
    pct_start on that same step, and give torch's rate on every other one."""
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    with pytest.raises(ZeroDivisionError):
        scheduler = lr_scheduler.OneCycleLR(optimizer, 1.0, total_steps=total_steps, pct_start=pct_start, three_phase=three_phase)
        for _ in range(total_steps):
            optimizer.step()
            scheduler.step()
    with pytest.raises(ValueError, match="Invalid pct_start"):
        one_cycle_lr(bad_step, 1.0, total_steps, pct_start=pct_start, three_phase=three_phase)
    if bad_step > 0:
        one_cycle_lr(bad_step - 1, 1.0, total_steps, pct_start=pct_start, three_phase=three_phase)


def test_one_cycle_lr_allows_step_total_steps_like_torch_and_refuses_the_next():
    assert one_cycle_lr(50, 0.1, 50) == one_cycle_sequence(0.1, 50, {})[50]
    with pytest.raises(ValueError, match="Invalid step: 51"):
        one_cycle_lr(51, 0.1, 50)


def test_negative_milestones_differ_from_torch_whose_stepped_and_closed_forms_disagree_on_them():
    stepped = torch_sequence(lambda o: lr_scheduler.MultiStepLR(o, milestones=[-1, 3], gamma=0.5), 1.0, epochs=5)
    assert stepped == [1.0, 1.0, 1.0, 0.5, 0.5]                      # the scheduler never reaches epoch -1
    optimizer = optimizer_with_groups([1.0])
    scheduler = lr_scheduler.MultiStepLR(optimizer, milestones=[-1, 3], gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scheduler.step(4)
    assert optimizer.param_groups[0]["lr"] == 0.25                   # its closed form counts it
    with pytest.raises(ValueError, match="Invalid milestones: holds -1"):
        multistep_lr(4, 1.0, [-1, 3], gamma=0.5)


def test_polynomial_lr_total_iters_zero_and_negative_power_differ_from_torch():
    """torch's PolynomialLR with total_iters=0 never decays when stepped (its closed form divides by zero), and
    with a negative power raises ZeroDivisionError on reaching total_iters; ours refuse both up front."""
    assert torch_sequence(lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), 0.1, epochs=4) == [0.1] * 4
    with pytest.raises(ZeroDivisionError):
        torch_sequence(lambda o: lr_scheduler.PolynomialLR(o, total_iters=3, power=-1.0), 0.1, epochs=5)
    with pytest.raises(ValueError, match="Invalid total_iters"):
        polynomial_lr(1, 0.1, total_iters=0)
    with pytest.raises(ValueError, match="Invalid power"):
        polynomial_lr(1, 0.1, total_iters=3, power=-1.0)


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
    (lambda: multistep_lr(-1, 0.1, [2]), ValueError, "epoch"),
    (lambda: multistep_lr(0, 0.1, 5), TypeError, "milestones"),
    (lambda: multistep_lr(0, 0.1, "5"), TypeError, "milestones"),
    (lambda: multistep_lr(0, 0.1, [2, 2.5]), TypeError, "milestones"),
    (lambda: multistep_lr(0, 0.1, [2, -3]), ValueError, "milestones"),
    (lambda: multistep_lr(0, 0.1, [2], gamma=0.0), ValueError, "gamma"),
    (lambda: multistep_lr(0, -0.1, [2]), ValueError, "learning rate"),
    (lambda: polynomial_lr(0, 0.1, total_iters=0), ValueError, "total_iters"),
    (lambda: polynomial_lr(0, 0.1, total_iters=2.0), TypeError, "total_iters"),
    (lambda: polynomial_lr(0, 0.1, total_iters=5, power=-0.5), ValueError, "power"),
    (lambda: polynomial_lr(0, 0.1, total_iters=5, power=float("inf")), ValueError, "power"),
    (lambda: polynomial_lr(-1, 0.1, total_iters=5), ValueError, "epoch"),
    (lambda: inverse_sqrt_lr(0, 0.1, warmup_steps=0), ValueError, "warmup_steps"),
    (lambda: inverse_sqrt_lr(-1, 0.1, warmup_steps=4), ValueError, "step"),
    (lambda: inverse_sqrt_lr(0, float("inf"), warmup_steps=4), ValueError, "learning rate"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda: one_cycle_lr(-1, 0.1, total_steps=10), ValueError, "step"),
    (lambda: one_cycle_lr(11, 0.1, total_steps=10), ValueError, "step"),
    (lambda: one_cycle_lr(0, -0.1, total_steps=10), ValueError, "max_lr"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=10, div_factor=0.0), ValueError, "div_factor"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=10, final_div_factor=-1.0), ValueError, "final_div_factor"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    (lambda: one_cycle_lr(0, 0.1, total_steps=10, three_phase=1), TypeError, "three_phase"),
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
    # torch multiplies by gamma at each milestone (gamma * gamma ...), we raise it to a power
    "multistep_lr": (st.fixed_dictionaries(dict(milestones=st.lists(st.integers(0, 160), max_size=6),
                                                gamma=st.floats(1e-3, 2.0))),
                     lambda t, lr, h: multistep_lr(t, lr, h["milestones"], h["gamma"]),
                     lambda o, h: lr_scheduler.MultiStepLR(o, milestones=h["milestones"], gamma=h["gamma"]),
                     dict(rtol=1e-12, atol=0)),
    # torch multiplies ratios ((1 - t/T) / (1 - (t-1)/T))^p, we take the closed form; both are exactly 0 from T on
    "polynomial_lr": (st.fixed_dictionaries(dict(total_iters=st.integers(1, 160), power=st.floats(0.0, 5.0))),
                      lambda t, lr, h: polynomial_lr(t, lr, h["total_iters"], h["power"]),
                      lambda o, h: lr_scheduler.PolynomialLR(o, total_iters=h["total_iters"], power=h["power"]),
                      dict(rtol=1e-9, atol=1e-13)),
    "inverse_sqrt_lr": (st.fixed_dictionaries(dict(warmup_steps=st.integers(1, 200))),
                        lambda t, lr, h: inverse_sqrt_lr(t, lr, h["warmup_steps"]),
                        lambda o, h: lr_scheduler.LambdaLR(o, lambda t: min((t + 1) / h["warmup_steps"],
                                                                            math.sqrt(h["warmup_steps"] / (t + 1)))),
                        dict(rtol=0, atol=0)),
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


CLOSED_FORM = ["step_lr", "exponential_lr", "cosine_annealing_lr", "multistep_lr", "polynomial_lr"]


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




@FAST
@given(data=st.data())
def test_property_one_cycle_lr_is_torchs_rate_in_every_group_at_every_step_of_the_cycle_bit_for_bit(data):
    """Drawn cycle lengths, pct_start (the zero-length-phase values included), factors, both strategies and both
    phase counts, 1-3 groups with their own max_lr: our rate is torch's at every step 0..T, or, where torch divides
    by zero, ours raises a ValueError at that very step."""
    total = data.draw(st.integers(1, 150))
    pct = data.draw(st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 0.5, 1 / total, 2 / total, 0.5 + 0.5 / total])))
    h = dict(pct_start=float(pct), div_factor=data.draw(st.floats(1.0, 1e3)), final_div_factor=data.draw(st.floats(1.0, 1e5)),
             anneal_strategy=data.draw(st.sampled_from(["cos", "linear"])), three_phase=data.draw(st.booleans()))
    max_lrs = data.draw(base_lrs)
    optimizer = torch.optim.SGD([dict(params=[nn.Parameter(torch.zeros(1))], lr=lr) for lr in max_lrs], momentum=0.9)
    theirs = []
    try:
        scheduler = lr_scheduler.OneCycleLR(optimizer, max_lrs, total_steps=total, **h)
        theirs.append([g["lr"] for g in optimizer.param_groups])
        for _ in range(total):
            optimizer.step()
            scheduler.step()
            theirs.append([g["lr"] for g in optimizer.param_groups])
    except ZeroDivisionError:
        with pytest.raises(ValueError, match="Invalid pct_start"):
            one_cycle_lr(len(theirs), max_lrs[0], total, **h)
    assert [[one_cycle_lr(t, lr, total, **h) for lr in max_lrs] for t in range(len(theirs))] == theirs

@pytest.mark.parametrize("make,call", [
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.0), lambda: step_lr(3, 0.1, 2, gamma=0.0)),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=-0.5), lambda: step_lr(3, 0.1, 2, gamma=-0.5)),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), lambda: exponential_lr(3, 0.1, gamma=-0.5)),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=-0.1), lambda: cosine_annealing_lr(3, 0.1, 4, eta_min=-0.1)),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[1], gamma=-0.5), lambda: multistep_lr(3, 0.1, [1], gamma=-0.5)),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=8, div_factor=-25.0), lambda: one_cycle_lr(3, 0.1, 8, div_factor=-25.0)),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=5, final_div_factor=-1.0),
     lambda: one_cycle_lr(4, 0.1, 5, final_div_factor=-1.0)),
])
def test_zero_or_negative_factors_and_minima_differ_from_torch_which_takes_them(make, call):
    """torch's schedulers take them and produce a zero or negative learning rate; ours refuse up front."""
    lrs = torch_sequence(make, 0.1, epochs=5)
    assert min(lrs) <= 0
    with pytest.raises(ValueError, match="Invalid (gamma|eta_min|div_factor|final_div_factor)"):
        call()

@FAST
@given(data=st.data())
def test_property_schedules_take_numpy_integers_and_floats_like_python_ones(data):
    np = pytest.importorskip("numpy")
    t, lr = data.draw(st.integers(0, 500)), data.draw(st.floats(1e-6, 10.0))
    assert step_lr(np.int64(t), np.float64(lr), np.int32(7), np.float32(0.5)) == step_lr(t, lr, 7, 0.5)
    assert cosine_annealing_lr(np.int64(t), np.float64(lr), np.int64(50)) == cosine_annealing_lr(t, lr, 50)
    assert linear_warmup(np.int64(t), np.float64(lr), np.int64(9)) == linear_warmup(t, lr, 9)
    assert multistep_lr(np.int64(t), np.float64(lr), np.array([3, 90]), np.float32(0.5)) == multistep_lr(t, lr, [3, 90], 0.5)
    assert polynomial_lr(np.int64(t), np.float64(lr), np.int16(300), np.float64(0.9)) == polynomial_lr(t, lr, 300, 0.9)
    assert inverse_sqrt_lr(np.int64(t), np.float64(lr), np.int64(9)) == inverse_sqrt_lr(t, lr, 9)
    assert one_cycle_lr(np.int64(t), np.float64(lr), np.int64(500), np.float64(0.25)) == one_cycle_lr(t, lr, 500, 0.25)


# --- global random state ---
# The schedules are pure functions of the step: nothing random, no seed, and no global generator touched.

from rng_guard import leaves_global_rng_alone  # noqa: E402


@pytest.mark.parametrize("schedule", [
    lambda t: step_lr(t, 0.1, 3), lambda t: exponential_lr(t, 0.1, 0.9),
    lambda t: cosine_annealing_lr(t, 0.1, 10), lambda t: linear_warmup(t, 0.1, 5),
    lambda t: multistep_lr(t, 0.1, [3, 7]), lambda t: polynomial_lr(t, 0.1, 8),
    lambda t: inverse_sqrt_lr(t, 0.1, 4), lambda t: one_cycle_lr(t, 0.1, 12),
], ids=["step_lr", "exponential_lr", "cosine_annealing_lr", "linear_warmup", "multistep_lr", "polynomial_lr",
        "inverse_sqrt_lr", "one_cycle_lr"])
def test_schedules_draw_nothing_from_the_global_generators(schedule):
    with leaves_global_rng_alone():
        values = [schedule(t) for t in range(12)]
    assert values == [schedule(t) for t in range(12)]
