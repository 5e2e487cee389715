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


# --------------------------------------------------------------------------- how far to trust a test accuracy (chapter 13)
# accuracy_interval against scipy.stats.binomtest(...).proportion_ci, hoeffding_radius's formula and its
# coverage by simulation (one model, and k models judged on one test set), k_fold_indices against
# scikit-learn's KFold, split for split.

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from dlbook.generalization import ConfidenceInterval, accuracy_interval, hoeffding_radius, k_fold_indices  # noqa: E402
from strategies import seeds  # noqa: E402

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
levels = st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]) | st.floats(0.01, 0.9999)
SCIPY_METHOD = {"clopper-pearson": "exact", "wilson": "wilson"}


@st.composite
def counts(draw, max_n=3000):
    """(correct, n): a test set of n examples, correct of them right, the ends 0 and n included."""
    n = draw(st.integers(1, max_n))
    return draw(st.sampled_from([0, n]) | st.integers(0, n)), n


@FAST
@given(counts=counts(), level=levels, method=st.sampled_from(["clopper-pearson", "wilson"]))
def test_accuracy_interval_equals_scipys_proportion_ci(counts, level, method):
    correct, n = counts
    ours = accuracy_interval(correct, n, level, method)
    theirs = stats.binomtest(correct, n).proportion_ci(confidence_level=level, method=SCIPY_METHOD[method])
    assert isinstance(ours, ConfidenceInterval) and type(ours.low) is float and type(ours.high) is float
    assert ours.low == pytest.approx(theirs.low, rel=0, abs=1e-12)
    assert ours.high == pytest.approx(theirs.high, rel=0, abs=1e-12)
    assert 0.0 <= ours.low <= correct / n <= ours.high <= 1.0
    assert (ours.low == 0.0) == (correct == 0) and (ours.high == 1.0) == (correct == n)


def binomial_coverage(n, ps, level, method):
    """For each p of ``ps``, P(p in the interval) when C ~ Bin(n, p): exact, a sum over the n + 1 possible counts."""
    low, high = np.array([accuracy_interval(c, n, level, method) for c in range(n + 1)]).T
    ps = np.asarray(ps)[:, None]
    covers = (low <= ps) & (ps <= high)  # (p, count)
    return (stats.binom.pmf(np.arange(n + 1), n, ps) * covers).sum(axis=1)


@pytest.mark.parametrize("n", [1, 7, 30, 100])
@pytest.mark.parametrize("level", [0.8, 0.95])
def test_clopper_pearson_covers_the_true_accuracy_at_least_level_for_every_p(n, level):
    coverage = binomial_coverage(n, np.linspace(0.001, 0.999, 999), level, "clopper-pearson")
    assert coverage.min() >= level - 1e-12


def test_wilson_is_shorter_than_clopper_pearson_and_covers_less_than_level_for_some_p():
    """Why the default is the exact interval: Wilson's coverage dips below the level (n = 30, 95%)."""
    n, level = 30, 0.95
    coverage = binomial_coverage(n, np.linspace(0.01, 0.99, 99), level, "wilson")
    assert coverage.min() < level - 0.01 < level < coverage.max()
    for c in range(n + 1):
        (a, b), (u, v) = accuracy_interval(c, n, level, "wilson"), accuracy_interval(c, n, level)
        assert b - a < v - u


@pytest.mark.parametrize("n", [1, 10, 300])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_clopper_pearson_with_no_correct_answer_is_one_minus_a_root(n, level):
    """c = 0: P_p(C <= 0) = (1 - p)^n = delta/2 gives high = 1 - (delta/2)^(1/n); c = n mirrors it."""
    high = 1 - ((1 - level) / 2) ** (1 / n)
    assert accuracy_interval(0, n, level) == pytest.approx((0.0, high), rel=0, abs=1e-14)
    assert accuracy_interval(n, n, level) == pytest.approx((1 - high, 1.0), rel=0, abs=1e-14)


@pytest.mark.parametrize("n", [1, 100, 10_000])
@pytest.mark.parametrize("level", [0.5, 0.95, 0.999])
@pytest.mark.parametrize("k", [1, 10, 1000])
def test_hoeffding_radius_is_the_formula(n, level, k):
    delta = 1 - level
    assert hoeffding_radius(n, level, k=k) == pytest.approx(math.sqrt(math.log(2 * k / delta) / (2 * n)), rel=1e-15)
    assert 2 * k * math.exp(-2 * n * hoeffding_radius(n, level, k=k) ** 2) == pytest.approx(delta, rel=1e-12)  # the bound, inverted


def test_hoeffding_radius_grows_with_k_and_level_and_shrinks_with_n():
    assert hoeffding_radius(1000) == hoeffding_radius(1000, 0.95, k=1)
    assert hoeffding_radius(1000, k=1) < hoeffding_radius(1000, k=2) < hoeffding_radius(1000, k=100)
    assert hoeffding_radius(1000, 0.9) < hoeffding_radius(1000, 0.99)
    assert hoeffding_radius(4000) == pytest.approx(hoeffding_radius(1000) / 2)  # 1 / sqrt(n)


@pytest.mark.parametrize("n", [10, 100, 1000])
@pytest.mark.parametrize("p", [0.5, 0.8, 0.97])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_hoeffding_radius_covers_the_true_accuracy_at_least_level_by_simulation(n, p, level):
    rng = np.random.default_rng(0)
    accuracy = rng.binomial(n, p, size=20_000) / n  # 20,000 test sets of n examples
    coverage = np.mean(np.abs(accuracy - p) <= hoeffding_radius(n, level))
    assert coverage >= level


@pytest.mark.parametrize("shared", [False, True], ids=["independent models", "one test set, correlated models"])
def test_union_bound_radius_covers_k_models_at_once_where_the_single_radius_does_not(shared):
    """Reusing a test set: k = 100 models of true accuracies p_j, judged on n = 1000 examples, 2,000 times over."""
    n, k, level, trials = 1000, 100, 0.95, 2000
    rng = np.random.default_rng(1)
    p = np.linspace(0.5, 0.6, k)
    if shared:  # the models err on the same hard examples: model j is right where the example's difficulty u < p_j
        u = rng.random((trials, n))
        first_right = np.searchsorted(p, u, side="right")  # u < p_j exactly for the models j >= first_right
        per_model = np.stack([np.bincount(row, minlength=k + 1) for row in first_right])
        accuracy = per_model.cumsum(axis=1)[:, :k] / n
    else:
        accuracy = rng.binomial(n, p, size=(trials, k)) / n
    worst = np.abs(accuracy - p).max(axis=1)  # the model furthest from its truth, per test set
    assert np.mean(worst <= hoeffding_radius(n, level, k=k)) >= level
    if not shared:  # independent models: the one-model radius misses some model in about half the test sets
        assert np.mean(worst <= hoeffding_radius(n, level)) < 0.7


@FAST
@given(n=st.integers(2, 60), k=st.integers(2, 60), seed=st.none() | seeds)
def test_k_fold_indices_equal_sklearn_kfold_and_partition_the_examples(n, k, seed):
    from rng_guard import leaves_global_rng_alone

    k = min(k, n)
    with leaves_global_rng_alone():
        splits = k_fold_indices(n, k, seed=seed)
    kfold = KFold(n_splits=k, shuffle=seed is not None, random_state=seed).split(np.zeros(n))
    assert len(splits) == k
    counted = np.zeros(n, dtype=int)
    for (train_idx, val_idx), (sk_train, sk_val) in zip(splits, kfold, strict=True):
        assert train_idx.dtype == val_idx.dtype == torch.long
        assert train_idx.tolist() == sk_train.tolist() and val_idx.tolist() == sk_val.tolist()
        assert sorted(train_idx.tolist() + val_idx.tolist()) == list(range(n))  # train is the complement
        counted[val_idx.numpy()] += 1
    assert (counted == 1).all()  # every example is validated on exactly once
    sizes = [len(val) for _, val in splits]
    assert sizes == [n // k + 1] * (n % k) + [n // k] * (k - n % k)


def test_k_fold_indices_repeat_from_their_seed_and_shuffle_only_with_one():
    def as_lists(splits):
        return [(a.tolist(), b.tolist()) for a, b in splits]

    assert as_lists(k_fold_indices(20, 4, seed=3)) == as_lists(k_fold_indices(20, 4, seed=3))
    assert as_lists(k_fold_indices(20, 4, seed=3)) != as_lists(k_fold_indices(20, 4, seed=4))
    assert [b.tolist() for _, b in k_fold_indices(6, 3)] == [[0, 1], [2, 3], [4, 5]]
    x = torch.arange(20.0)
    train, val = k_fold_indices(20, 4, seed=0)[0]
    assert x[train].shape == (15,) and x[val].shape == (5,)  # they index a tensor's rows


@pytest.mark.parametrize("call,error,match", [
    (lambda: accuracy_interval(5, 0), ValueError, "Invalid n: 0"),
    (lambda: accuracy_interval(-1, 10), ValueError, r"Invalid correct: -1 \(expected an integer in \[0, 10\]\)"),
    (lambda: accuracy_interval(11, 10), ValueError, "Invalid correct: 11"),
    (lambda: accuracy_interval(5.0, 10), TypeError, "Invalid correct: 5.0"),
    (lambda: accuracy_interval(5, 10.0), TypeError, "Invalid n: 10.0"),
    (lambda: accuracy_interval(5, 10, level=0.0), ValueError, "Invalid level: 0.0"),
    (lambda: accuracy_interval(5, 10, level=1.0), ValueError, "Invalid level: 1.0"),
    (lambda: accuracy_interval(5, 10, level=95), ValueError, "Invalid level: 95"),
    (lambda: accuracy_interval(5, 10, level="0.95"), TypeError, "Invalid level: '0.95'"),
    (lambda: accuracy_interval(5, 10, method="exact"), ValueError, "Invalid method: 'exact'"),
    (lambda: hoeffding_radius(0), ValueError, "Invalid n: 0"),
    (lambda: hoeffding_radius(100, level=1.5), ValueError, "Invalid level: 1.5"),
    (lambda: hoeffding_radius(100, level=float("nan")), ValueError, "Invalid level: nan"),
    (lambda: hoeffding_radius(100, k=0), ValueError, "Invalid k: 0"),
    (lambda: hoeffding_radius(100, k=2.0), TypeError, "Invalid k: 2.0"),
    (lambda: k_fold_indices(10, 1), ValueError, "Invalid k: 1"),
    (lambda: k_fold_indices(3, 4), ValueError, "Invalid k: 4"),
    (lambda: k_fold_indices(1, 2), ValueError, "Invalid n: 1"),
    (lambda: k_fold_indices(10, 2.0), TypeError, "Invalid k: 2.0"),
    (lambda: k_fold_indices(10, 2, seed=-1), ValueError, "Invalid seed: -1"),
    (lambda: k_fold_indices(10, 2, seed=1.5), TypeError, "Invalid seed: 1.5"),
])
def test_test_set_tools_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
