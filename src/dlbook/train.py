"""The training loop: ``fit`` a model, ``evaluate`` it, and keep its ``History``.

One epoch of :func:`fit` is the loop every chapter teaches::

    for x, y in batches:              # one iteration per mini-batch
        optimizer.zero_grad()         # gradients accumulate unless cleared
        loss = loss_fn(model(x), y)   # forward pass
        loss.backward()               # backward pass
        optimizer.step()              # update

Taught in chapters 1, 10 and 11; early stopping in chapter 7 (Regularization).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dlbook.data import BatchIterator

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch metrics of one :func:`fit` run.

    ``train_loss[i]`` and ``train_acc[i]`` are averaged over the mini-batches of
    epoch ``i`` as they were trained (the model changing under them);
    ``val_loss[i]`` and ``val_acc[i]`` are measured after epoch ``i`` with the
    model in evaluation mode. ``epoch_time[i]`` is the wall time of the training
    part of epoch ``i`` in seconds. ``stopped_epoch`` is set when early stopping
    ended the run; ``best_epoch`` is the epoch whose weights the model holds at the end
    when ``restore_best=True``.

    >>> h = History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.8], val_loss=[1.1, 0.7], val_acc=[0.4, 0.7])
    >>> h.epochs, h.best_epoch, h.final("val_acc")
    (2, 1, 0.7)
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    stopped_epoch: int | None = None

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self.train_loss)

    @property
    def best_epoch(self) -> int:
        """Index of the epoch with the lowest validation loss (training loss if there was no validation)."""
        losses = self.val_loss or self.train_loss
        if not losses:
            raise ValueError("Invalid history: no epoch recorded")
        return min(range(len(losses)), key=losses.__getitem__)

    def final(self, metric: str) -> float:
        """The last value of ``metric`` (``"train_loss"``, ``"val_acc"``, ...).

        >>> History(train_loss=[2.0, 1.0]).final("train_loss")
        1.0
        >>> History().final("accuracy")
        Traceback (most recent call last):
        ...
        ValueError: Invalid metric: 'accuracy' (expected one of train_loss, train_acc, val_loss, val_acc, epoch_time)
        """
        values = self._metric(metric)
        if not values:
            raise ValueError(f"Invalid metric: {metric!r} has no recorded values")
        return values[-1]

    def _metric(self, metric: str) -> list[float]:
        names = ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time")
        if metric not in names:
            raise ValueError(f"Invalid metric: {metric!r} (expected one of {', '.join(names)})")
        return getattr(self, metric)

    def plot(self, metric: str = "loss", ax=None, label: str | None = None):
        """Plot the train and validation curves of ``metric`` (``"loss"`` or ``"acc"``) against epoch.

        Returns the matplotlib ``Axes``. With ``label``, the legend entries read
        ``"<label> train"`` and ``"<label> validation"``.

        >>> import matplotlib; matplotlib.use("Agg")
        >>> ax = History(train_loss=[1.0, 0.5], val_loss=[1.2, 0.9]).plot("loss")
        >>> ax.get_xlabel(), ax.get_ylabel(), [l.get_label() for l in ax.get_lines()]
        ('epoch', 'cross-entropy loss', ['train', 'validation'])
        """
        import matplotlib.pyplot as plt

        if metric not in ("loss", "acc"):
            raise ValueError(f"Invalid metric: {metric!r} (expected 'loss' or 'acc')")
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        prefix = f"{label} " if label else ""
        epochs = range(1, self.epochs + 1)
        line = ax.plot(epochs, self._metric(f"train_{metric}"), label=f"{prefix}train")[0]
        if getattr(self, f"val_{metric}"):
            ax.plot(
                range(1, len(self._metric(f"val_{metric}")) + 1),
                self._metric(f"val_{metric}"),
                "--",
                color=line.get_color(),
                label=f"{prefix}validation",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
        ax.legend()
        return ax


def _check_pair(name: str, pair) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, torch.Tensor) for t in pair)):
        raise TypeError(f"Invalid {name}: expected a pair of tensors (x, y)")
    x, y = pair
    if len(x) != len(y):
        raise ValueError(f"Invalid {name}: x has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"Invalid {name}: no examples")
    return x, y


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions, as a 0-d tensor (no device sync)."""
    if logits.ndim == 2 and y.ndim == 1:
        return (logits.argmax(dim=1) == y).sum()
    return torch.zeros((), device=logits.device)  # regression or other targets: no accuracy


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    loss_fn: LossFn = nn.functional.cross_entropy,
    *,
    batch_size: int = 1024,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data = (x, y)``, in evaluation mode, without gradients.

    .. math:: \\bar L = \\frac{1}{N} \\sum_{i=1}^{N} \\ell(f(x_i), y_i), \\qquad
              \\text{acc} = \\frac{1}{N} \\sum_{i=1}^{N} [\\arg\\max_k f(x_i)_k = y_i]

    The model is moved to nothing: ``x`` and ``y`` must already be on the model's
    device. Its train/eval mode is restored afterwards.

    >>> torch.manual_seed(0) and None
    >>> model = nn.Linear(4, 3)
    >>> loss, acc = evaluate(model, (torch.randn(10, 4), torch.randint(0, 3, (10,))))
    >>> 0.0 <= acc <= 1.0 and loss > 0
    True
    """
    x, y = _check_pair("data", data)
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.float64)
    for xb, yb in BatchIterator(x, y, batch_size=batch_size):
        out = model(xb)
        total_loss += loss_fn(out, yb).double() * len(xb)
        correct += _correct(out, yb)
    model.train(was_training)
    n = len(x)
    return total_loss.item() / n, correct.item() / n


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty()


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    loss_fn: LossFn = nn.functional.cross_entropy,
    epochs: int = 10,
    batch_size: int = 64,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int | None = None,
    scheduler=None,
    patience: int | None = None,
    restore_best: bool = True,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent; return its :class:`History`.

    Each epoch draws mini-batches of ``batch_size`` from ``train = (x, y)`` with a
    :class:`~dlbook.data.BatchIterator` (seeded by ``seed``) and for each one runs
    ``zero_grad`` → forward → ``loss_fn`` → ``backward`` → ``optimizer.step()``.
    After the epoch it evaluates on ``val`` (if given) and steps ``scheduler`` (if
    given) once.

    Early stopping: with ``patience=p`` training stops after ``p`` epochs in a row
    without a new lowest validation loss, and (``restore_best=True``) the model
    gets back the weights of its best epoch.

    The tensors must already be on the model's device (``splits.to(device)``); the
    loop adds no host-device copies of its own.

    Args:
        model: the network; left in training mode at the end.
        optimizer: any :class:`torch.optim.Optimizer` over ``model``'s parameters.
        train: ``(x, y)`` training tensors.
        val: optional ``(x, y)`` validation tensors.
        loss_fn: ``loss_fn(output, y) -> scalar tensor``; default cross-entropy.
        epochs: maximum number of epochs (≥ 1).
        batch_size: mini-batch size (≥ 1).
        shuffle, drop_last: passed to :class:`~dlbook.data.BatchIterator`.
        seed: seed of the batch order. ``None`` (the default) draws it from
            PyTorch's global generator, so that ``dlbook.seed_everything(s)`` fixes
            the initialisation *and* the batch order, and two seeds differ in both.
        scheduler: an LR scheduler stepped once per epoch (``ReduceLROnPlateau``
            gets the validation loss).
        patience: epochs without improvement before stopping; needs ``val``.
        restore_best: with ``patience``, reload the best epoch's weights at the end.
        transform: applied to each training input batch (e.g. data augmentation).
        progress: show a tqdm progress bar; ``None`` shows it only on a terminal.

    >>> import dlbook
    >>> dlbook.seed_everything(0)
    >>> data = dlbook.data.load_digits()
    >>> model = dlbook.models.mlp([64, 32, 10])
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> history = fit(model, opt, data.train, data.val, epochs=3)
    >>> history.epochs, history.train_loss[-1] < history.train_loss[0]
    (3, True)
    >>> fit(model, opt, data.train, epochs=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid epochs: 0 (expected a positive integer)
    """
    x, y = _check_pair("train", train)
    if val is not None:
        val = _check_pair("val", val)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"Invalid {name}: {value!r} (expected a positive integer)")
    if patience is not None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"Invalid patience: {patience!r} (expected a positive integer)")
        if val is None:
            raise ValueError("Invalid patience: early stopping needs validation data (val=None)")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__} (expected torch.optim.Optimizer)")

    show_progress = _progress_enabled(progress)
    if show_progress:
        from tqdm.auto import tqdm  # a notebook widget where possible
    else:
        from tqdm import tqdm  # tqdm.auto warns in a kernel without ipywidgets, even for a disabled bar

    if seed is None:
        seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))  # from the global generator: seed_everything decides
    batches = BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    if len(batches) == 0:
        raise ValueError(f"Invalid batch_size: {batch_size} with drop_last=True leaves no batch of {len(x)} examples")
    history = History()
    best_loss, best_state, bad_epochs = math.inf, None, 0
    bar = tqdm(total=epochs * len(batches), disable=not show_progress, unit="batch")
    model.train()
    for epoch in range(epochs):
        start = time.perf_counter()
        # Per batch only references are kept (loss, output, targets), no computation:
        # the sums are formed once per epoch, so the loop adds almost nothing to the five steps.
        losses, sizes, outputs, targets = [], [], [], []
        for xb, yb in batches:
            if transform is not None:
                xb = transform(xb)
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            sizes.append(len(xb))
            if out.ndim == 2 and yb.ndim == 1:  # classification: accuracy at the end of the epoch
                outputs.append(out.detach())
                targets.append(yb)
            bar.update()
        seen = sum(sizes)
        with torch.no_grad():
            weights = torch.tensor(sizes, dtype=torch.float64, device=x.device)
            total_loss = (torch.stack(losses).reshape(-1).double() * weights).sum()
            correct = _correct(torch.cat(outputs), torch.cat(targets)) if outputs else torch.zeros(())
        # .item() waits for the device once per epoch, not once per batch.
        history.train_loss.append(total_loss.item() / seen)
        history.train_acc.append(correct.item() / seen)
        history.epoch_time.append(time.perf_counter() - start)
        if val is not None:
            val_loss, val_acc = evaluate(model, val, loss_fn)
            model.train()
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            bar.set_postfix(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
        if not math.isfinite(history.train_loss[-1]):
            history.stopped_epoch = epoch
            break  # diverged: further epochs only compute NaNs
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(history.val_loss[-1] if val is not None else history.train_loss[-1])
            else:
                scheduler.step()
        if patience is not None:
            if history.val_loss[-1] < best_loss:
                best_loss, bad_epochs = history.val_loss[-1], 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    history.stopped_epoch = epoch
                    break
    bar.close()
    if patience is not None and restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return history
