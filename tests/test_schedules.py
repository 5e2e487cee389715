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


