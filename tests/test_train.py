"""dlbook.train: fit and evaluate on real data, deterministically, with early stopping."""

import math

import pytest
import torch
from torch import nn

import dlbook
from dlbook.train import History, evaluate, fit


@pytest.fixture(scope="module")
def digits():
    return dlbook.data.load_digits()


def run(digits, **kwargs):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, fit(model, opt, digits.train, digits.val, **kwargs)


def test_fit_learns_the_digits(digits):
    model, history = run(digits, epochs=15)
    assert history.epochs == 15 and len(history.val_acc) == 15
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.final("val_acc") > 0.85
    loss, acc = evaluate(model, digits.val)
    assert acc == pytest.approx(history.final("val_acc")) and loss == pytest.approx(history.final("val_loss"))


def test_fit_is_deterministic(digits):
    _, a = run(digits, epochs=3)
    _, b = run(digits, epochs=3)
    assert a.train_loss == b.train_loss and a.val_acc == b.val_acc


def test_fit_matches_a_hand_written_loop(digits):
    """fit's epoch is exactly: BatchIterator batches, zero_grad, forward, loss, backward, step."""
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 16, 10])
    twin = dlbook.models.mlp([64, 16, 10])
    twin.load_state_dict(model.state_dict())
    fit(model, torch.optim.SGD(model.parameters(), lr=0.05), digits.train, epochs=2, batch_size=32, seed=5)
    opt = torch.optim.SGD(twin.parameters(), lr=0.05)
    batches = dlbook.data.BatchIterator(*digits.train, batch_size=32, shuffle=True, seed=5)
    for _ in range(2):
        for xb, yb in batches:
            opt.zero_grad()
            nn.functional.cross_entropy(twin(xb), yb).backward()
            opt.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)


def test_history_holds_the_batch_weighted_mean_loss_and_accuracy_of_each_epoch(digits):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 16, 10])
    twin = dlbook.models.mlp([64, 16, 10])
    twin.load_state_dict(model.state_dict())
    history = fit(model, torch.optim.SGD(model.parameters(), lr=0.05), digits.train, epochs=2, batch_size=100, seed=1)
    opt = torch.optim.SGD(twin.parameters(), lr=0.05)
    batches = dlbook.data.BatchIterator(*digits.train, batch_size=100, shuffle=True, seed=1)  # 1079 rows: last batch 79
    for epoch in range(2):
        total, correct = 0.0, 0
        for xb, yb in batches:
            opt.zero_grad()
            out = twin(xb)
            loss = nn.functional.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
            correct += (out.argmax(dim=1) == yb).sum().item()
        assert history.train_loss[epoch] == pytest.approx(total / 1079, rel=1e-12)
        assert history.train_acc[epoch] == correct / 1079


def test_evaluate_equals_direct_computation(digits):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 10])
    x, y = digits.val
    loss, acc = evaluate(model, digits.val, batch_size=50)
    with torch.no_grad():
        out = model(x)
    assert loss == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-5)
    assert acc == pytest.approx((out.argmax(1) == y).float().mean().item())


def test_early_stopping_stops_and_restores_best_weights(digits):
    dlbook.seed_everything(0)
    small = digits.subset(60)
    model = dlbook.models.mlp([64, 256, 10])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    history = fit(model, opt, small.train, small.val, epochs=200, patience=3)
    assert history.stopped_epoch is not None and history.epochs < 200
    assert history.epochs == history.best_epoch + 1 + 3
    loss, _ = evaluate(model, small.val)
    assert loss == pytest.approx(min(history.val_loss), rel=1e-5)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"batch_size": -2}, ValueError, "batch_size"),
    ({"patience": 0}, ValueError, "patience"),
])
def test_fit_rejects_bad_arguments(digits, kwargs, error, match):
    model = dlbook.models.mlp([64, 10])
    with pytest.raises(error, match=match):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, digits.val, **kwargs)


def test_fit_rejects_mismatched_data_and_patience_without_val(digits):
    model = dlbook.models.mlp([64, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="rows"):
        fit(model, opt, (digits.x_train, digits.y_train[:-1]))
    with pytest.raises(ValueError, match="validation"):
        fit(model, opt, digits.train, patience=2)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, "sgd", digits.train)


def test_divergence_stops_training(digits):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 32, 10])
    history = fit(model, torch.optim.SGD(model.parameters(), lr=1e20), digits.train, epochs=20)
    assert history.stopped_epoch is not None and history.epochs < 20


def test_history_best_epoch_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    h = History(train_loss=[3.0, 2.0, 1.0], train_acc=[0.1, 0.5, 0.9], val_loss=[3.0, 1.5, 2.0], val_acc=[0.1, 0.6, 0.5])
    assert h.best_epoch == 1
    ax = h.plot("acc", label="mlp")
    assert [l.get_label() for l in ax.get_lines()] == ["mlp train", "mlp validation"]
    assert ax.get_ylabel() == "accuracy"


def test_fit_without_progress_bar_does_not_import_tqdm_auto():
    """tqdm.auto warns ("IProgress not found") in a Jupyter kernel without ipywidgets, so a chapter
    calling fit would show a warning; a disabled bar must not import it."""
    import subprocess
    import sys

    code = (
        "import sys, torch, dlbook\n"
        "data = dlbook.data.load_digits().subset(50)\n"
        "model = dlbook.models.mlp([64, 10])\n"
        "dlbook.train.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), data.train, epochs=1, progress=False)\n"
        "print('tqdm.auto' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _batch_order(global_seed, **fit_kwargs):
    """The rows of one epoch in the order fit trained on them (targets are row indices, seen by the loss)."""
    dlbook.seed_everything(global_seed)
    model = nn.Linear(1, 1)
    rows = []

    def loss_fn(out, idx):
        rows.append(idx.clone())
        return out.sum() * 0.0

    fit(model, torch.optim.SGD(model.parameters(), lr=0.0), (torch.arange(30.0).unsqueeze(1), torch.arange(30)),
        epochs=1, batch_size=7, loss_fn=loss_fn, **fit_kwargs)
    return torch.cat(rows)


def test_seed_everything_decides_the_batch_order_as_well_as_the_initialisation():
    assert torch.equal(_batch_order(0), _batch_order(0))  # same seed: same batch order
    assert not torch.equal(_batch_order(0), _batch_order(1))  # another seed: another order
    assert sorted(_batch_order(1).tolist()) == list(range(30))


def test_an_explicit_seed_fixes_the_batch_order_whatever_the_global_generator():
    assert torch.equal(_batch_order(0, seed=5), _batch_order(1, seed=5))


# --------------------------------------------------------------------------- schedulers, regression, one training step


def _twins(seed=0, sizes=(64, 16, 10)):
    torch.manual_seed(seed)
    model = dlbook.models.mlp(list(sizes))
    twin = dlbook.models.mlp(list(sizes))
    twin.load_state_dict(model.state_dict())
    return model, twin


def test_fit_steps_a_per_batch_scheduler_after_every_optimizer_step(digits):
    """OneCycleLR raises if stepped more than total_steps times, and the weights equal a hand loop's."""
    model, twin = _twins()
    epochs, batch_size = 2, 100
    steps = epochs * len(dlbook.data.BatchIterator(*digits.train, batch_size=batch_size))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=steps)
    fit(model, opt, digits.train, epochs=epochs, batch_size=batch_size, seed=3, scheduler=scheduler, scheduler_step="batch")
    assert scheduler.last_epoch == steps  # stepped once per optimizer step, no more

    opt2 = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    scheduler2 = torch.optim.lr_scheduler.OneCycleLR(opt2, max_lr=0.5, total_steps=steps)
    batches = dlbook.data.BatchIterator(*digits.train, batch_size=batch_size, shuffle=True, seed=3)
    for _ in range(epochs):
        for xb, yb in batches:
            opt2.zero_grad()
            nn.functional.cross_entropy(twin(xb), yb).backward()
            opt2.step()
            scheduler2.step()
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_fit_steps_a_scheduler_once_per_epoch_by_default(digits):
    model, _ = _twins()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    lrs = []
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: lrs.append(epoch) or 0.5**epoch)
    fit(model, opt, digits.train, epochs=3, batch_size=200, scheduler=scheduler)
    assert lrs == [0, 1, 2, 3]  # the constructor's call, then one per epoch
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


@pytest.mark.parametrize("with_val", [True, False])
def test_fit_feeds_reduce_lr_on_plateau_the_epoch_loss(digits, with_val):
    """The learning rates follow from the recorded losses exactly as a ReduceLROnPlateau fed by hand would set them."""
    model, _ = _twins()
    opt = torch.optim.SGD(model.parameters(), lr=1e-7)  # barely learns: the loss plateaus at once
    plateau = dict(mode="min", factor=0.5, patience=1)

    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        seen: list = []

        def step(self, metrics, *args, **kwargs):
            self.seen.append(metrics)
            super().step(metrics, *args, **kwargs)

    scheduler = Recording(opt, **plateau)
    history = fit(model, opt, digits.train, digits.val if with_val else None, epochs=6, batch_size=200, scheduler=scheduler)
    assert scheduler.seen == (history.val_loss if with_val else history.train_loss)
    reference_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-7)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_opt, **plateau)
    for loss in history.val_loss if with_val else history.train_loss:
        reference.step(loss)
    assert opt.param_groups[0]["lr"] == reference_opt.param_groups[0]["lr"] < 1e-7


def test_reduce_lr_on_plateau_cannot_be_stepped_per_batch(digits):
    model, _ = _twins()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_step"):
        fit(model, opt, digits.train, scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(opt), scheduler_step="batch")


def test_fit_and_evaluate_a_regression():
    """Float targets and mse_loss: fit is the hand loop, the loss falls, and accuracy is nan, not a made-up 0."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0], [3.0]]) + 0.1 * torch.randn(300, 1, generator=g)
    model, twin = nn.Linear(5, 1), nn.Linear(5, 1)
    twin.load_state_dict(model.state_dict())
    history = fit(model, torch.optim.SGD(model.parameters(), lr=0.05), (x[:200], y[:200]), (x[200:], y[200:]),
                  loss_fn=nn.functional.mse_loss, epochs=5, batch_size=32, seed=1)
    opt = torch.optim.SGD(twin.parameters(), lr=0.05)
    batches = dlbook.data.BatchIterator(x[:200], y[:200], batch_size=32, shuffle=True, seed=1)
    for _ in range(5):
        for xb, yb in batches:
            opt.zero_grad()
            nn.functional.mse_loss(twin(xb), yb).backward()
            opt.step()
    torch.testing.assert_close(model.weight, twin.weight, rtol=0, atol=0)
    assert history.val_loss[-1] < 0.1 * history.val_loss[0]
    assert all(math.isnan(a) for a in history.train_acc + history.val_acc)
    loss, acc = evaluate(model, (x[200:], y[200:]), nn.functional.mse_loss)
    assert loss == pytest.approx(nn.functional.mse_loss(model(x[200:]), y[200:]).item(), rel=1e-6) and math.isnan(acc)


def test_fit_and_lr_find_share_one_training_step(digits, monkeypatch):
    calls = []
    step = dlbook.train.train_step

    def counting(*args, **kwargs):
        calls.append(len(args[2]))
        return step(*args, **kwargs)

    monkeypatch.setattr(dlbook.train, "train_step", counting)
    model, _ = _twins()
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, epochs=1, batch_size=500)
    assert calls == [500, 500, 79]
    calls.clear()
    dlbook.tuning.lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, num_steps=5, batch_size=500)
    assert calls == [500, 500, 79, 500, 500]  # cycling into a second epoch
    assert not hasattr(dlbook.schedules, "BatchIterator")  # the schedules module has no batch loop of its own


def test_evaluate_keeps_the_float64_sum_on_the_cpu_bit_for_bit(digits):
    """The per-batch sum in float64, in batch order: the number evaluate returned before the MPS change."""
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 10])
    x, y = digits.val
    loss, acc = evaluate(model, digits.val, batch_size=50)
    total, correct = torch.zeros((), dtype=torch.float64), 0
    with torch.no_grad():
        for i in range(0, len(x), 50):
            out = model(x[i : i + 50])
            total += nn.functional.cross_entropy(out, y[i : i + 50]).double() * len(out)
            correct += (out.argmax(1) == y[i : i + 50]).sum().item()
    assert loss == total.item() / len(x) and acc == correct / len(x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (stands in for MPS, which has no float64)")
def test_fit_and_evaluate_compute_no_float64_on_the_accelerator(digits):
    from torch.overrides import TorchFunctionMode

    class NoFloat64OnDevice(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.device.type != "cpu":
                    raise AssertionError(f"{func} made a float64 tensor on {t.device}")
            return out

    splits = digits.to("cuda")
    model = dlbook.models.mlp([64, 16, 10]).to("cuda")
    with NoFloat64OnDevice():
        history = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), splits.train, splits.val, epochs=2)
        loss, acc = evaluate(model, splits.val)
    assert history.epochs == 2 and loss == pytest.approx(history.val_loss[-1]) and 0 < acc <= 1


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_a_training_step_reads_back_only_what_stays_on_the_host_on_a_gpu(optimizer, monkeypatch):
    """The evidence for "no host sync in the step" that a CPU-only machine can give.

    Every read of a tensor's value by the host during one step (dlbook's loss and
    optimizer) is recorded with where it happened. On the CPU there are two kinds, and
    neither makes a GPU wait: Adam's step counter, which torch.optim too keeps on the
    CPU (``capturable=False``), and the loss's argument check, whose CPU branch reads
    the value while on a GPU the same check queues ``torch._assert_async`` instead
    (tests/test_validation.py checks that on a machine with CUDA). Anything else is a
    sync the GPU would wait on. The PyTorch profiler's operator count per step (a
    kernel launch each on a GPU) is printed.
    """
    import inspect

    from torch.profiler import ProfilerActivity, profile

    from dlbook import losses, optim
    from dlbook.train import train_step

    torch.manual_seed(0)
    model = dlbook.models.mlp([784, 128, 10])
    opt = getattr(optim, optimizer)(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    train_step(model, opt, x, y, losses.cross_entropy)  # the first step creates the optimizer's state
    reads = []

    def recorder(original):
        def read(self, *args):
            caller = inspect.stack()[1]
            reads.append((caller.function, caller.filename.rsplit("/", 1)[-1], self.device.type))
            return original(self, *args)
        return read

    monkeypatch.setattr(torch.Tensor, "item", recorder(torch.Tensor.item))
    monkeypatch.setattr(torch.Tensor, "__bool__", recorder(torch.Tensor.__bool__))
    train_step(model, opt, x, y, losses.cross_entropy)
    monkeypatch.undo()
    allowed = {("step", "optim.py"), ("check_values", "validation.py")}
    others = [r for r in reads if r[:2] not in allowed]
    assert not others, f"host reads a GPU would wait on: {others}"
    if optimizer == "Adam":
        assert ("step", "optim.py", "cpu") in reads  # the counter: on the CPU, as in torch.optim
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_step(model, opt, x, y, losses.cross_entropy)
    aten = [e for e in prof.events() if e.name.startswith("aten::")]
    leaves = [e for e in aten if not any(c.name.startswith("aten::") for c in e.cpu_children)]
    print(f"{optimizer}: {len(leaves)} innermost operators (about one kernel launch each on a GPU) per step")
    assert leaves


# --------------------------------------------------------------------------- fit's pieces


def test_an_epoch_of_fit_is_train_epoch_on_the_same_batches(digits):
    """fit is its pieces: one epoch of fit equals train_epoch on a BatchIterator seeded alike, bit for bit."""
    results = []
    for use_fit in (True, False):
        dlbook.seed_everything(0)
        model = dlbook.models.mlp([64, 32, 10])
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if use_fit:
            history = fit(model, opt, digits.train, epochs=1, batch_size=50, seed=7)
            results.append((history.train_loss[0], history.train_acc[0], model.state_dict()))
        else:
            batches = dlbook.data.BatchIterator(*digits.train, batch_size=50, shuffle=True, seed=7)
            loss, acc = dlbook.train.train_epoch(model, opt, batches)
            results.append((loss, acc, model.state_dict()))
    (loss_a, acc_a, state_a), (loss_b, acc_b, state_b) = results
    assert loss_a == loss_b and acc_a == acc_b
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


# --- global random state ---
# fit(seed=s), train_steps and evaluate draw nothing from the global generators: the batch order
# comes from a generator of their own. fit(seed=None) takes exactly one number from torch's global
# generator (the seed of its batch order; torch's DataLoader takes two per epoch, for its base seed
# and its sampler) and none from NumPy's or Python's. A model's own random layers (dropout) draw
# their masks from torch's global generator during training, as in any torch loop: pinned too.

from rng_guard import leaves_global_rng_alone, moves_only  # noqa: E402


def _fit(digits, *, dropout=0.0, **kwargs):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 16, 10], dropout=dropout)
    small = digits.subset(200)
    fit(model, torch.optim.SGD(model.parameters(), lr=0.1), small.train, small.val, epochs=2, batch_size=32,
        progress=False, **kwargs)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_fit_with_a_seed_leaves_every_global_generator_alone(digits):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 16, 10])
    small = digits.subset(200)
    with leaves_global_rng_alone():
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), small.train, small.val, epochs=2, batch_size=32,
            seed=3, progress=False)
    a, b, c = _fit(digits, seed=3), _fit(digits, seed=3), _fit(digits, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_fit_without_a_seed_takes_one_number_from_torchs_global_generator(digits):
    torch.manual_seed(0)
    model = nn.Linear(64, 10)
    small = digits.subset(100)
    torch.rand(1)
    start = torch.get_rng_state()
    with moves_only("torch"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), small.train, epochs=3, progress=False)
    after_fit = torch.get_rng_state()
    torch.set_rng_state(start)
    torch.randint(0, 2**62, (), dtype=torch.int64)
    assert torch.equal(after_fit, torch.get_rng_state())


def test_a_models_dropout_draws_from_torchs_global_generator_during_fit_as_in_a_torch_loop(digits):
    with moves_only("torch"):
        _fit(digits, dropout=0.5, seed=3)


def test_train_steps_and_evaluate_leave_every_global_generator_alone(digits):
    torch.manual_seed(0)
    model = dlbook.models.mlp([64, 16, 10], dropout=0.5)
    with leaves_global_rng_alone():
        evaluate(model, digits.val)  # evaluation mode: dropout draws nothing
    model = dlbook.models.mlp([64, 16, 10])
    with leaves_global_rng_alone():
        steps = dlbook.train.train_steps(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, seed=3)
        [next(steps) for _ in range(20)]
