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

Taught in chapter 6 (Overfitting and underfitting) and chapter 13 (Generalization).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dlbook.validation import check_int, check_real, check_seed, check_tensor


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


def _check_degree(degree) -> None:
    check_int("degree", degree, low=0)


__all__ = [
    "BiasVariance",
    "bias_variance_experiment",
    "decompose",
    "degree_sweep",
    "DegreeSweep",
    "fit_polynomial",
    "polynomial_features",
    "predict_polynomial",
]
