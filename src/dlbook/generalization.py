r"""Generalization: the bias–variance decomposition, measured on real least-squares fits.

Draw a training set :math:`D` of :math:`n` points :math:`y = f(x) + \varepsilon`
with noise :math:`\varepsilon \sim \mathcal N(0, \sigma^2)`, fit a model
:math:`\hat f_D` to it, and ask for its squared error on a *new* point. Averaged
over training sets and test noise, that error splits into three parts (Geman,
Bienenstock & Doursat, 1992):

.. math::

    \underbrace{\mathbb E_{D,\varepsilon}\big[(y - \hat f_D(x))^2\big]}_{\text{expected test error}}
    = \underbrace{\big(\mathbb E_D[\hat f_D(x)] - f(x)\big)^2}_{\text{bias}^2}
    + \underbrace{\mathbb E_D\big[(\hat f_D(x) - \mathbb E_D[\hat f_D(x)])^2\big]}_{\text{variance}}
    + \underbrace{\sigma^2}_{\text{noise}},

averaged over test inputs :math:`x`. :func:`bias_variance_experiment` makes the
training sets, fits polynomials of one degree to each (:func:`fit_polynomial`),
estimates each term from the fits, and also *measures* the expected test error
directly on freshly drawn noisy test labels, so the identity can be checked.

:func:`degree_sweep` is the model-complexity experiment of chapter 6: fit every
degree :math:`0, \dots, D` to *one* training set and report, per degree, the
training error, the validation error on fresh points, and the population risk
(computed on a fine grid), so that the degree a validation set would choose can be
followed as the training set grows.

How far to trust a test accuracy (chapter 13): a test set of :math:`n` examples the
model never saw makes the number of correct answers a binomial draw,
:math:`C \sim \mathrm{Bin}(n, p)` with :math:`p` the true accuracy.
:func:`accuracy_interval` gives the exact (Clopper–Pearson) or Wilson confidence
interval for :math:`p`; :func:`hoeffding_radius` the distribution-free radius
:math:`\varepsilon` of :math:`|C/n - p| \le \varepsilon`, and how it grows when the
same test set judges :math:`k` models (what reusing a test set costs).
:func:`k_fold_indices` splits :math:`n` examples into the folds of K-fold
cross-validation, the same splits as scikit-learn's ``KFold``.

Taught in chapter 6 (Overfitting and underfitting) and chapter 13 (Generalization).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from dlbook.validation import check_choice, check_int, check_real, check_seed, check_tensor


def polynomial_features(x: torch.Tensor, degree: int) -> torch.Tensor:
    r"""The Vandermonde matrix :math:`[1, x, x^2, \dots, x^d]`, one row per point.

    Shapes: ``x`` is ``(N,)``; the result is ``(N, degree + 1)``, in ``x``'s dtype.
    Keep :math:`x` in :math:`[-1, 1]` so high powers stay well scaled.

    >>> polynomial_features(torch.tensor([2.0, 3.0]), 2)
    tensor([[1., 2., 4.],
            [1., 3., 9.]])
    """
    _check_degree(degree)
    check_tensor("x", x)
    if x.ndim != 1:
        raise ValueError(f"Invalid x: expected a 1-d tensor, got {getattr(x, 'shape', type(x).__name__)}")
    powers = torch.arange(degree + 1, dtype=x.dtype, device=x.device)
    return x.unsqueeze(1) ** powers


def fit_polynomial(x: torch.Tensor, y: torch.Tensor, degree: int) -> torch.Tensor:
    r"""Least-squares polynomial coefficients :math:`w = \arg\min_w \|Xw - y\|^2`, lowest power first.

    :math:`X` is :func:`polynomial_features`; the problem is solved by
    :func:`torch.linalg.lstsq` (an SVD-based driver, so with more coefficients
    than points it returns the solution of smallest norm). Shapes: ``x`` and ``y``
    ``(N,)``; result ``(degree + 1,)``.

    >>> x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    >>> fit_polynomial(x, 1 + 2 * x - 3 * x ** 2, degree=2).round(decimals=6).tolist()
    [1.0, 2.0, -3.0]
    """
    check_tensor("y", y)
    if y.shape != x.shape:
        raise ValueError(f"Invalid y: expected shape {tuple(x.shape)}, got {tuple(getattr(y, 'shape', ()))}")
    features = polynomial_features(x, degree)
    return torch.linalg.lstsq(features, y.unsqueeze(1), driver="gelsd").solution.squeeze(1)


def predict_polynomial(coefficients: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\hat f(x) = \sum_{j=0}^{d} w_j x^j` for every point of ``x`` (shape ``(N,)``).

    >>> predict_polynomial(torch.tensor([1.0, 2.0, -3.0]), torch.tensor([0.0, 1.0])).tolist()
    [1.0, 0.0]
    """
    return polynomial_features(x, len(coefficients) - 1) @ coefficients


@dataclass(frozen=True)
class BiasVariance:
    """The three terms of the decomposition, and the directly measured test error.

    Attributes:
        degree: the polynomial degree fitted.
        bias2: :math:`\\text{bias}^2`, averaged over the test inputs.
        variance: the variance of the fits, averaged over the test inputs.
        noise: :math:`\\sigma^2`, the error no model can remove.
        test_error: mean of :math:`(y - \\hat f_D(x))^2` over all training sets and
            test points, with freshly drawn noisy labels :math:`y`.
    """

    degree: int
    bias2: float
    variance: float
    noise: float
    test_error: float

    @property
    def total(self) -> float:
        """:math:`\\text{bias}^2 + \\text{variance} + \\text{noise}`, the decomposition's prediction of ``test_error``."""
        return self.bias2 + self.variance + self.noise


def decompose(predictions: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    r"""Bias² and variance of many fits, from their predictions on the same test inputs.

    ``predictions`` is ``(S, M)``: row :math:`s` holds fit :math:`\hat f_s` at the
    :math:`M` test inputs; ``truth`` is ``(M,)``, the noiseless :math:`f` there.
    With :math:`\bar f = \frac1S \sum_s \hat f_s`,

    .. math:: \text{bias}^2 = \frac1M \sum_m (\bar f(x_m) - f(x_m))^2, \qquad
              \text{variance} = \frac1M \sum_m \frac1S \sum_s (\hat f_s(x_m) - \bar f(x_m))^2,

    and their sum is exactly the mean squared distance of the fits from :math:`f`.

    >>> bias2, variance = decompose(torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.tensor([0.0, 2.0]))
    >>> bias2, variance     # mean fit (2, 2): bias² ((2-0)² + 0)/2; variance ((1 + 1) + 0)/2
    (2.0, 0.5)
    """
    if predictions.ndim != 2 or truth.shape != predictions.shape[1:]:
        raise ValueError(
            f"Invalid shapes: predictions {tuple(predictions.shape)}, truth {tuple(truth.shape)} (expected (S, M) and (M,))"
        )
    mean_fit = predictions.mean(dim=0)
    bias2 = ((mean_fit - truth) ** 2).mean()
    variance = ((predictions - mean_fit) ** 2).mean()
    return bias2.item(), variance.item()


def bias_variance_experiment(
    f: Callable[[torch.Tensor], torch.Tensor],
    degree: int,
    *,
    n_train: int = 20,
    n_sets: int = 500,
    noise_std: float = 0.3,
    n_test: int = 200,
    seed: int = 0,
) -> BiasVariance:
    r"""Fit a degree-``degree`` polynomial to ``n_sets`` fresh noisy training sets; decompose its test error.

    Each training set has ``n_train`` inputs drawn uniformly from :math:`[-1, 1]` and
    labels :math:`f(x) + \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, \sigma^2)`.
    The test inputs are ``n_test`` evenly spaced points of :math:`[-1, 1]`. Every
    fit is evaluated there; :func:`decompose` gives bias² and variance, the noise is
    :math:`\sigma^2`, and ``test_error`` is measured with an independent noisy test
    label for every (training set, test point) pair. All in float64, seeded.

    Args:
        f: the true function, applied to a float64 tensor of inputs.
        degree: the polynomial degree (≥ 0).
        n_train: points per training set (≥ 1).
        n_sets: number of training sets (≥ 2).
        noise_std: :math:`\sigma \ge 0`.
        n_test: number of test inputs (≥ 1).
        seed: seed of every draw.

    >>> r = bias_variance_experiment(torch.sin, 3, n_sets=2000, seed=0)
    >>> r.bias2 < 1e-3, abs(r.total - r.test_error) / r.test_error < 0.02
    (True, True)
    """
    _check_degree(degree)
    for name, value, low in (("n_train", n_train, 1), ("n_sets", n_sets, 2), ("n_test", n_test, 1)):
        check_int(name, value, low=low)
    check_real("noise_std", noise_std, low=0.0, finite=True)
    g = torch.Generator().manual_seed(check_seed(seed))  # its own generator: the global one is left alone
    x_test = torch.linspace(-1, 1, n_test, dtype=torch.float64)
    truth = f(x_test)
    predictions = torch.empty(n_sets, n_test, dtype=torch.float64)
    for s in range(n_sets):
        x = torch.rand(n_train, generator=g, dtype=torch.float64) * 2 - 1
        y = f(x) + noise_std * torch.randn(n_train, generator=g, dtype=torch.float64)
        predictions[s] = predict_polynomial(fit_polynomial(x, y, degree), x_test)
    bias2, variance = decompose(predictions, truth)
    y_test = truth + noise_std * torch.randn(n_sets, n_test, generator=g, dtype=torch.float64)
    test_error = ((y_test - predictions) ** 2).mean().item()
    return BiasVariance(degree, bias2, variance, float(noise_std) ** 2, test_error)


@dataclass(frozen=True)
class DegreeSweep:
    r"""Errors of least-squares polynomials of degree ``0, ..., max_degree`` fitted to one training set.

    Attributes:
        n_train: number of training points.
        noise_std: :math:`\sigma`, the standard deviation of the label noise.
        train_error: per degree, the mean squared error on the training points
            (:math:`\hat R_n(\hat f_d)` on the data the fit saw).
        val_error: per degree, the mean squared error on ``n_val`` fresh noisy points.
        risk: per degree, the population risk
            :math:`R(\hat f_d) = \sigma^2 + \tfrac12\int_{-1}^{1} (\hat f_d(x) - f(x))^2\,dx`,
            the expected squared error on a new point; the integral is a mean over an
            evenly spaced grid.
    """

    n_train: int
    noise_std: float
    train_error: tuple[float, ...]
    val_error: tuple[float, ...]
    risk: tuple[float, ...]

    @property
    def degrees(self) -> range:
        """``range(max_degree + 1)``: the degree of each entry of the error tuples."""
        return range(len(self.train_error))

    @property
    def best_degree(self) -> int:
        """The degree with the lowest validation error: the one a validation set would choose."""
        return min(self.degrees, key=self.val_error.__getitem__)

    @property
    def best_risk_degree(self) -> int:
        """The degree with the lowest population risk: the one an oracle would choose."""
        return min(self.degrees, key=self.risk.__getitem__)


def degree_sweep(
    f: Callable[[torch.Tensor], torch.Tensor],
    max_degree: int,
    *,
    n_train: int,
    n_val: int = 1000,
    noise_std: float = 0.2,
    n_grid: int = 2001,
    seed: int = 0,
) -> DegreeSweep:
    r"""Fit polynomials of every degree :math:`d = 0, \dots, D` to one noisy training set; measure each.

    Draw :math:`n` training inputs and :math:`m` validation inputs uniformly from
    :math:`[-1, 1]`, with labels :math:`y = f(x) + \varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, \sigma^2)`. For each degree :math:`d`,
    :func:`fit_polynomial` gives :math:`\hat f_d`, and

    .. math::

        \hat R_n(\hat f_d) = \frac1n \sum_{i=1}^n (y_i - \hat f_d(x_i))^2, \qquad
        \hat R_m^{\text{val}}(\hat f_d) = \frac1m \sum_{j=1}^m (y'_j - \hat f_d(x'_j))^2,

    .. math::

        R(\hat f_d) = \mathbb E_{x, \varepsilon}\big[(f(x) + \varepsilon - \hat f_d(x))^2\big]
        = \sigma^2 + \frac12 \int_{-1}^{1} \big(\hat f_d(x) - f(x)\big)^2 dx,

    the last integral taken as the mean over ``n_grid`` evenly spaced points. The
    validation error is an unbiased estimate of :math:`R(\hat f_d)` (the fit does not
    depend on the validation points); the training error is biased low. Everything
    in float64, from its own seeded generator (the global one is left alone).

    Args:
        f: the true function, applied to a float64 tensor of inputs.
        max_degree: :math:`D \ge 0`, the highest degree fitted.
        n_train: :math:`n \ge 1` training points.
        n_val: :math:`m \ge 1` validation points.
        noise_std: :math:`\sigma \ge 0`.
        n_grid: grid points for the risk integral (≥ 2).
        seed: seed of every draw.

    Returns: a :class:`DegreeSweep`, one entry per degree in each error tuple.

    >>> s = degree_sweep(lambda x: 1 - x + 2 * x ** 3, 5, n_train=50, noise_std=0.1, seed=0)
    >>> s.best_risk_degree, round(s.risk[3], 4)     # the true degree; sigma^2 = 0.01 plus the fit's error
    (3, 0.0135)
    >>> all(a >= b for a, b in zip(s.train_error, s.train_error[1:]))   # nested fits
    True
    """
    check_int("max_degree", max_degree, low=0)
    check_int("n_train", n_train, low=1)
    check_int("n_val", n_val, low=1)
    check_int("n_grid", n_grid, low=2)
    check_real("noise_std", noise_std, low=0.0, finite=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    x = torch.rand(n_train, generator=g, dtype=torch.float64) * 2 - 1
    y = f(x) + noise_std * torch.randn(n_train, generator=g, dtype=torch.float64)
    x_val = torch.rand(n_val, generator=g, dtype=torch.float64) * 2 - 1
    y_val = f(x_val) + noise_std * torch.randn(n_val, generator=g, dtype=torch.float64)
    grid = torch.linspace(-1, 1, n_grid, dtype=torch.float64)
    truth = f(grid)
    train, val, risk = [], [], []
    for d in range(max_degree + 1):
        w = fit_polynomial(x, y, d)
        train.append(((predict_polynomial(w, x) - y) ** 2).mean().item())
        val.append(((predict_polynomial(w, x_val) - y_val) ** 2).mean().item())
        risk.append(float(noise_std) ** 2 + ((predict_polynomial(w, grid) - truth) ** 2).mean().item())
    return DegreeSweep(n_train, float(noise_std), tuple(train), tuple(val), tuple(risk))


class ConfidenceInterval(NamedTuple):
    r"""A confidence interval :math:`[\text{low}, \text{high}]` for a proportion (it unpacks as a pair)."""

    low: float
    high: float


def accuracy_interval(correct: int, n: int, level: float = 0.95, method: str = "clopper-pearson") -> ConfidenceInterval:
    r"""A confidence interval for the true accuracy :math:`p`, from ``correct`` right answers on ``n`` test examples.

    On a test set drawn independently of the model, the number of correct answers is
    binomial, :math:`C \sim \mathrm{Bin}(n, p)`. With :math:`\delta = 1 - \text{level}`
    and :math:`c` the observed count:

    * ``"clopper-pearson"`` (exact): the :math:`p` not rejected by either one-sided
      binomial test at level :math:`\delta/2`,

      .. math::
          P_{p_{\text{low}}}(C \ge c) = \tfrac{\delta}{2}, \qquad
          P_{p_{\text{high}}}(C \le c) = \tfrac{\delta}{2},

      that is, the quantiles of beta distributions
      :math:`p_{\text{low}} = B^{-1}(\tfrac{\delta}{2};\, c,\, n - c + 1)` and
      :math:`p_{\text{high}} = B^{-1}(1 - \tfrac{\delta}{2};\, c + 1,\, n - c)`, with
      :math:`p_{\text{low}} = 0` when :math:`c = 0` and :math:`p_{\text{high}} = 1` when
      :math:`c = n`. Its coverage is at least ``level`` for every :math:`p` and :math:`n`
      (it is conservative: usually more).
    * ``"wilson"``: the :math:`p` with :math:`|\hat p - p| \le z \sqrt{p(1 - p)/n}`,
      :math:`\hat p = c/n` and :math:`z = \Phi^{-1}(1 - \delta/2)` the normal quantile:

      .. math::
          \frac{\hat p + \frac{z^2}{2n} \pm \frac{z}{\sqrt n}\sqrt{\hat p(1 - \hat p) + \frac{z^2}{4n}}}{1 + \frac{z^2}{n}},

      shorter, with coverage close to ``level`` on average but below it for some :math:`p`.

    Both equal :func:`scipy.stats.binomtest` ``(correct, n).proportion_ci(level, method)``
    (methods ``"exact"`` and ``"wilson"``) to about 1e-12; scipy finds the exact limits
    by root-finding, these are the beta quantiles.

    Args:
        correct: :math:`c`, the number of correct predictions, in :math:`[0, n]`.
        n: the number of test examples (≥ 1).
        level: the confidence level :math:`1 - \delta`, in :math:`(0, 1)`.
        method: ``"clopper-pearson"`` or ``"wilson"``.

    Returns: a :class:`ConfidenceInterval` ``(low, high)``.

    Taught in chapter 13 (Generalization).

    >>> low, high = accuracy_interval(90, 100)          # 90% on 100 examples
    >>> round(low, 4), round(high, 4)
    (0.8238, 0.951)
    >>> [round(v, 4) for v in accuracy_interval(9000, 10_000)]   # 90% on 10,000: ten times narrower
    [0.894, 0.9058]
    >>> accuracy_interval(0, 20, method="wilson").low
    0.0
    >>> accuracy_interval(101, 100)
    Traceback (most recent call last):
    ...
    ValueError: Invalid correct: 101 (expected an integer in [0, 100])
    """
    n = check_int("n", n, low=1)
    c = check_int("correct", correct, low=0, high=n)
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("method", method, ("clopper-pearson", "wilson"))
    from scipy import stats  # imported here, as in dlbook.claims: ``import dlbook`` stays quick

    delta = 1.0 - level
    if method == "clopper-pearson":
        low = 0.0 if c == 0 else float(stats.beta.ppf(delta / 2, c, n - c + 1))
        high = 1.0 if c == n else float(stats.beta.ppf(1 - delta / 2, c + 1, n - c))
        return ConfidenceInterval(low, high)
    z = float(stats.norm.ppf(1 - delta / 2))
    p_hat = c / n
    center = (p_hat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / math.sqrt(n) * math.sqrt(p_hat * (1 - p_hat) + z**2 / (4 * n)) / (1 + z**2 / n)
    return ConfidenceInterval(0.0 if c == 0 else center - half, 1.0 if c == n else center + half)


def hoeffding_radius(n: int, level: float = 0.95, *, k: int = 1) -> float:
    r"""The :math:`\varepsilon` with :math:`|\text{test accuracy} - \text{true accuracy}| \le \varepsilon` at confidence ``level``, for ``k`` models.

    A test accuracy is a mean of :math:`n` independent values in :math:`[0, 1]` (1 for a
    correct answer), so Hoeffding's inequality bounds its distance from its expectation,
    the true accuracy :math:`p`, whatever the distribution:

    .. math::
        P\big(|\hat p - p| \ge \varepsilon\big) \le 2 e^{-2 n \varepsilon^2}
        \quad\Longrightarrow\quad
        \varepsilon = \sqrt{\frac{\ln(2/\delta)}{2n}}, \qquad \delta = 1 - \text{level}.

    This holds for *one* model fixed before the test set was looked at. Judge
    :math:`k` models on the same test set (or one model revised :math:`k` times after
    looking at its test score) and keep the best, and the guarantee must cover all
    :math:`k` at once; the union bound spends :math:`\delta/k` on each:

    .. math::
        P\big(\max_{j \le k} |\hat p_j - p_j| \ge \varepsilon\big) \le 2k\, e^{-2 n \varepsilon^2}
        \quad\Longrightarrow\quad
        \varepsilon_k = \sqrt{\frac{\ln(2k/\delta)}{2n}}.

    The radius grows only like :math:`\sqrt{\ln k}`, but it grows: a test set reused
    for a hundred decisions certifies less than one used once. Equivalently, a radius
    :math:`\varepsilon` needs :math:`n \ge \ln(2k/\delta) / (2\varepsilon^2)` examples.

    Args:
        n: the number of test examples (≥ 1).
        level: the confidence level :math:`1 - \delta`, in :math:`(0, 1)`.
        k: the number of models (or evaluations) the test set judges (≥ 1).

    Returns: :math:`\varepsilon_k`, a float (it may exceed 1 for tiny :math:`n`, a bound
    that says nothing).

    Taught in chapter 13 (Generalization).

    >>> round(hoeffding_radius(10_000), 4)          # one model, 95%: within 1.4 points
    0.0136
    >>> round(hoeffding_radius(10_000, k=100), 4)   # the best of 100 models judged on it: 2 points
    0.0204
    >>> hoeffding_radius(10_000, level=1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid level: 1.0 (expected a number in (0, 1))
    """
    n = check_int("n", n, low=1)
    level = check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    k = check_int("k", k, low=1)
    delta = 1.0 - level
    return math.sqrt(math.log(2 * k / delta) / (2 * n))


def k_fold_indices(n: int, k: int, *, seed: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    r"""The ``k`` (training, validation) index splits of K-fold cross-validation of ``n`` examples.

    The indices :math:`0, \dots, n - 1`, shuffled when a ``seed`` is given, are cut into
    :math:`k` consecutive folds of nearly equal size: the first :math:`n \bmod k` folds
    hold :math:`\lfloor n/k \rfloor + 1` indices, the others :math:`\lfloor n/k \rfloor`.
    Split :math:`j` validates on fold :math:`j` and trains on the other :math:`k - 1`, so
    every example is validated on exactly once, by a model that did not train on it, and
    the :math:`k` validation scores average to the cross-validation estimate.

    These are exactly the splits of scikit-learn's
    ``KFold(n_splits=k, shuffle=seed is not None, random_state=seed).split(range(n))``:
    the shuffle is NumPy's ``RandomState(seed).permutation(n)``, the one ``KFold``
    makes, from a generator of its own (the global generators are left alone); both
    index tensors are sorted, as scikit-learn's.

    Args:
        n: the number of examples (≥ k).
        k: the number of folds (≥ 2).
        seed: ``None`` for folds of consecutive indices (no shuffle), or an integer in
            :math:`[0, 2^{32})` for shuffled folds.

    Returns: a list of ``k`` pairs ``(train_idx, val_idx)`` of ``torch.long`` tensors,
    ready to index the rows of a dataset's tensors.

    Taught in chapter 13 (Generalization).

    >>> for train_idx, val_idx in k_fold_indices(5, 2):     # folds of 3 and 2
    ...     print(train_idx.tolist(), val_idx.tolist())
    [3, 4] [0, 1, 2]
    [0, 1, 2] [3, 4]
    >>> [len(val) for _, val in k_fold_indices(10, 3, seed=0)]
    [4, 3, 3]
    >>> k_fold_indices(3, 4)
    Traceback (most recent call last):
    ...
    ValueError: Invalid k: 4 (expected an integer in [2, 3]: at most one fold per example)
    """
    n = check_int("n", n, low=2)
    k = check_int("k", k, low=2)
    if k > n:
        raise ValueError(f"Invalid k: {k} (expected an integer in [2, {n}]: at most one fold per example)")
    if seed is None:
        order = np.arange(n)
    else:
        order = np.random.RandomState(check_seed(seed)).permutation(n)  # KFold's shuffle, from its own generator
    sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    splits, start = [], 0
    for size in sizes:
        in_fold = np.zeros(n, dtype=bool)
        in_fold[order[start : start + size]] = True
        start += size
        train_idx, val_idx = np.flatnonzero(~in_fold), np.flatnonzero(in_fold)  # both sorted
        splits.append((torch.from_numpy(train_idx).long(), torch.from_numpy(val_idx).long()))
    return splits


def _check_degree(degree) -> None:
    check_int("degree", degree, low=0)


__all__ = [
    "accuracy_interval",
    "BiasVariance",
    "bias_variance_experiment",
    "ConfidenceInterval",
    "decompose",
    "degree_sweep",
    "DegreeSweep",
    "fit_polynomial",
    "hoeffding_radius",
    "k_fold_indices",
    "polynomial_features",
    "predict_polynomial",
]
