r"""Learning-rate schedules as plain functions, and the learning-rate range test.

Taught in chapter 09 (Learning rate).

A schedule here is a pure function: give it the epoch (or step) and it returns the
learning rate for it, in closed form, with no optimizer and no hidden state. The
tests check each one against the sequence of the matching
:mod:`torch.optim.lr_scheduler` class over many epochs. To drive a real optimizer
with one, wrap it in :class:`torch.optim.lr_scheduler.LambdaLR`::

    LambdaLR(optimizer, lambda epoch: cosine_annealing_lr(epoch, 1.0, t_max=20))

(``LambdaLR`` multiplies the optimizer's initial learning rate by the returned
factor, hence ``base_lr=1.0``.)

:func:`lr_find` is the learning-rate range test (Smith, 2017): train for a few
hundred mini-batches while the learning rate grows exponentially, record the loss,
and read a good learning rate off the curve. Its training steps are
:func:`dlbook.train.train_step`, the one :func:`dlbook.train.fit` takes.

To follow a schedule step by step (warmup, one-cycle) instead of epoch by epoch,
give :func:`dlbook.train.fit` ``scheduler_step="batch"``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dlbook.train import train_steps
from dlbook.validation import check_int, check_real

# --------------------------------------------------------------------------- argument checks


def _check_count(name: str, value, minimum: int) -> int:
    return check_int(name, value, low=minimum)


def _check_real(name: str, value, *, positive: bool = False) -> float:
    return check_real(name, value, low=0.0, low_open=positive, finite=True)


def _check_lr(value) -> float:
    return check_real("base_lr", value, low=0.0, finite=True, label="learning rate", explain=False)


# --------------------------------------------------------------------------- schedules


def step_lr(epoch: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    r"""Step decay: multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    .. math:: \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}

    Equal to :class:`torch.optim.lr_scheduler.StepLR` ``(step_size=s, gamma=gamma)``
    at epoch :math:`t` (epoch 0 is the first, before any ``scheduler.step()``).

    Args:
        epoch: :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`, the learning rate at epoch 0.
        step_size: :math:`s \ge 1`, epochs between two decays.
        gamma: :math:`\gamma > 0`, the factor applied at each decay.

    Taught in chapter 09 (Learning rate).

    >>> [step_lr(t, 0.1, step_size=2, gamma=0.5) for t in range(6)]
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    >>> step_lr(0, 0.1, step_size=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid step_size: 0 (expected a positive integer)
    """
    epoch = _check_count("epoch", epoch, 0)
    base_lr = _check_lr(base_lr)
    step_size = _check_count("step_size", step_size, 1)
    gamma = _check_real("gamma", gamma, positive=True)
    return base_lr * gamma ** (epoch // step_size)


def exponential_lr(epoch: int, base_lr: float, gamma: float) -> float:
    r"""Exponential decay: multiply the learning rate by ``gamma`` every epoch.

    .. math:: \eta_t = \eta_0\, \gamma^{t}

    Equal to :class:`torch.optim.lr_scheduler.ExponentialLR` ``(gamma=gamma)``.

    Args:
        epoch: :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        gamma: :math:`\gamma > 0` (below 1 to decay).

    Taught in chapter 09 (Learning rate).

    >>> [round(exponential_lr(t, 0.1, gamma=0.5), 4) for t in range(4)]
    [0.1, 0.05, 0.025, 0.0125]
    >>> exponential_lr(0, -0.1, gamma=0.5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: -0.1
    """
    epoch = _check_count("epoch", epoch, 0)
    base_lr = _check_lr(base_lr)
    gamma = _check_real("gamma", gamma, positive=True)
    return base_lr * gamma**epoch


def cosine_annealing_lr(epoch: int, base_lr: float, t_max: int, eta_min: float = 0.0) -> float:
    r"""Cosine annealing: half a cosine wave from ``base_lr`` down to ``eta_min`` over ``t_max`` epochs.

    .. math:: \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min}) \left(1 + \cos\frac{\pi t}{T_{\max}}\right)

    The learning rate falls slowly at first, fastest at :math:`t = T_{\max}/2` and
    slowly again near the end (Loshchilov & Hutter, 2017, without restarts).
    Beyond :math:`T_{\max}` the formula keeps following the cosine, back *up*
    towards :math:`\eta_0`, exactly as :class:`torch.optim.lr_scheduler.CosineAnnealingLR`
    does: stop training at :math:`T_{\max}`, or use restarts.

    Args:
        epoch: :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        t_max: :math:`T_{\max} \ge 1`, the epoch at which the minimum is reached.
        eta_min: :math:`\eta_{\min} \ge 0`, the minimum.

    Taught in chapter 09 (Learning rate).

    >>> [round(cosine_annealing_lr(t, 0.1, t_max=4), 4) for t in range(5)]
    [0.1, 0.0854, 0.05, 0.0146, 0.0]
    """
    epoch = _check_count("epoch", epoch, 0)
    base_lr = _check_lr(base_lr)
    t_max = _check_count("t_max", t_max, 1)
    eta_min = _check_real("eta_min", eta_min)
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / t_max))


def linear_warmup(step: int, base_lr: float, warmup_steps: int) -> float:
    r"""Linear warmup: grow the learning rate in equal steps to ``base_lr`` over the first ``warmup_steps`` steps.

    .. math:: \eta_t = \eta_0 \min\!\left(1, \frac{t + 1}{W}\right)

    Step 0 already trains, with :math:`\eta_0 / W`; step :math:`W - 1` and every
    later step use :math:`\eta_0`. (The formula :math:`\eta_0\, t / W`, seen in
    tutorials, gives :math:`\eta_0 = 0` at step 0: a step that changes nothing.)
    Equal to :class:`torch.optim.lr_scheduler.LambdaLR` with
    ``lambda t: min(1, (t + 1) / W)``, and for :math:`W \ge 2` to
    :class:`torch.optim.lr_scheduler.LinearLR` ``(start_factor=1/W, total_iters=W-1)``.

    Args:
        step: :math:`t \ge 0`, counted in optimizer steps (or epochs, if the
            schedule is stepped once per epoch).
        base_lr: :math:`\eta_0 \ge 0`, the learning rate after warmup.
        warmup_steps: :math:`W \ge 1`; ``W = 1`` means no warmup.

    Taught in chapter 09 (Learning rate).

    >>> [linear_warmup(t, 0.4, warmup_steps=4) for t in range(6)]
    [0.1, 0.2, 0.30000000000000004, 0.4, 0.4, 0.4]
    """
    step = _check_count("step", step, 0)
    base_lr = _check_lr(base_lr)
    warmup_steps = _check_count("warmup_steps", warmup_steps, 1)
    return base_lr * min(1.0, (step + 1) / warmup_steps)


# --------------------------------------------------------------------------- range test


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured.

    Attributes:
        lrs: the learning rate of each mini-batch step, growing geometrically.
        losses: the raw mini-batch loss at each step.
        smoothed: the bias-corrected exponential moving average of ``losses``.
        suggested_lr: the learning rate where ``smoothed`` falls fastest per unit
            of :math:`\\log_{10}` learning rate (the steepest descent), searched
            before the minimum of ``smoothed``.
        min_loss_lr: the learning rate at the minimum of ``smoothed``; a common
            alternative suggestion is a tenth of it.
        diverged: whether the test stopped early because the loss blew up.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggested_lr: float
    min_loss_lr: float
    diverged: bool


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def lr_find(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    *,
    loss_fn: LossFn = nn.functional.cross_entropy,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    num_steps: int = 200,
    batch_size: int = 64,
    smoothing: float = 0.9,
    diverge_factor: float = 4.0,
    seed: int = 0,
) -> LRFinderResult:
    r"""The learning-rate range test (Smith, 2017): train while the learning rate grows, and watch the loss.

    For steps :math:`i = 0, \dots, n-1` (one mini-batch each, cycling through
    ``train`` as often as needed) the learning rate grows geometrically from
    :math:`\eta_{\text{start}}` to :math:`\eta_{\text{end}}`:

    .. math:: \eta_i = \eta_{\text{start}} \left(\frac{\eta_{\text{end}}}{\eta_{\text{start}}}\right)^{i/(n-1)}

    Each step trains on its mini-batch at :math:`\eta_i` and records the loss
    :math:`\ell_i` of that batch (computed before the update). Mini-batch losses are
    noisy, so they are smoothed by an exponential moving average with
    bias correction (the average starts at 0, which would pull early values down):

    .. math:: a_i = \beta a_{i-1} + (1 - \beta) \ell_i, \quad a_{-1} = 0, \qquad
              \bar\ell_i = \frac{a_i}{1 - \beta^{\,i+1}}

    The average spans about :math:`1/(1-\beta)` steps, so the smoothed curve lags
    the raw one by about :math:`\beta/(1-\beta)` steps, that is by a factor of about
    :math:`(\eta_{\text{end}}/\eta_{\text{start}})^{\beta/((1-\beta)(n-1))}` in learning
    rate: with the defaults (:math:`\beta = 0.9`, 200 steps over 7 decades) a factor
    of about 2. (The common choice :math:`\beta = 0.98` over 100 steps lags by a
    factor of several thousand, which shifts the whole curve to the right.)

    The test stops early once :math:`\bar\ell_i` exceeds ``diverge_factor`` times its
    lowest value so far, or the loss is not finite: the learning rate is past any
    useful value. The suggestion is the learning rate at the steepest descent of
    the smoothed curve, :math:`\arg\min_i d\bar\ell_i / d\log_{10}\eta_i`, searched
    among the steps up to the lowest smoothed loss (where the loss drops fastest
    the learning rate is large enough to make progress but not yet unstable). If
    the curve never descends, it falls back to a tenth of the learning rate at the
    minimum.

    Afterwards the model's weights (and buffers), its train/eval mode and the
    optimizer's state (learning rate, momentum buffers, ...) are restored, so the
    test leaves no trace and a real run can start from the same initial weights.

    Args:
        model: the network to probe.
        optimizer: an optimizer over ``model``'s parameters; its learning rate is
            overwritten during the test and restored afterwards.
        train: ``(x, y)`` training tensors on the model's device.
        loss_fn: ``loss_fn(output, y) -> scalar``; default cross-entropy.
        start_lr, end_lr: :math:`0 < \eta_{\text{start}} < \eta_{\text{end}}`.
        num_steps: :math:`n \ge 2`, the number of mini-batches (at most).
        batch_size: rows per mini-batch.
        smoothing: :math:`\beta \in [0, 1)`; 0 means no smoothing.
        diverge_factor: stop once the smoothed loss exceeds this multiple (> 1) of its minimum.
        seed: seed of the mini-batch shuffling.

    Returns:
        An :class:`LRFinderResult`.

    Taught in chapter 09 (Learning rate).

    >>> import dlbook
    >>> dlbook.seed_everything(0)
    >>> data = dlbook.data.load_digits()
    >>> model = dlbook.models.mlp([64, 32, 10])
    >>> before = [p.clone() for p in model.parameters()]
    >>> result = lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), data.train)
    >>> 1e-6 <= result.suggested_lr < result.min_loss_lr <= 10
    True
    >>> all(torch.equal(p, q) for p, q in zip(before, model.parameters()))   # weights restored
    True
    >>> lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), data.train, start_lr=1.0, end_lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: Invalid end_lr: 0.1 (expected > start_lr = 1.0)
    """
    start_lr = _check_real("start_lr", start_lr, positive=True)
    end_lr = _check_real("end_lr", end_lr, positive=True)
    if not end_lr > start_lr:
        raise ValueError(f"Invalid end_lr: {end_lr!r} (expected > start_lr = {start_lr!r})")
    num_steps = _check_count("num_steps", num_steps, 2)
    smoothing = _check_real("smoothing", smoothing)
    if not smoothing < 1:
        raise ValueError(f"Invalid smoothing: {smoothing!r} (expected a number in [0, 1))")
    diverge_factor = _check_real("diverge_factor", diverge_factor, positive=True)
    if not diverge_factor > 1:
        raise ValueError(f"Invalid diverge_factor: {diverge_factor!r} (expected > 1)")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"Invalid optimizer: {type(optimizer).__name__} (expected torch.optim.Optimizer)")

    steps = train_steps(model, optimizer, train, loss_fn=loss_fn, batch_size=batch_size, shuffle=True, seed=seed)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training

    lrs, losses, smoothed = [], [], []
    average, best, diverged = 0.0, math.inf, False
    model.train()
    try:
        for i in range(num_steps):  # cycling through train as often as needed
            lr = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss, _ = next(steps)  # dlbook.train.train_step on the next mini-batch
            raw = loss.item()  # one sync per step: the divergence test needs the value now
            average = smoothing * average + (1 - smoothing) * raw
            smooth = average / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(raw)
            smoothed.append(smooth)
            best = min(best, smooth)
            if not math.isfinite(smooth) or smooth > diverge_factor * best:
                diverged = True
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)

    finite = [s if math.isfinite(s) else math.inf for s in smoothed]
    lowest = min(range(len(finite)), key=finite.__getitem__)
    min_loss_lr = lrs[lowest]
    if lowest >= 2:
        log_lrs = torch.tensor(lrs[: lowest + 1], dtype=torch.float64).log10()
        slopes = torch.gradient(torch.tensor(finite[: lowest + 1], dtype=torch.float64), spacing=(log_lrs,))[0]
        suggested_lr = lrs[int(slopes.argmin())]
    else:
        suggested_lr = min_loss_lr / 10
    return LRFinderResult(lrs, losses, smoothed, suggested_lr, min_loss_lr, diverged)
