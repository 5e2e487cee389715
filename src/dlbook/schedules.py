r"""Learning-rate schedules as plain functions.

Taught in chapter 09 (Learning rate).

A schedule here is a pure function: give it the epoch (or step) and it returns the
learning rate for it, in closed form, with no optimizer and no hidden state. The
tests check each one against the sequence of the matching
:mod:`torch.optim.lr_scheduler` class over many epochs. To drive a real optimizer
with one, wrap it in :class:`torch.optim.lr_scheduler.LambdaLR`::

    LambdaLR(optimizer, lambda epoch: cosine_annealing_lr(epoch, 1.0, t_max=20))

(``LambdaLR`` multiplies the optimizer's initial learning rate by the returned
factor, hence ``base_lr=1.0``.)

The learning-rate range test, which searches for a learning rate by training, is
:func:`dlbook.tuning.lr_find`, beside the other searches.

To follow a schedule step by step (warmup, one-cycle) instead of epoch by epoch,
give :func:`dlbook.train.fit` ``scheduler_step="batch"``.
"""

from __future__ import annotations

import math

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
        gamma: :math:`\gamma > 0`, the factor applied at each decay. Unlike
            :class:`~torch.optim.lr_scheduler.StepLR`, which takes any number, a
            zero or negative ``gamma`` (a rate of 0, or of alternating sign) raises.

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
        gamma: :math:`\gamma > 0` (below 1 to decay); unlike
            :class:`~torch.optim.lr_scheduler.ExponentialLR`, zero or negative raises.

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
        eta_min: :math:`\eta_{\min} \ge 0`, the minimum; unlike
            :class:`~torch.optim.lr_scheduler.CosineAnnealingLR`, a negative one raises.

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
