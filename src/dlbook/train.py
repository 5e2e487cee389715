"""The training loop: ``fit`` a model, ``evaluate`` it, and keep its ``History``.

One epoch of :func:`fit` is the loop every chapter teaches::

    for x, y in batches:              # one iteration per mini-batch
        optimizer.zero_grad()         # gradients accumulate unless cleared
        loss = loss_fn(model(x), y)   # forward pass
        loss.backward()               # backward pass
        optimizer.step()              # update

:func:`train_step` is those five lines; :func:`fit` and the learning-rate range test
(:func:`dlbook.tuning.lr_find`, through :func:`train_steps`) both call it, so there
is one training step in the package. :func:`fit` itself reads as the loop above,
one epoch at a time: :func:`train_epoch` (a step per mini-batch), :func:`evaluate`
on the validation set, the scheduler, and :class:`EarlyStopping`.

Taught in chapters 1, 10 and 11; early stopping in chapter 7 (Regularization).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from dlbook.data import BatchIterator
from dlbook.validation import check_choice, check_int, check_seed

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch metrics of one :func:`fit` run.

    ``train_loss[i]`` and ``train_acc[i]`` are averaged over the mini-batches of
    epoch ``i`` as they were trained (the model changing under them);
    ``val_loss[i]`` and ``val_acc[i]`` are measured after epoch ``i`` with the
    model in evaluation mode. Accuracies are ``nan`` when the targets are not class
    indices (a regression), where accuracy has no meaning. ``epoch_time[i]`` is the wall time of the training
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


def _is_classification(out: torch.Tensor, y: torch.Tensor) -> bool:
    """Logits ``(N, C)`` against class indices ``(N,)``: the case where accuracy means something."""
    return out.ndim == 2 and y.ndim == 1 and not y.is_floating_point()


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions, as a 0-d int64 tensor on the device (no device sync)."""
    return (logits.argmax(dim=1) == y).sum()


def _weighted_mean(losses: list[torch.Tensor], sizes: list[int]) -> float:
    """:math:`\\sum_b n_b \\ell_b / \\sum_b n_b` in float64, from per-batch mean losses.

    The per-batch losses are copied to the CPU once (one synchronisation, which reading
    the result needs anyway) and summed there in float64, a dtype every device's
    results convert to, though Apple's MPS cannot compute in it.
    """
    with torch.no_grad():
        values = torch.stack(losses).reshape(-1).cpu().double()
        return (values * torch.tensor(sizes, dtype=torch.float64)).sum().item() / sum(sizes)


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor, loss_fn: LossFn = nn.functional.cross_entropy
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of mini-batch gradient descent on the batch ``(xb, yb)``; returns the loss and the output, detached.

    The five lines every chapter teaches::

        optimizer.zero_grad()         # gradients accumulate unless cleared
        out = model(xb)               # forward pass
        loss = loss_fn(out, yb)       # the batch's loss, computed before the update
        loss.backward()               # backward pass
        optimizer.step()              # update

    Nothing is read back to the host: the returned tensors stay on the device, so a
    caller that does not look at them lets the GPU run ahead.

    Taught in chapters 1, 10 and 11; :func:`fit` and :func:`train_steps` call it.

    >>> torch.manual_seed(0) and None
    >>> model = nn.Linear(4, 3)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> first, _ = train_step(model, opt, x, y)
    >>> second, _ = train_step(model, opt, x, y)
    >>> bool(second < first)                        # one step downhill on the same batch
    True
    """
    optimizer.zero_grad()
    out = model(xb)
    loss = loss_fn(out, yb)
    loss.backward()
    optimizer.step()
    return loss.detach(), out.detach()


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: LossFn = nn.functional.cross_entropy,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless stream of :func:`train_step` calls over ``train``, epoch after epoch; yields each ``(loss, output)``.

    Each ``next()`` trains on the next mini-batch of a :class:`~dlbook.data.BatchIterator`
    (seeded by ``seed``) and returns that step's detached loss and output; the caller
    decides how many steps to take and may change the optimizer (its learning rate,
    say) between two of them. Used by :func:`dlbook.tuning.lr_find` (chapter 09).

    >>> torch.manual_seed(0) and None
    >>> model = nn.Linear(4, 3)
    >>> steps = train_steps(model, torch.optim.SGD(model.parameters(), lr=0.1),
    ...                     (torch.randn(10, 4), torch.randint(0, 3, (10,))), batch_size=4)
    >>> [tuple(next(steps)[1].shape) for _ in range(4)]     # batches of 4, 4, 2, then a new epoch
    [(4, 3), (4, 3), (2, 3), (4, 3)]
    """
    x, y = _check_pair("train", train)
    batches = BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__} (expected torch.optim.Optimizer)")

    def steps() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            for xb, yb in batches:
                yield train_step(model, optimizer, xb, yb, loss_fn)

    return steps()


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
    device. Its train/eval mode is restored afterwards. The per-batch losses stay on
    the device until the end, then are summed on the CPU in float64 (so the result is
    the same on every device, MPS included, which has no float64). The accuracy is
    ``nan`` when ``y`` does not hold class indices.

    >>> torch.manual_seed(0) and None
    >>> model = nn.Linear(4, 3)
    >>> loss, acc = evaluate(model, (torch.randn(10, 4), torch.randint(0, 3, (10,))))
    >>> 0.0 <= acc <= 1.0 and loss > 0
    True
    """
    x, y = _check_pair("data", data)
    batches = BatchIterator(x, y, batch_size=batch_size)
    was_training = model.training
    model.eval()
    losses, sizes, correct = [], [], []
    for xb, yb in batches:
        out = model(xb)
        losses.append(loss_fn(out, yb))
        sizes.append(len(xb))
        if _is_classification(out, yb):
            correct.append(_correct(out, yb))
    model.train(was_training)
    accuracy = torch.stack(correct).sum().item() / len(x) if correct else math.nan
    return _weighted_mean(losses, sizes), accuracy


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
    scheduler_step: str = "epoch",
    patience: int | None = None,
    restore_best: bool = True,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent; return its :class:`History`.

    Each epoch draws mini-batches of ``batch_size`` from ``train = (x, y)`` with a
    :class:`~dlbook.data.BatchIterator` (seeded by ``seed``) and for each one runs
    ``zero_grad`` → forward → ``loss_fn`` → ``backward`` → ``optimizer.step()``
    (:func:`train_step`). After the epoch it evaluates on ``val`` (if given) and steps
    ``scheduler`` (if given) once; with ``scheduler_step="batch"`` the scheduler is
    stepped after every optimizer step instead, as warmup and one-cycle schedules
    (:class:`torch.optim.lr_scheduler.OneCycleLR`) expect.

    Early stopping: with ``patience=p`` training stops after ``p`` epochs in a row
    without a new lowest validation loss, and (``restore_best=True``) the model
    gets back the weights of its best epoch.

    The tensors must already be on the model's device (``splits.to(device)``); the
    loop adds no host-device copies of its own and reads nothing back to the host
    inside an epoch: the per-batch losses are summed once per epoch, on the CPU in
    float64 (the same number on every device; MPS has no float64).

    Args:
        model: the network; left in training mode at the end.
        optimizer: any :class:`torch.optim.Optimizer` over ``model``'s parameters.
        train: ``(x, y)`` training tensors.
        val: optional ``(x, y)`` validation tensors.
        loss_fn: ``loss_fn(output, y) -> scalar tensor``; default cross-entropy.
        epochs: maximum number of epochs (≥ 1).
        batch_size: mini-batch size (≥ 1).
        shuffle, drop_last: passed to :class:`~dlbook.data.BatchIterator`.
        seed: seed of the batch order, an integer in ``[0, 2**32)``; the batch order
            then draws nothing from the global generators (a model's dropout still
            draws its masks from torch's, as in any torch loop). ``None`` (the
            default) takes one number per call from PyTorch's global generator as the
            seed (a ``DataLoader`` takes two per epoch), so that
            ``dlbook.seed_everything(s)`` fixes the initialisation *and* the batch
            order, and two seeds differ in both.
        scheduler: an LR scheduler (``ReduceLROnPlateau`` gets the validation loss,
            or the training loss without ``val``).
        scheduler_step: ``"epoch"`` (the default: once after each epoch) or
            ``"batch"`` (after every optimizer step: warmup, ``OneCycleLR``; not
            ``ReduceLROnPlateau``, which needs an epoch's loss).
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
    val = _check_pair("val", val) if val is not None else None
    _check_fit_options(optimizer, loss_fn, epochs, batch_size, patience, val, scheduler, scheduler_step)
    batches = BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                            generator=_batch_order(seed))
    if len(batches) == 0:
        raise ValueError(f"Invalid batch_size: {batch_size} with drop_last=True leaves no batch of {len(x)} examples")
    step_each_batch = scheduler if scheduler_step == "batch" else None
    stopper = EarlyStopping(patience) if patience is not None else None
    history = History()
    bar = _progress_bar(progress, total=epochs * len(batches))
    model.train()
    for epoch in range(epochs):
        start = time.perf_counter()
        loss, acc = train_epoch(model, optimizer, batches, loss_fn, transform=transform,
                                scheduler=step_each_batch, on_batch=bar.update)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        history.epoch_time.append(time.perf_counter() - start)
        if val is not None:
            val_loss, val_acc = evaluate(model, val, loss_fn)
            model.train()
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            bar.set_postfix(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
        if not math.isfinite(loss):
            history.stopped_epoch = epoch
            break  # diverged: further epochs only compute NaNs
        if scheduler is not None and scheduler_step == "epoch":
            _step_after_epoch(scheduler, history)
        if stopper is not None and stopper.should_stop(history.val_loss[-1], model):
            history.stopped_epoch = epoch
            break
    bar.close()
    if stopper is not None and restore_best:
        stopper.restore_best(model)
    return history


# --------------------------------------------------------------------------- fit's pieces


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: BatchIterator,
    loss_fn: LossFn = nn.functional.cross_entropy,
    *,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    scheduler=None,
    on_batch: Callable[[], object] | None = None,
) -> tuple[float, float]:
    r"""One epoch of :func:`fit`: a :func:`train_step` per mini-batch; return the epoch's mean loss and accuracy.

    The loss is the mean over the epoch's examples of each batch's loss as it was
    trained, :math:`\sum_b n_b \ell_b / \sum_b n_b`; the accuracy likewise (``nan``
    when the targets are not class indices). ``transform`` is applied to each input
    batch first (augmentation); ``scheduler``, if given, is stepped after every
    optimizer step (warmup, one-cycle); ``on_batch`` is called after each batch (a
    progress bar). Per batch only references are kept, no computation and no read
    back to the host: the sums are formed once, at the end of the epoch.

    >>> import dlbook
    >>> dlbook.seed_everything(0)
    >>> data = dlbook.data.load_digits()
    >>> model = dlbook.models.mlp([64, 10])
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> batches = dlbook.data.BatchIterator(*data.train, batch_size=64, shuffle=True, seed=0)
    >>> first, _ = train_epoch(model, opt, batches)
    >>> second, acc = train_epoch(model, opt, batches)
    >>> second < first and 0 <= acc <= 1
    True
    """
    losses, sizes, outputs, targets = [], [], [], []
    for xb, yb in batches:
        if transform is not None:
            xb = transform(xb)
        loss, out = train_step(model, optimizer, xb, yb, loss_fn)
        if scheduler is not None:
            scheduler.step()
        losses.append(loss)
        sizes.append(len(xb))
        if _is_classification(out, yb):
            outputs.append(out)
            targets.append(yb)
        if on_batch is not None:
            on_batch()
    # The device is waited for once per epoch, not once per batch.
    acc = _correct(torch.cat(outputs), torch.cat(targets)).item() / sum(sizes) if outputs else math.nan
    return _weighted_mean(losses, sizes), acc


class EarlyStopping:
    """Stop after ``patience`` epochs in a row without a new lowest validation loss; keep the best weights.

    :meth:`should_stop` is called once per epoch with that epoch's validation loss:
    a new lowest loss resets the count and copies the model's ``state_dict``; any
    other loss (equal or higher) counts one bad epoch, and the answer is ``True``
    once ``patience`` have passed in a row. :meth:`restore_best` loads the copy back.

    >>> stopper = EarlyStopping(patience=2)
    >>> model = torch.nn.Linear(1, 1)
    >>> [stopper.should_stop(loss, model) for loss in [1.0, 0.8, 0.9, 0.85, 0.7]]
    [False, False, False, True, False]
    >>> stopper.best_loss
    0.7
    >>> EarlyStopping(patience=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid patience: 0 (expected a positive integer)
    """

    def __init__(self, patience: int) -> None:
        self.patience = check_int("patience", patience, low=1)
        self.best_loss, self.best_state, self.bad_epochs = math.inf, None, 0

    def should_stop(self, val_loss: float, model: nn.Module) -> bool:
        """Record this epoch's validation loss; ``True`` once ``patience`` epochs in a row brought no new best."""
        if val_loss < self.best_loss:
            self.best_loss, self.bad_epochs = val_loss, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Load the weights of the best epoch into ``model`` (nothing if no epoch was recorded)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def _check_fit_options(optimizer, loss_fn, epochs, batch_size, patience, val, scheduler, scheduler_step) -> None:
    """:func:`fit`'s argument checks, as torch.optim makes them: the error names the value."""
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)
    if patience is not None:
        check_int("patience", patience, low=1)
        if val is None:
            raise ValueError("Invalid patience: early stopping needs validation data (val=None)")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__} (expected torch.optim.Optimizer)")
    if not callable(loss_fn):
        raise TypeError(f"Invalid loss_fn: {loss_fn!r} (expected a callable (output, target) -> loss)")
    check_choice("scheduler_step", scheduler_step, ("epoch", "batch"))
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"Invalid scheduler: {type(scheduler).__name__} (expected an LR scheduler with a step() method)")
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and scheduler_step == "batch":
        raise ValueError("Invalid scheduler_step: 'batch' with ReduceLROnPlateau (it needs an epoch's loss; use 'epoch')")


def _batch_order(seed: int | None) -> torch.Generator:
    """The generator of the batch order: seeded by ``seed``, else by one draw from torch's global generator."""
    if seed is None:  # seed_everything decides the batch order
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (), dtype=torch.int64)))
    return torch.Generator().manual_seed(check_seed(seed))


def _step_after_epoch(scheduler, history: History) -> None:
    """Step an epoch-wise scheduler; ``ReduceLROnPlateau`` gets the validation loss (the training loss without one)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(history.val_loss[-1] if history.val_loss else history.train_loss[-1])
    else:
        scheduler.step()


def _progress_bar(progress: bool | None, total: int):
    """A tqdm bar over ``total`` batches, shown only when ``progress`` (``None``: on a terminal)."""
    if _progress_enabled(progress):
        from tqdm.auto import tqdm  # a notebook widget where possible
    else:
        from tqdm import tqdm  # tqdm.auto warns in a kernel without ipywidgets, even for a disabled bar
    return tqdm(total=total, disable=not _progress_enabled(progress), unit="batch")
