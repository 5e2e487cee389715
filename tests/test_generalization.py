"""dlbook.generalization: polynomial least squares against NumPy, and the bias–variance identity on real fits."""

import math

import numpy as np
import pytest
import torch

from dlbook.generalization import (
    bias_variance_experiment,
    decompose,
    degree_sweep,
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


def bump(x):
    return 1 / (1 + 4 * (x - 0.3) ** 2)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_train", [8, 40])
def test_degree_sweep_matches_numpy_lstsq(seed, n_train):
    """Redraw the sweep's data from the same generator, fit with NumPy, compare every error."""
    s = degree_sweep(bump, 9, n_train=n_train, n_val=200, noise_std=0.2, n_grid=301, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_train, generator=g, dtype=torch.float64) * 2 - 1).numpy()
    y = bump(torch.from_numpy(x)).numpy() + 0.2 * torch.randn(n_train, generator=g, dtype=torch.float64).numpy()
    xv = (torch.rand(200, generator=g, dtype=torch.float64) * 2 - 1).numpy()
    yv = bump(torch.from_numpy(xv)).numpy() + 0.2 * torch.randn(200, generator=g, dtype=torch.float64).numpy()
    grid = np.linspace(-1, 1, 301)
    for d in range(10):
        w = np.linalg.lstsq(np.vander(x, d + 1, increasing=True), y, rcond=None)[0]
        def mse(u, v):
            return float(np.mean((np.polynomial.polynomial.polyval(u, w) - v) ** 2))
        # an underdetermined fit (more coefficients than points) interpolates: training error ~0
        atol = 1e-9 if d + 1 >= n_train else 0
        assert s.train_error[d] == pytest.approx(mse(x, y), rel=1e-7, abs=atol)
        assert s.val_error[d] == pytest.approx(mse(xv, yv), rel=1e-6)
        assert s.risk[d] == pytest.approx(0.04 + mse(grid, bump(torch.from_numpy(grid)).numpy()), rel=1e-6)


def test_degree_sweep_training_error_never_rises_with_degree():
    for seed in range(5):
        s = degree_sweep(bump, 12, n_train=30, seed=seed)
        assert all(a >= b - 1e-12 for a, b in zip(s.train_error, s.train_error[1:]))
        assert s.best_degree == int(np.argmin(s.val_error))
        assert s.best_risk_degree == int(np.argmin(s.risk))


def test_training_error_is_biased_low_by_the_degrees_of_freedom():
    """Well specified (a cubic truth, degree 3 fitted): E[training error] = sigma^2 (1 - p/n), E[risk] > sigma^2."""
    n, p, sigma = 12, 4, 0.5
    sweeps = [degree_sweep(lambda x: 1 - x + 2 * x ** 3, 3, n_train=n, n_val=50, noise_std=sigma, seed=s)
              for s in range(2000)]
    train = np.array([s.train_error[3] for s in sweeps])
    val = np.array([s.val_error[3] for s in sweeps])
    risk = np.array([s.risk[3] for s in sweeps])
    expected = sigma ** 2 * (1 - p / n)
    assert abs(train.mean() - expected) < 4 * train.std() / np.sqrt(len(train))
    assert train.mean() < sigma ** 2 < risk.mean()
    # fresh data is unbiased for each fixed fit: the mean of (validation - risk) is zero within its error
    diff = val - risk
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(len(diff))


def test_more_data_moves_the_best_degree_up():
    small = [degree_sweep(bump, 14, n_train=20, seed=s).best_degree for s in range(10)]
    large = [degree_sweep(bump, 14, n_train=1000, seed=s).best_degree for s in range(10)]
    assert np.mean(large) > np.mean(small) + 2


def test_degree_sweep_repeats_from_its_seed():
    a = degree_sweep(bump, 5, n_train=20, seed=3)
    assert a == degree_sweep(bump, 5, n_train=20, seed=3)
    assert a != degree_sweep(bump, 5, n_train=20, seed=4)
    assert list(a.degrees) == list(range(6))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_degree": -1}, ValueError, "Invalid max_degree: -1"),
    ({"n_train": 0}, ValueError, "Invalid n_train: 0"),
    ({"n_val": 0}, ValueError, "Invalid n_val: 0"),
    ({"n_grid": 1}, ValueError, "Invalid n_grid: 1"),
    ({"noise_std": -1.0}, ValueError, "Invalid noise_std: -1.0"),
    ({"noise_std": math.inf}, ValueError, "Invalid noise_std: inf"),
    ({"max_degree": 3.0}, TypeError, "Invalid max_degree: 3.0"),
    ({"n_train": "20"}, TypeError, "Invalid n_train: '20'"),
])
def test_degree_sweep_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        degree_sweep(bump, **({"max_degree": 3, "n_train": 20} | kwargs))


def test_docstrings_hold_no_control_characters():
    """A LaTeX escape like \\frac or \\varepsilon in a non-raw string becomes a form feed or a vertical tab."""
    import inspect

    import dlbook.generalization as module

    texts = [module.__doc__] + [inspect.getdoc(getattr(module, name)) for name in module.__all__]
    for text in texts:
        bad = sorted({hex(ord(c)) for c in text if ord(c) < 32 and c != "\n"})
        assert not bad, bad


# --------------------------------------------------------------------------- global random state
# Both experiments draw from a torch.Generator of their own: the global generators are left exactly
# as they were, the same seed repeats, another seed differs, and seeding the global generator
# changes nothing.

from rng_guard import leaves_global_rng_alone  # noqa: E402

EXPERIMENTS = {
    "bias_variance_experiment": lambda seed: bias_variance_experiment(sin_pi, 3, n_train=10, n_sets=20, n_test=15, seed=seed),
    "degree_sweep": lambda seed: degree_sweep(sin_pi, 4, n_train=15, n_val=30, n_grid=50, seed=seed),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiments_repeat_from_their_seed_and_leave_every_global_generator_alone(name):
    run = EXPERIMENTS[name]
    torch.manual_seed(0)
    with leaves_global_rng_alone():
        a, b, c = run(3), run(3), run(4)
    torch.manual_seed(1)  # the global generator plays no part
    assert a == b == run(3) and a != c
