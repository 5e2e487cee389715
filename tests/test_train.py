"""dlbook.train: fit and evaluate on real data, deterministically, with early stopping."""

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
