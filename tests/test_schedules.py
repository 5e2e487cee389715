"""dlbook.schedules: each schedule equals torch's scheduler over many epochs; lr_find measures, stops and restores."""

import math

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

import dlbook
from dlbook.schedules import cosine_annealing_lr, exponential_lr, linear_warmup, lr_find, step_lr, LRFinderResult

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


# --------------------------------------------------------------------------- lr_find


@pytest.fixture(scope="module")
def digits():
    return dlbook.data.load_digits()


def probe(digits, optimizer_class=torch.optim.SGD, **kwargs):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10])
    optimizer = optimizer_class(model.parameters(), lr=0.05)
    return model, optimizer, lr_find(model, optimizer, digits.train, **kwargs)


def test_lr_find_grows_the_learning_rate_geometrically_from_start_to_end(digits):
    _, _, result = probe(digits, start_lr=1e-5, end_lr=1e-1, num_steps=30)
    assert not result.diverged and len(result.lrs) == 30
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1e-1)
    ratios = torch.tensor(result.lrs[1:], dtype=torch.float64) / torch.tensor(result.lrs[:-1], dtype=torch.float64)
    torch.testing.assert_close(ratios, torch.full_like(ratios, 10 ** (4 / 29)))


def test_lr_find_losses_are_those_of_a_hand_written_loop_at_those_learning_rates(digits):
    _, _, result = probe(digits, start_lr=1e-3, end_lr=1.0, num_steps=40, batch_size=32, seed=3)
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    batches = dlbook.data.BatchIterator(*digits.train, batch_size=32, shuffle=True, seed=3)
    losses = []
    while len(losses) < 40:  # 34 batches per epoch: the test cycles into a second epoch
        for xb, yb in batches:
            if len(losses) == 40:
                break
            optimizer.param_groups[0]["lr"] = result.lrs[len(losses)]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    torch.testing.assert_close(torch.tensor(result.losses), torch.tensor(losses))


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.98])
def test_lr_find_smooths_with_a_bias_corrected_moving_average(digits, beta):
    _, _, result = probe(digits, num_steps=25, smoothing=beta)
    average, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        average = beta * average + (1 - beta) * loss
        expected.append(average / (1 - beta ** (i + 1)))
    torch.testing.assert_close(torch.tensor(result.smoothed, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64))
    assert result.smoothed[0] == pytest.approx(result.losses[0])  # bias correction: no pull towards 0


def test_lr_find_stops_when_the_smoothed_loss_exceeds_four_times_its_minimum(digits):
    _, _, result = probe(digits, torch.optim.Adam, start_lr=1e-4, end_lr=1e3, num_steps=200)
    assert result.diverged and len(result.lrs) < 200
    finite = [s for s in result.smoothed if math.isfinite(s)]
    assert not math.isfinite(result.smoothed[-1]) or result.smoothed[-1] > 4 * min(finite)
    assert all(s <= 4 * min(result.smoothed[: i + 1]) for i, s in enumerate(result.smoothed[:-1]))


def test_lr_find_suggests_the_steepest_descent_before_the_minimum(digits):
    _, _, result = probe(digits, torch.optim.Adam, start_lr=1e-5, end_lr=10.0, num_steps=150, batch_size=32)
    lowest = min(range(len(result.smoothed)), key=result.smoothed.__getitem__)
    assert result.min_loss_lr == result.lrs[lowest]
    assert result.lrs[0] <= result.suggested_lr < result.min_loss_lr
    i = result.lrs.index(result.suggested_lr)
    log_lr = [math.log10(lr) for lr in result.lrs]
    for j in range(1, lowest):  # no central-difference slope before the minimum is steeper
        slope_j = (result.smoothed[j + 1] - result.smoothed[j - 1]) / (log_lr[j + 1] - log_lr[j - 1])
        slope_i = (result.smoothed[i + 1] - result.smoothed[i - 1]) / (log_lr[i + 1] - log_lr[i - 1])
        assert slope_i <= slope_j + 1e-12


@pytest.mark.parametrize("optimizer_class", [torch.optim.SGD, torch.optim.Adam])
def test_lr_find_restores_weights_mode_and_optimizer_state(digits, optimizer_class):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10], batch_norm=True)  # buffers (running stats) too
    optimizer = optimizer_class(model.parameters(), lr=0.05)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, optimizer, digits.train, num_steps=20)
    assert isinstance(result, LRFinderResult) and len(result.losses) == 20
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.training
    assert optimizer.param_groups[0]["lr"] == 0.05 and not optimizer.state


@pytest.mark.parametrize("kwargs,error,match", [
    ({"start_lr": 0.0}, ValueError, "start_lr"),
    ({"start_lr": 1.0, "end_lr": 1.0}, ValueError, "end_lr"),
    ({"num_steps": 1}, ValueError, "num_steps"),
    ({"smoothing": 1.0}, ValueError, "smoothing"),
    ({"smoothing": -0.1}, ValueError, "smoothing"),
    ({"diverge_factor": 1.0}, ValueError, "diverge_factor"),
])
def test_lr_find_rejects_invalid_arguments(digits, kwargs, error, match):
    model = dlbook.models.mlp([64, 10])
    with pytest.raises(error, match=f"Invalid {match}"):
        lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, **kwargs)
