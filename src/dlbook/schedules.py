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
from bisect import bisect_right
from collections.abc import Iterable

from dlbook.validation import check_choice, check_int, check_real

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


def multistep_lr(epoch: int, base_lr: float, milestones: Iterable[int], gamma: float = 0.1) -> float:
    r"""Multi-step decay: multiply the learning rate by ``gamma`` at each of the epochs in ``milestones``.

    .. math:: \eta_t = \eta_0\, \gamma^{\,|\{m \in M : m \le t\}|}

    The exponent counts the milestones already reached (a milestone listed twice
    counts twice; their order does not matter). Equal to
    :class:`torch.optim.lr_scheduler.MultiStepLR` ``(milestones=M, gamma=gamma)``,
    including a milestone at epoch 0, which decays the very first rate.

    Args:
        epoch: :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`, the learning rate before the first milestone.
        milestones: :math:`M`, the epochs (integers :math:`\ge 0`) at which to decay;
            may be empty (a constant rate). Unlike torch, a negative milestone raises:
            torch's scheduler never reaches it when stepped, but its closed form
            (``scheduler.step(epoch)``) counts it.
        gamma: :math:`\gamma > 0`; unlike :class:`~torch.optim.lr_scheduler.MultiStepLR`,
            zero or negative raises.

    Taught in chapter 09 (Learning rate).

    >>> [multistep_lr(t, 0.1, milestones=[2, 4], gamma=0.5) for t in range(6)]
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    >>> multistep_lr(3, 0.1, milestones=[2, -1])
    Traceback (most recent call last):
    ...
    ValueError: Invalid milestones: holds -1 (expected integers >= 0)
    """
    epoch = _check_count("epoch", epoch, 0)
    base_lr = _check_lr(base_lr)
    milestones = _check_milestones(milestones)
    gamma = _check_real("gamma", gamma, positive=True)
    return base_lr * gamma ** bisect_right(milestones, epoch)


def _check_milestones(milestones) -> list[int]:
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
        raise TypeError(f"Invalid milestones: {type(milestones).__name__} (expected a collection of integers)")
    checked = []
    for m in milestones:
        try:
            checked.append(check_int("milestones", m, low=0))
        except ValueError:
            raise ValueError(f"Invalid milestones: holds {m} (expected integers >= 0)") from None
        except TypeError:
            raise TypeError(f"Invalid milestones: holds {m!r} (expected integers >= 0)") from None
    return sorted(checked)


def polynomial_lr(epoch: int, base_lr: float, total_iters: int, power: float = 1.0) -> float:
    r"""Polynomial decay: from ``base_lr`` down to exactly 0 at epoch ``total_iters``, and 0 after it.

    .. math:: \eta_t = \eta_0 \left(1 - \frac{\min(t, T)}{T}\right)^{p}

    ``power=1`` is a straight line to zero; :math:`p > 1` falls fast early, :math:`p < 1`
    late. Equal to :class:`torch.optim.lr_scheduler.PolynomialLR`
    ``(total_iters=T, power=p)``: the rate reaches 0 at epoch :math:`T` and stays
    there, so the training that still runs after epoch :math:`T` changes nothing.

    Args:
        epoch: :math:`t \ge 0`.
        base_lr: :math:`\eta_0 \ge 0`.
        total_iters: :math:`T \ge 1`, the epoch at which the rate reaches 0. Unlike
            torch, ``0`` raises: torch's scheduler then never decays, while its closed
            form divides by zero.
        power: :math:`p \ge 0` (``0``: a constant rate). Unlike torch, a negative power
            raises at once; torch's scheduler raises ``ZeroDivisionError`` on reaching
            epoch :math:`T`.

    Taught in chapter 09 (Learning rate).

    >>> [polynomial_lr(t, 0.1, total_iters=4, power=2.0) for t in range(6)]
    [0.1, 0.05625, 0.025, 0.00625, 0.0, 0.0]
    >>> polynomial_lr(1, 0.1, total_iters=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid total_iters: 0 (expected a positive integer)
    """
    epoch = _check_count("epoch", epoch, 0)
    base_lr = _check_lr(base_lr)
    total_iters = _check_count("total_iters", total_iters, 1)
    power = _check_real("power", power)
    return base_lr * (1.0 - min(total_iters, epoch) / total_iters) ** power


def inverse_sqrt_lr(step: int, base_lr: float, warmup_steps: int) -> float:
    r"""Inverse square-root decay after a linear warmup: the Transformer's schedule.

    .. math:: \eta_t = \eta_0 \min\!\left(\frac{t + 1}{W},\ \sqrt{\frac{W}{t + 1}}\right)

    The rate grows linearly, as in :func:`linear_warmup`, to :math:`\eta_0` at step
    :math:`W - 1`, then decays like :math:`1/\sqrt{t}`: slowly, never reaching 0
    (step :math:`4W - 1` has :math:`\eta_0 / 2`). This is Vaswani et al.'s (2017)
    :math:`d_{\text{model}}^{-1/2} \min(n^{-1/2},\, n W^{-3/2})` with :math:`n = t + 1`
    (their steps count from 1) and the peak :math:`\eta_0 = (d_{\text{model}} W)^{-1/2}`
    made a parameter. Equal to :class:`torch.optim.lr_scheduler.LambdaLR` with
    ``lambda t: min((t + 1) / W, math.sqrt(W / (t + 1)))``, bit for bit.

    Args:
        step: :math:`t \ge 0`, counted in optimizer steps (give
            :func:`dlbook.train.fit` ``scheduler_step="batch"``).
        base_lr: :math:`\eta_0 \ge 0`, the peak learning rate, reached at step :math:`W - 1`.
        warmup_steps: :math:`W \ge 1`; ``W = 1`` means no warmup (:math:`\eta_0 / \sqrt{t + 1}`).

    Taught in chapter 09 (Learning rate).

    >>> [round(inverse_sqrt_lr(t, 0.4, warmup_steps=4), 4) for t in (0, 1, 3, 8, 15)]
    [0.1, 0.2, 0.4, 0.2667, 0.2]
    """
    step = _check_count("step", step, 0)
    base_lr = _check_lr(base_lr)
    warmup_steps = _check_count("warmup_steps", warmup_steps, 1)
    return base_lr * min((step + 1) / warmup_steps, math.sqrt(warmup_steps / (step + 1)))


def one_cycle_lr(
    step: int,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> float:
    r"""The one-cycle policy: up from ``max_lr / div_factor`` to ``max_lr``, then down far below the start.

    With :math:`\eta_{\text{init}} = \eta_{\max} / d` and
    :math:`\eta_{\text{final}} = \eta_{\text{init}} / f`, the :math:`T` steps are cut into
    phases at :math:`s_1 = pT - 1` (and :math:`s_2 = 2pT - 2` with ``three_phase``):

    ==========  ==========================  ===========================================
    phase       steps                       the rate goes
    ==========  ==========================  ===========================================
    1           :math:`0 \dots s_1`         :math:`\eta_{\text{init}} \to \eta_{\max}`
    2           :math:`s_1 \dots T - 1`     :math:`\eta_{\max} \to \eta_{\text{final}}`
    ==========  ==========================  ===========================================

    or, with ``three_phase``: :math:`\eta_{\text{init}} \to \eta_{\max}` up to :math:`s_1`,
    :math:`\eta_{\max} \to \eta_{\text{init}}` up to :math:`s_2`, and
    :math:`\eta_{\text{init}} \to \eta_{\text{final}}` up to :math:`T - 1` (Smith &
    Topin's original, 2019). In the phase from step :math:`a` to step :math:`b`, going
    from :math:`\eta_a` to :math:`\eta_b`, with :math:`\pi_t = (t - a)/(b - a)`:

    .. math::

        \eta_t = \eta_b + \tfrac12 (\eta_a - \eta_b)\,(1 + \cos \pi \pi_t) \quad \text{("cos")},
        \qquad
        \eta_t = \eta_a + (\eta_b - \eta_a)\, \pi_t \quad \text{("linear")}.

    Phase 1 starts at :math:`a = 0`. Equal, bit for bit, to the learning rate of
    :class:`torch.optim.lr_scheduler.OneCycleLR` ``(max_lr, total_steps=T, pct_start=p,
    anneal_strategy, div_factor=d, final_div_factor=f, three_phase)`` after ``step``
    calls of ``scheduler.step()`` (its momentum cycle is not computed here). Like
    torch: step :math:`T`, after the last training step, is allowed (it extrapolates
    the last phase) and a later one raises; a phase of zero length (:math:`pT = 1`,
    say) raises when a step falls in it, a :class:`ValueError` here where torch raises
    ``ZeroDivisionError``.

    Args:
        step: :math:`0 \le t \le T`, counted in optimizer steps (give
            :func:`dlbook.train.fit` ``scheduler_step="batch"``).
        max_lr: :math:`\eta_{\max} \ge 0`, the peak.
        total_steps: :math:`T \ge 1`, the number of training steps in the cycle.
        pct_start: :math:`p \in [0, 1]`, the fraction of the steps spent going up.
        div_factor: :math:`d > 0`, start at :math:`\eta_{\max} / d`.
        final_div_factor: :math:`f > 0`, end at :math:`\eta_{\max} / (d f)`. Unlike
            torch, which takes any number, zero or negative ``d`` or ``f`` raises.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        three_phase: the three phases above instead of two.

    Taught in chapter 09 (Learning rate).

    >>> lrs = [one_cycle_lr(t, 1.0, total_steps=10, pct_start=0.3, anneal_strategy="linear") for t in range(10)]
    >>> [round(lr, 4) for lr in lrs]
    [0.04, 0.52, 1.0, 0.8571, 0.7143, 0.5714, 0.4286, 0.2857, 0.1429, 0.0]
    >>> one_cycle_lr(11, 1.0, total_steps=10)
    Traceback (most recent call last):
    ...
    ValueError: Invalid step: 11 (expected an integer in [0, 10])
    """
    total_steps = _check_count("total_steps", total_steps, 1)
    step = check_int("step", step, low=0, high=total_steps)
    max_lr = check_real("max_lr", max_lr, low=0.0, finite=True)
    pct_start = check_real("pct_start", pct_start, low=0.0, high=1.0)
    div_factor = _check_real("div_factor", div_factor, positive=True)
    final_div_factor = _check_real("final_div_factor", final_div_factor, positive=True)
    check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
    if not isinstance(three_phase, bool):
        raise TypeError(f"Invalid three_phase: {three_phase!r} (expected True or False)")
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    # (last step of the phase, rate at its start, rate at its end), as torch lists them
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, initial_lr, max_lr),
                  (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
                  (total_steps - 1, initial_lr, min_lr)]
    else:
        phases = [(float(pct_start * total_steps) - 1, initial_lr, max_lr),
                  (total_steps - 1, max_lr, min_lr)]
    start_step = 0.0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            if end_step == start_step:
                raise ValueError(f"Invalid pct_start: {pct_start} (phase {i + 1} of {total_steps} steps has length 0 "
                                 f"at step {step}; torch's OneCycleLR divides by zero here)")
            pct = (step - start_step) / (end_step - start_step)
            if anneal_strategy == "cos":
                return end_lr + (start_lr - end_lr) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (end_lr - start_lr) * pct + start_lr
        start_step = end_step
    raise AssertionError("unreachable: the last phase takes every remaining step")
