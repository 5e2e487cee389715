"""Early stopping in dlbook.train.fit, as chapter 07 uses it: the restored model is the best epoch's model."""

import pytest
import torch

import dlbook
from dlbook.train import evaluate, fit


def train(data, **kwargs):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 128, 10])
    history = fit(model, torch.optim.Adam(model.parameters(), lr=0.01), data.train, data.val, **kwargs)
    return model, history


@pytest.fixture(scope="module")
def small():
    return dlbook.data.load_digits().subset(80)


def test_restored_model_equals_a_run_stopped_by_hand_at_the_best_epoch(small):
    model, history = train(small, epochs=100, patience=4)
    assert history.stopped_epoch is not None
    twin, _ = train(small, epochs=history.best_epoch + 1)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_without_restore_best_the_model_keeps_the_last_epochs_weights(small):
    model, history = train(small, epochs=100, patience=4, restore_best=False)
    assert evaluate(model, small.val)[0] == pytest.approx(history.val_loss[-1], rel=1e-6)
    assert history.val_loss[-1] > min(history.val_loss)


def test_patience_counts_epochs_without_a_new_best_validation_loss(small):
    _, history = train(small, epochs=100, patience=4)
    best = history.best_epoch
    assert history.stopped_epoch == best + 4 == history.epochs - 1
    assert all(v >= history.val_loss[best] for v in history.val_loss[best + 1 :])


def test_early_stopping_counts_an_equal_loss_as_no_improvement_and_resets_on_a_new_best():
    stopper = dlbook.train.EarlyStopping(patience=2)
    model = torch.nn.Linear(2, 1)
    assert [stopper.should_stop(v, model) for v in [1.0, 1.0, 0.5, 0.5, 0.5]] == [False, False, False, False, True]
    assert stopper.best_loss == 0.5 and stopper.bad_epochs == 2


def test_early_stopping_restores_the_weights_of_the_best_epoch_not_a_reference_to_them():
    stopper = dlbook.train.EarlyStopping(patience=1)
    model = torch.nn.Linear(2, 1)
    stopper.restore_best(model)  # no epoch recorded yet: nothing happens
    stopper.should_stop(0.3, model)
    best = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # training goes on and changes the weights in place
    assert stopper.should_stop(0.4, model)
    stopper.restore_best(model)
    for p, q in zip(model.parameters(), best):
        assert torch.equal(p, q)
