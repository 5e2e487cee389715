r"""Hyperparameter search: grid, random and Bayesian (TPE), behind one interface.

All three searches take the same two things:

* an **objective** ``objective(params: dict) -> float``: train a model with the
  hyperparameters ``params`` and return a score (e.g. validation accuracy); the
  search maximises it (``direction="maximize"``, the default) or minimises it
  (``direction="minimize"``, e.g. for a validation loss);
* a **space**: a dict from hyperparameter name to either

  - a **list** of choices, e.g. ``"width": [64, 128, 256]``, or
  - a **tuple** ``(kind, low, high)`` describing a range, with ``kind`` one of

    ============  =====================================================
    ``"uniform"``  a float drawn uniformly from :math:`[\text{low}, \text{high}]`
    ``"log"``      a float whose logarithm is uniform (``0 < low``), for
                   scale parameters such as a learning rate
    ``"int"``      an integer in :math:`\{\text{low}, \dots, \text{high}\}`
    ``"logint"``   an integer whose logarithm is (about) uniform (``0 < low``),
                   for sizes such as a layer width
    ============  =====================================================

A list is always a set of choices and a tuple is always a range, so there is no
ambiguity between ``["log", 1, 2]`` (three choices) and ``("log", 1, 2)``.

Each search returns a :class:`SearchResult`: every trial in the order it ran
(its parameters and score) and the best one. The same call with the same seed
gives the same trials.

One search trains as it goes: :func:`lr_find`, the learning-rate range test (Smith,
2017), trains for a few hundred mini-batches while the learning rate grows
exponentially and reads a good learning rate off the loss curve. Its training steps
are :func:`dlbook.train.train_step`, the one :func:`dlbook.train.fit` takes.

Taught in chapter 14 (Hyperparameters); :func:`lr_find` in chapter 09 (Learning rate).
"""

from __future__ import annotations

import copy
import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlbook.train import train_steps
from dlbook.validation import check_int, check_real, check_seed

#: The range kinds a space may use, and whether each is drawn on a log scale / as integers.
KINDS: dict[str, tuple[bool, bool]] = {
    # kind: (log scale, integer)
    "uniform": (False, False),
    "log": (True, False),
    "int": (False, True),
    "logint": (True, True),
}

Objective = Callable[[dict[str, Any]], float]


@dataclass(frozen=True)
class Trial:
    """One evaluation of the objective: its index in the search, the parameters tried and the score.

    >>> Trial(0, {"lr": 0.01}, 0.9)
    Trial(number=0, params={'lr': 0.01}, value=0.9)
    """

    number: int
    params: dict[str, Any]
    value: float


@dataclass(frozen=True)
class SearchResult:
    """All trials of one search, in the order they ran, and the best of them.

    ``best`` is the trial with the highest value (lowest for ``direction="minimize"``);
    ties go to the earliest trial, and a ``nan`` value ranks below every number.

    >>> r = SearchResult("random", "maximize", [Trial(0, {"a": 1}, 0.5), Trial(1, {"a": 2}, 0.8), Trial(2, {"a": 3}, 0.7)])
    >>> r.best.params, r.values, r.best_so_far()
    ({'a': 2}, [0.5, 0.8, 0.7], [0.5, 0.8, 0.8])
    """

    method: str
    direction: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def values(self) -> list[float]:
        """The score of every trial, in order."""
        return [t.value for t in self.trials]

    def _key(self, value: float) -> float:
        if math.isnan(value):
            return -math.inf
        return value if self.direction == "maximize" else -value

    @property
    def best(self) -> Trial:
        """The best trial (earliest among equals)."""
        if not self.trials:
            raise ValueError("Invalid result: no trials")
        return max(self.trials, key=lambda t: (self._key(t.value), -t.number))

    def best_so_far(self) -> list[float]:
        """Element ``i``: the best value among trials ``0..i`` (what a plot of search progress shows)."""
        out: list[float] = []
        best = math.nan
        for v in self.values:
            if not out or self._key(v) > self._key(best):
                best = v
            out.append(best)
        return out


# --------------------------------------------------------------------------- validation


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_space(space: Any) -> dict[str, list | tuple]:
    """Validate ``space``; return it as a plain dict (keys in the given order)."""
    if not isinstance(space, Mapping):
        raise TypeError(f"Invalid space: {type(space).__name__} (expected a dict name -> list of choices or (kind, low, high))")
    if not space:
        raise ValueError("Invalid space: empty (expected at least one hyperparameter)")
    for name, spec in space.items():
        if not isinstance(name, str):
            raise TypeError(f"Invalid space: name {name!r} is a {type(name).__name__} (expected str)")
        if isinstance(spec, list):
            if not spec:
                raise ValueError(f"Invalid space: {name!r} has no choices (empty list)")
        elif isinstance(spec, tuple):
            if len(spec) != 3:
                raise ValueError(f"Invalid space: {name!r} is {spec!r} (expected a range (kind, low, high))")
            kind, low, high = spec
            if kind not in KINDS:
                raise ValueError(f"Invalid space: unknown kind {kind!r} for {name!r} (expected one of {', '.join(KINDS)})")
            log, integer = KINDS[kind]
            for bound in (low, high):
                if not _is_number(bound) or (integer and not isinstance(bound, numbers.Integral)):
                    expected = "integers" if integer else "numbers"
                    raise TypeError(f"Invalid space: {name!r} bound {bound!r} (a {kind!r} range needs {expected})")
                if not math.isfinite(bound):
                    raise ValueError(f"Invalid space: {name!r} bound {bound!r} (expected a finite number)")
            if not low < high:
                raise ValueError(f"Invalid space: {name!r} has low={low!r} >= high={high!r}")
            if log and low <= 0:
                raise ValueError(f"Invalid space: {name!r} has low={low!r} (a {kind!r} range needs low > 0)")
        else:
            raise TypeError(
                f"Invalid space: {name!r} is a {type(spec).__name__} (expected a list of choices or a tuple (kind, low, high))"
            )
    return dict(space)


def _check_common(objective: Any, direction: str) -> None:
    if not callable(objective):
        raise TypeError(f"Invalid objective: {type(objective).__name__} (expected a callable params -> float)")
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"Invalid direction: {direction!r} (expected 'maximize' or 'minimize')")


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    return check_int(name, value, low=minimum)




def _score(objective: Objective, params: dict[str, Any]) -> float:
    value = objective(dict(params))
    if not _is_number(value):
        raise TypeError(f"Invalid objective value: {value!r} for {params} (expected a real number)")
    return float(value)


# --------------------------------------------------------------------------- grid


def grid_values(spec: list | tuple, points: int | None = None) -> list:
    r"""The values a grid search tries for one hyperparameter.

    A list of choices is used as it is. A range is cut into ``points`` values that
    include both ends: evenly spaced for ``"uniform"`` and ``"int"``, evenly spaced
    in :math:`\log` for ``"log"`` and ``"logint"``,

    .. math:: v_j = \text{low} + \tfrac{j}{p-1}(\text{high} - \text{low}) \quad\text{or}\quad
              v_j = \text{low}\,(\text{high}/\text{low})^{j/(p-1)}, \qquad j = 0, \dots, p-1,

    integers rounded, duplicates (possible for narrow integer ranges) removed.

    >>> grid_values(("log", 1e-3, 1e-1), 3)
    [0.001, 0.01, 0.1]
    >>> grid_values(("logint", 16, 256), 3)
    [16, 64, 256]
    >>> grid_values(("int", 1, 3), 5)
    [1, 2, 3]
    >>> grid_values(("uniform", 0.0, 0.5))
    Traceback (most recent call last):
    ...
    ValueError: Invalid points: a range ('uniform', 0.0, 0.5) needs points >= 2 to be gridded (got None)
    """
    if isinstance(spec, list):
        return list(spec)
    kind, low, high = spec
    if points is not None and (isinstance(points, bool) or not isinstance(points, numbers.Integral)):
        raise TypeError(f"Invalid points: {points!r} (expected an integer >= 2)")
    if points is None or points < 2:
        raise ValueError(f"Invalid points: a range {spec!r} needs points >= 2 to be gridded (got {points!r})")
    log, integer = KINDS[kind]
    if log:
        values = np.geomspace(low, high, int(points))
    else:
        values = np.linspace(low, high, int(points))
    values[0], values[-1] = low, high  # exact ends, whatever the rounding of geomspace
    if integer:
        return list(dict.fromkeys(int(round(v)) for v in values))
    return [float(v) for v in values]


def grid_search(
    objective: Objective,
    space: Mapping[str, list | tuple],
    *,
    points: int | Mapping[str, int] | None = None,
    direction: str = "maximize",
) -> SearchResult:
    r"""Try every combination of the grid's values; return all trials and the best.

    The grid is the Cartesian product of :func:`grid_values` of each hyperparameter,
    so it has :math:`\prod_k n_k` points for :math:`n_k` values of hyperparameter
    :math:`k`, visited in :func:`itertools.product` order (the last name in
    ``space`` varies fastest). There is nothing random in it, hence no seed.

    Args:
        objective: ``objective(params) -> float``, called once per grid point.
        space: hyperparameter name -> list of choices or ``(kind, low, high)``.
        points: how many values each *range* is cut into: one number for all, or a
            dict name -> number. Lists of choices ignore it. Needed when ``space``
            has a range.
        direction: ``"maximize"`` or ``"minimize"`` the objective.

    >>> result = grid_search(lambda p: -(p["x"] - 2) ** 2 - p["y"], {"x": [1, 2, 3], "y": ("int", 0, 1)}, points=2)
    >>> len(result.trials), result.best.params, result.best.value
    (6, {'x': 2, 'y': 0}, 0.0)
    >>> grid_search(lambda p: 0.0, {})
    Traceback (most recent call last):
    ...
    ValueError: Invalid space: empty (expected at least one hyperparameter)
    """
    _check_common(objective, direction)
    space = _check_space(space)
    if isinstance(points, Mapping):
        unknown = sorted(set(points) - set(space))
        if unknown:
            raise ValueError(f"Invalid points: {unknown} are not in the space")
        per_name = {name: points.get(name) for name in space}
    else:
        per_name = {name: points for name in space}
    values = {}
    for name, spec in space.items():
        try:
            values[name] = grid_values(spec, per_name[name])
        except ValueError as exc:
            raise ValueError(f"{exc} for {name!r}") from None
    trials = []
    for i, combo in enumerate(itertools.product(*values.values())):
        params = dict(zip(values, combo))
        trials.append(Trial(i, params, _score(objective, params)))
    return SearchResult("grid", direction, trials)


# --------------------------------------------------------------------------- random


def sample(space: Mapping[str, list | tuple], rng: np.random.Generator) -> dict[str, Any]:
    r"""Draw one point of ``space`` with the NumPy generator ``rng``.

    A choice is drawn uniformly from its list; ``"uniform"`` from
    :math:`U(\text{low}, \text{high})`; ``"log"`` as :math:`\exp U(\ln \text{low}, \ln \text{high})`;
    ``"int"`` uniformly from the integers :math:`\text{low}..\text{high}`; ``"logint"`` as
    :math:`\exp U(\ln(\text{low} - \frac12), \ln(\text{high} + \frac12))` rounded to the
    nearest integer (the same rule Optuna uses, so each end gets its share).

    >>> p = sample({"lr": ("log", 1e-4, 1e-1), "act": ["relu", "tanh"]}, np.random.default_rng(0))
    >>> 1e-4 <= p["lr"] <= 1e-1 and p["act"] in ("relu", "tanh")
    True
    """
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = spec[int(rng.integers(len(spec)))]
            continue
        kind, low, high = spec
        if kind == "uniform":
            params[name] = float(rng.uniform(low, high))
        elif kind == "log":
            params[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        elif kind == "int":
            params[name] = int(rng.integers(low, high + 1))
        else:  # logint
            v = np.exp(rng.uniform(np.log(low - 0.5), np.log(high + 0.5)))
            params[name] = int(min(max(round(v), low), high))
    return params


def random_search(
    objective: Objective,
    space: Mapping[str, list | tuple],
    n_trials: int,
    seed: int = 0,
    *,
    direction: str = "maximize",
) -> SearchResult:
    """Try ``n_trials`` points drawn independently by :func:`sample`; return all trials and the best.

    Every draw comes from one :func:`numpy.random.default_rng` seeded with ``seed``,
    so a search repeats exactly. Unlike a grid, each trial tries a *new* value of
    every hyperparameter, which is why random search explores the few
    hyperparameters that matter better than a grid of the same size
    (Bergstra & Bengio, 2012).

    Args:
        objective: ``objective(params) -> float``.
        space: hyperparameter name -> list of choices or ``(kind, low, high)``.
        n_trials: number of points to try (≥ 1).
        seed: seed of the draws.
        direction: ``"maximize"`` or ``"minimize"`` the objective.

    >>> r = random_search(lambda p: -(p["x"] - 0.3) ** 2, {"x": ("uniform", 0.0, 1.0)}, n_trials=50, seed=0)
    >>> len(r.trials), abs(r.best.params["x"] - 0.3) < 0.05
    (50, True)
    >>> random_search(lambda p: 0.0, {"x": [1]}, n_trials=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid n_trials: 0 (expected a positive integer)
    """
    _check_common(objective, direction)
    space = _check_space(space)
    n_trials = _check_count("n_trials", n_trials)
    rng = np.random.default_rng(check_seed(seed))
    trials = []
    for i in range(n_trials):
        params = sample(space, rng)
        trials.append(Trial(i, params, _score(objective, params)))
    return SearchResult("random", direction, trials)


# --------------------------------------------------------------------------- TPE (Optuna)


def import_optuna():
    """Import and return :mod:`optuna` (used by :func:`tpe_search`), quietly.

    Optuna is imported only when needed, since only the TPE search uses it. Its
    import pulls in ``tqdm.auto``, which warns ("IProgress not found") inside a
    Jupyter kernel without ipywidgets; no progress bar is shown here, so that
    warning is silenced. Chapter 14 calls this once up front so that its search
    timings do not include the import.

    >>> import_optuna().__name__
    'optuna'
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import optuna

    return optuna


def tpe_search(
    objective: Objective,
    space: Mapping[str, list | tuple],
    n_trials: int,
    seed: int = 0,
    *,
    direction: str = "maximize",
    n_startup_trials: int = 10,
    storage: str | None = None,
    study_name: str | None = None,
) -> SearchResult:
    r"""Bayesian optimisation with Optuna's Tree-structured Parzen Estimator; return all trials and the best.

    TPE (Bergstra et al., 2011) starts with ``n_startup_trials`` random points. After
    that it splits the trials so far into the best fraction :math:`\gamma` and the rest,
    fits a density to each, :math:`\ell(x)` to the good ones and :math:`g(x)` to the
    others, and tries next the candidate that maximises

    .. math:: \frac{\ell(x)}{g(x)},

    i.e. the point that looks most like the good trials and least like the bad ones
    (this ratio is monotone in the expected improvement). The work is done by
    :class:`optuna.samplers.TPESampler` (Akiba et al., 2019), seeded with ``seed``;
    Optuna's log messages are silenced during the search. A ``nan`` score marks
    the trial as failed for Optuna (TPE learns nothing from it) and ranks last here.

    Args:
        objective: ``objective(params) -> float``.
        space: hyperparameter name -> list of choices or ``(kind, low, high)``.
            Choices must be ``None``, ``bool``, ``int``, ``float`` or ``str`` (Optuna
            stores them).
        n_trials: number of points to try (≥ 1).
        seed: seed of the sampler.
        direction: ``"maximize"`` or ``"minimize"`` the objective.
        n_startup_trials: random trials before TPE starts modelling (Optuna's
            default is 10, which leaves little for TPE in a small budget).
        storage: an Optuna storage URL (``"sqlite:///study.db"``, or any database
            Optuna supports, e.g. PostgreSQL): several processes or machines calling
            ``tpe_search`` with the same ``storage`` and ``study_name`` share one study,
            each running ``n_trials`` of it and each seeing the others' results. The
            result then holds every finished trial of the study, from all workers.
            ``None`` keeps the study in memory.
        study_name: the shared study's name (required with ``storage``).

    >>> r = tpe_search(lambda p: -(p["x"] - 0.3) ** 2, {"x": ("uniform", 0.0, 1.0)}, n_trials=30, seed=0, n_startup_trials=5)
    >>> len(r.trials), abs(r.best.params["x"] - 0.3) < 0.05
    (30, True)
    >>> tpe_search(lambda p: 0.0, {"x": ("log", 0, 1)}, n_trials=5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid space: 'x' has low=0 (a 'log' range needs low > 0)
    """
    _check_common(objective, direction)
    space = _check_space(space)
    n_trials = _check_count("n_trials", n_trials)
    seed = check_seed(seed)
    n_startup_trials = _check_count("n_startup_trials", n_startup_trials)
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        raise ValueError(f"Invalid storage: {storage!r} (expected a URL such as 'sqlite:///study.db')")
    if storage is not None and (not isinstance(study_name, str) or not study_name):
        raise ValueError(f"Invalid study_name: {study_name!r} (a shared storage needs the study's name)")

    optuna = import_optuna()

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, spec in space.items():
            if isinstance(spec, list):
                params[name] = trial.suggest_categorical(name, spec)
                continue
            kind, low, high = spec
            log, integer = KINDS[kind]
            if integer:
                params[name] = trial.suggest_int(name, int(low), int(high), log=log)
            else:
                params[name] = trial.suggest_float(name, float(low), float(high), log=log)
        return params

    trials: list[Trial] = []

    def optuna_objective(trial: optuna.Trial) -> float:
        params = suggest(trial)
        value = _score(objective, params)
        trials.append(Trial(len(trials), params, value))
        return value

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.create_study(
            direction=direction, sampler=sampler, storage=storage, study_name=study_name, load_if_exists=True
        )
        study.optimize(optuna_objective, n_trials=n_trials, catch=())
        if storage is not None:  # every worker's finished trials, in the order the study numbered them
            finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
            trials = [
                Trial(t.number, dict(t.params), float("nan") if t.value is None else float(t.value))
                for t in sorted(finished, key=lambda t: t.number)
            ]
    finally:
        optuna.logging.set_verbosity(verbosity)
    return SearchResult("tpe", direction, trials)


# --------------------------------------------------------------------------- the learning-rate range test


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

    Afterwards the model's weights (and buffers), its train/eval mode, the
    optimizer's state (learning rate, momentum buffers, ...) and torch's global random
    generators (CPU and the model's GPUs, which dropout draws its masks from) are
    restored, so the test leaves no trace: a real run starts from the same initial
    weights, and draws the same random numbers, as it would have without the test.

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
    start_lr = check_real("start_lr", start_lr, low=0.0, low_open=True, finite=True)
    end_lr = check_real("end_lr", end_lr, low=0.0, low_open=True, finite=True)
    if not end_lr > start_lr:
        raise ValueError(f"Invalid end_lr: {end_lr!r} (expected > start_lr = {start_lr!r})")
    num_steps = check_int("num_steps", num_steps, low=2)
    smoothing = check_real("smoothing", smoothing, low=0.0, finite=True)
    if not smoothing < 1:
        raise ValueError(f"Invalid smoothing: {smoothing!r} (expected a number in [0, 1))")
    diverge_factor = check_real("diverge_factor", diverge_factor, low=0.0, low_open=True, finite=True)
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
    gpus = sorted({t.device.index for t in (*model.parameters(), *model.buffers()) if t.device.type == "cuda"})
    model.train()
    with torch.random.fork_rng(devices=gpus):  # dropout's masks: the global generators are put back afterwards
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


__all__ = [
    "KINDS",
    "LRFinderResult",
    "SearchResult",
    "Trial",
    "grid_search",
    "grid_values",
    "lr_find",
    "random_search",
    "sample",
    "tpe_search",
]
