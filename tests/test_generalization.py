"""dlbook.generalization: polynomial least squares against NumPy, and the bias–variance identity on real fits."""

import math

import numpy as np
import pytest
import torch

from dlbook.generalization import (
    bias_variance_experiment,
    decompose,
    fit_polynomial,
    polynomial_features,
    predict_polynomial,
)


def sin_pi(x):
    return torch.sin(math.pi * x)


@pytest.mark.parametrize("degree", [0, 1, 3, 6])
@pytest.mark.parametrize("seed", range(3))
def test_fit_polynomial_matches_numpy_polyfit(degree, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, 25), rng.normal(size=25)
    ours = fit_polynomial(torch.from_numpy(x), torch.from_numpy(y), degree)
    theirs = np.polynomial.polynomial.polyfit(x, y, degree)  # lowest power first, like ours
    torch.testing.assert_close(ours, torch.from_numpy(theirs))
    torch.testing.assert_close(predict_polynomial(ours, torch.from_numpy(x)), torch.from_numpy(np.polynomial.polynomial.polyval(x, theirs)))


def test_more_coefficients_than_points_gives_an_interpolating_fit():
    x = torch.tensor([-0.5, 0.0, 0.7], dtype=torch.float64)
    y = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    coef = fit_polynomial(x, y, degree=5)
    torch.testing.assert_close(predict_polynomial(coef, x), y)


def test_polynomial_features_are_powers():
    x = torch.tensor([0.5, -2.0], dtype=torch.float64)
    torch.testing.assert_close(polynomial_features(x, 3), torch.tensor([[1, 0.5, 0.25, 0.125], [1, -2, 4, -8]], dtype=torch.float64))


@pytest.mark.parametrize("seed", range(3))
def test_bias2_plus_variance_is_the_mean_squared_distance_from_the_truth(seed):
    g = torch.Generator().manual_seed(seed)
    predictions = torch.randn(40, 15, generator=g, dtype=torch.float64) + 0.3
    truth = torch.randn(15, generator=g, dtype=torch.float64)
    bias2, variance = decompose(predictions, truth)
    assert bias2 + variance == pytest.approx(((predictions - truth) ** 2).mean().item(), rel=1e-12)
    assert variance == pytest.approx(predictions.var(dim=0, unbiased=False).mean().item(), rel=1e-12)


@pytest.mark.parametrize("degree", [0, 1, 3, 5, 7])
def test_decomposition_predicts_the_measured_test_error(degree):
    r = bias_variance_experiment(sin_pi, degree, n_train=30, n_sets=400, noise_std=0.3, seed=1)
    assert r.noise == pytest.approx(0.09)
    assert r.total == pytest.approx(r.test_error, rel=0.03)


def test_underfitting_is_bias_overfitting_is_variance():
    low = bias_variance_experiment(sin_pi, 1, n_train=30, n_sets=300, seed=0)
    right = bias_variance_experiment(sin_pi, 3, n_train=30, n_sets=300, seed=0)
    high = bias_variance_experiment(sin_pi, 9, n_train=30, n_sets=300, seed=0)
    assert low.bias2 > 5 * low.variance
    assert high.variance > 10 * high.bias2
    assert right.test_error < min(low.test_error, high.test_error)


def test_exact_model_without_noise_has_no_error():
    r = bias_variance_experiment(lambda x: 1 - 2 * x + x ** 3, 3, n_train=10, n_sets=5, noise_std=0.0)
    assert r.bias2 < 1e-20 and r.variance < 1e-20 and r.test_error < 1e-20


def test_experiment_repeats_from_its_seed():
    a = bias_variance_experiment(sin_pi, 4, n_sets=20, seed=3)
    assert a == bias_variance_experiment(sin_pi, 4, n_sets=20, seed=3)
    assert a != bias_variance_experiment(sin_pi, 4, n_sets=20, seed=4)


@pytest.mark.parametrize("kwargs,match", [
    ({"degree": -1}, "Invalid degree: -1"),
    ({"n_train": 0}, "Invalid n_train: 0"),
    ({"n_sets": 1}, "Invalid n_sets: 1"),
    ({"n_test": 0}, "Invalid n_test: 0"),
    ({"noise_std": -0.1}, "Invalid noise_std: -0.1"),
    ({"noise_std": math.nan}, "Invalid noise_std: nan"),
])
def test_experiment_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bias_variance_experiment(sin_pi, **({"degree": 2} | kwargs))


@pytest.mark.parametrize("kwargs,match", [
    ({"degree": 2.0}, "Invalid degree: 2.0"),  # a float (or bool) where an integer belongs is a wrong type: TypeError, as everywhere in dlbook
    ({"n_sets": "2"}, "Invalid n_sets: '2'"),
    ({"noise_std": "0.1"}, "Invalid noise_std: '0.1'"),
])
def test_experiment_rejects_arguments_of_the_wrong_type(kwargs, match):
    with pytest.raises(TypeError, match=match):
        bias_variance_experiment(sin_pi, **({"degree": 2} | kwargs))


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="Invalid shapes"):
        decompose(torch.zeros(3, 4), torch.zeros(5))
    with pytest.raises(ValueError, match="Invalid y"):
        fit_polynomial(torch.zeros(3), torch.zeros(4), 1)
    with pytest.raises(ValueError, match="Invalid x"):
        polynomial_features(torch.zeros(3, 1), 1)
