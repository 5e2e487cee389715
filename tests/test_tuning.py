"""dlbook.tuning: grid, random and TPE search share one interface, repeat from a seed, and reject bad spaces;
lr_find (the learning-rate range test) measures, stops and restores."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import dlbook
from dlbook.tuning import (
    LRFinderResult,
    SearchResult,
    Trial,
    grid_search,
    grid_values,
    lr_find,
    random_search,
    sample,
    tpe_search,
)

SPACE = {
    "lr": ("log", 1e-4, 1e-1),
    "width": ("logint", 16, 256),
    "layers": ("int", 1, 4),
    "dropout": ("uniform", 0.0, 0.5),
    "activation": ["relu", "tanh", "gelu"],
}


def bowl(params):
    """A smooth score with its maximum 0 at lr=1e-2, width=64, layers=2, dropout=0.1, activation=relu."""
    return -(
        (math.log10(params["lr"]) + 2) ** 2
        + (math.log2(params["width"]) - 6) ** 2
        + (params["layers"] - 2) ** 2
        + 10 * (params["dropout"] - 0.1) ** 2
        + (params["activation"] != "relu")
    )


def tpe(objective, space, n_trials, seed=0, **kw):
    return tpe_search(objective, space, n_trials, seed, n_startup_trials=5, **kw)


SEEDED = {"random": random_search, "tpe": tpe}


def in_space(params, space):
    assert list(params) == list(space)
    for name, spec in space.items():
        value = params[name]
        if isinstance(spec, list):
            assert value in spec
        else:
            kind, low, high = spec
            assert low <= value <= high
            assert isinstance(value, int) == (kind in ("int", "logint"))


# --------------------------------------------------------------------------- seeds and trials


@pytest.mark.parametrize("method", SEEDED)
def test_same_seed_gives_the_same_trials(method):
    search = SEEDED[method]
    a, b = search(bowl, SPACE, 15, seed=3), search(bowl, SPACE, 15, seed=3)
    assert a.trials == b.trials
    c = search(bowl, SPACE, 15, seed=4)
    assert [t.params for t in c.trials] != [t.params for t in a.trials]


@pytest.mark.parametrize("method", SEEDED)
@pytest.mark.parametrize("n_trials", [1, 2, 7])
def test_seeded_searches_run_exactly_n_trials_inside_the_space(method, n_trials):
    calls = []
    result = SEEDED[method](lambda p: calls.append(p) or bowl(p), SPACE, n_trials, seed=0)
    assert len(result.trials) == len(calls) == n_trials
    assert [t.number for t in result.trials] == list(range(n_trials))
    assert [t.params for t in result.trials] == calls  # recorded in the order they ran
    for t in result.trials:
        in_space(t.params, SPACE)
        assert t.value == bowl(t.params)


def test_grid_tries_the_product_of_choice_counts_in_product_order():
    space = {"a": [1, 2, 3], "b": ["x", "y"], "c": ("uniform", 0.0, 1.0), "d": ("log", 1e-3, 1e-1)}
    result = grid_search(lambda p: 0.0, space, points={"c": 2, "d": 3})
    assert len(result.trials) == 3 * 2 * 2 * 3
    assert [t.params for t in result.trials][:4] == [
        {"a": 1, "b": "x", "c": 0.0, "d": 0.001},
        {"a": 1, "b": "x", "c": 0.0, "d": pytest.approx(0.01)},
        {"a": 1, "b": "x", "c": 0.0, "d": 0.1},
        {"a": 1, "b": "x", "c": 1.0, "d": 0.001},
    ]
    assert len({tuple(t.params.values()) for t in result.trials}) == len(result.trials)


def test_grid_points_may_be_one_number_for_every_range():
    result = grid_search(lambda p: 0.0, {"x": ("uniform", 0.0, 1.0), "n": ("int", 1, 9)}, points=3)
    assert [(t.params["x"], t.params["n"]) for t in result.trials] == [
        (x, n) for x in (0.0, 0.5, 1.0) for n in (1, 5, 9)
    ]


@pytest.mark.parametrize("spec,points,expected", [
    (("uniform", 0.0, 1.0), 5, [0.0, 0.25, 0.5, 0.75, 1.0]),
    (("log", 1e-4, 1e-1), 4, [1e-4, 1e-3, 1e-2, 1e-1]),
    (("int", 0, 10), 3, [0, 5, 10]),
    (("int", 1, 2), 4, [1, 2]),               # narrow integer range: duplicates removed
    (("logint", 1, 1024), 6, [1, 4, 16, 64, 256, 1024]),
    (["a", "b"], None, ["a", "b"]),            # choices are used as they are
    (["a", "b"], 7, ["a", "b"]),
])
def test_grid_values_cover_the_range_including_both_ends(spec, points, expected):
    values = grid_values(spec, points)
    assert values == pytest.approx(expected) if not isinstance(spec, list) else values == expected
    if not isinstance(spec, list):
        assert values[0] == spec[1] and values[-1] == spec[2]


def test_grid_is_deterministic_and_needs_no_seed():
    a = grid_search(bowl_2, {"lr": ("log", 1e-4, 1e-1), "width": [32, 64]}, points=3)
    b = grid_search(bowl_2, {"lr": ("log", 1e-4, 1e-1), "width": [32, 64]}, points=3)
    assert a.trials == b.trials and a.method == "grid"


# --------------------------------------------------------------------------- best


@pytest.mark.parametrize("method", ["grid", "random", "tpe"])
@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_best_is_the_best_trial(method, direction):
    space = {"lr": ("log", 1e-4, 1e-1), "width": [16, 64, 256]}
    if method == "grid":
        result = grid_search(bowl_2, space, points=4, direction=direction)
    else:
        result = SEEDED[method](bowl_2, space, 12, seed=1, direction=direction)
    values = result.values
    chosen = max(values) if direction == "maximize" else min(values)
    assert result.best.value == chosen
    assert result.best is result.trials[values.index(chosen)]
    running = result.best_so_far()
    assert running[-1] == chosen and len(running) == len(values)
    pick = max if direction == "maximize" else min
    assert running == [pick(values[: i + 1]) for i in range(len(values))]


def bowl_2(params):
    return -((math.log10(params["lr"]) + 2) ** 2) - (math.log2(params["width"]) - 6) ** 2


def test_ties_go_to_the_earliest_trial_and_nan_ranks_last():
    r = SearchResult("x", "maximize", [Trial(0, {}, math.nan), Trial(1, {}, 1.0), Trial(2, {}, 1.0)])
    assert r.best.number == 1
    assert r.best_so_far()[1:] == [1.0, 1.0] and math.isnan(r.best_so_far()[0])
    assert SearchResult("x", "minimize", [Trial(0, {}, 2.0), Trial(1, {}, math.nan)]).best.number == 0
    with pytest.raises(ValueError, match="no trials"):
        SearchResult("x", "maximize", []).best


def test_tpe_learns_nothing_from_nan_trials_but_keeps_them():
    result = tpe(lambda p: math.nan if p["x"] > 0.5 else p["x"], {"x": ("uniform", 0.0, 1.0)}, 12)
    assert len(result.trials) == 12
    assert result.best.value == max(v for v in result.values if not math.isnan(v))


def test_tpe_beats_random_on_a_smooth_objective():
    """TPE should use its trials: on a smooth bowl its best after 40 trials beats random search's on most seeds."""
    space = {"x": ("uniform", -5.0, 5.0), "y": ("uniform", -5.0, 5.0)}
    f = lambda p: -(p["x"] - 1) ** 2 - (p["y"] + 2) ** 2  # noqa: E731
    wins = sum(tpe(f, space, 40, seed=s).best.value > random_search(f, space, 40, seed=s).best.value for s in range(5))
    assert wins >= 4


def test_tpe_leaves_optuna_logging_as_it_was():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO)
    tpe(lambda p: p["x"], {"x": ("uniform", 0.0, 1.0)}, 2)
    assert optuna.logging.get_verbosity() == optuna.logging.INFO
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_logint_sampling_reaches_both_ends():
    rng = np.random.default_rng(0)
    draws = [sample({"w": ("logint", 1, 4)}, rng)["w"] for _ in range(2000)]
    assert set(draws) == {1, 2, 3, 4}


# --------------------------------------------------------------------------- errors


def everything(space=SPACE, n_trials=3, seed=0, objective=bowl, direction="maximize"):
    """The same bad argument given to all three searches."""
    yield lambda: grid_search(objective, space, points=2, direction=direction)
    yield lambda: random_search(objective, space, n_trials, seed, direction=direction)
    yield lambda: tpe_search(objective, space, n_trials, seed, direction=direction)


@pytest.mark.parametrize("space,error,match", [
    ({}, ValueError, "empty"),
    ([("lr", [0.1])], TypeError, "Invalid space: list"),
    ({"lr": []}, ValueError, "'lr' has no choices"),
    ({"lr": ("log", 1e-3)}, ValueError, "expected a range"),
    ({"lr": ("exp", 1e-3, 1.0)}, ValueError, "unknown kind 'exp' for 'lr'"),
    ({"lr": ("log", 1.0, 0.1)}, ValueError, "low=1.0 >= high=0.1"),
    ({"lr": ("uniform", 0.5, 0.5)}, ValueError, "low=0.5 >= high=0.5"),
    ({"lr": ("log", 0.0, 1.0)}, ValueError, "needs low > 0"),
    ({"lr": ("log", -1.0, 1.0)}, ValueError, "needs low > 0"),
    ({"w": ("logint", 0, 8)}, ValueError, "needs low > 0"),
    ({"lr": ("uniform", 0.0, math.inf)}, ValueError, "finite"),
    ({"w": ("int", 1.5, 8)}, TypeError, "needs integers"),
    ({"lr": ("uniform", "0", 1.0)}, TypeError, "needs numbers"),
    ({"lr": 0.01}, TypeError, "'lr' is a float"),
    ({3: [1, 2]}, TypeError, "name 3"),
])
def test_malformed_spaces_are_rejected_by_every_search(space, error, match):
    for call in everything(space=space):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize("n_trials,error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_n_trials_below_one_or_not_an_integer_is_rejected(n_trials, error):
    for search in (random_search, tpe_search):
        with pytest.raises(error, match="Invalid n_trials"):  # a float (or bool) where an integer belongs is a wrong type: TypeError, as everywhere in dlbook
            search(bowl, SPACE, n_trials)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"objective": "train"}, TypeError, "Invalid objective"),
    ({"direction": "up"}, ValueError, "Invalid direction: 'up'"),
    ({"seed": -1}, ValueError, "Invalid seed"),
    ({"objective": lambda p: "high"}, TypeError, "Invalid objective value: 'high'"),
    ({"objective": lambda p: None}, TypeError, "Invalid objective value: None"),
])
def test_bad_objective_direction_or_seed_is_rejected(kwargs, error, match):
    calls = list(everything(**kwargs))
    if "seed" in kwargs:
        calls = calls[1:]  # the grid takes no seed
    for call in calls:
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize("points,match", [(None, "needs points >= 2"), (1, "needs points >= 2"), ({"lr": 3}, "'width'"), ({"lr": 3, "width": 2, "zz": 2}, "zz")])
def test_grid_needs_points_for_every_range(points, match):
    with pytest.raises(ValueError, match=match):
        grid_search(bowl_2, {"lr": ("log", 1e-4, 1e-1), "width": ("logint", 16, 256)}, points=points)


def test_tpe_rejects_bad_startup_count():
    with pytest.raises(ValueError, match="Invalid n_startup_trials: 0"):
        tpe_search(bowl, SPACE, 3, n_startup_trials=0)


_WORKER = """
import sys, time
from dlbook.tuning import tpe_search
def objective(p):
    time.sleep(0.01)  # let the two workers interleave
    return -(p["x"] - 0.3) ** 2
r = tpe_search(objective, {"x": ("uniform", 0.0, 1.0)}, n_trials=12, seed=int(sys.argv[2]),
               storage=sys.argv[1], study_name="shared", n_startup_trials=4)
print(len(r.trials))
"""


def test_two_worker_processes_share_one_sqlite_study_without_losing_a_trial(tmp_path):
    import os
    import subprocess
    import sys

    from dlbook.tuning import import_optuna

    url = f"sqlite:///{tmp_path / 'study.db'}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                       os.environ.get("PYTHONPATH", "")]))
    # create the study once, so the two workers do not race to create it
    tpe_search(lambda p: 0.0, {"x": ("uniform", 0.0, 1.0)}, n_trials=1, storage=url, study_name="shared")
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, url, str(seed)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in outs]
    optuna = import_optuna()
    study = optuna.load_study(study_name="shared", storage=url)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 1 + 2 * 12  # no trial lost
    assert sorted(t.number for t in finished) == list(range(25))  # none numbered twice
    # each worker saw at least its own trials and the first one
    assert all(int(out.strip()) >= 13 for out, _ in outs), outs


def test_storage_needs_a_url_and_a_study_name():
    with pytest.raises(ValueError, match="storage"):
        tpe_search(lambda p: 0.0, {"x": [1, 2]}, n_trials=1, storage="study.db", study_name="s")
    with pytest.raises(ValueError, match="study_name"):
        tpe_search(lambda p: 0.0, {"x": [1, 2]}, n_trials=1, storage="sqlite:///:memory:")


# --------------------------------------------------------------------------- lr_find


@pytest.fixture(scope="module")
def digits():
    return dlbook.data.load_digits()


def probe(digits, optimizer_class=torch.optim.SGD, **kwargs):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10])
    optimizer = optimizer_class(model.parameters(), lr=0.05)
    return model, optimizer, lr_find(model, optimizer, digits.train, **kwargs)


def test_lr_find_grows_the_learning_rate_geometrically_from_start_to_end(digits):
    _, _, result = probe(digits, start_lr=1e-5, end_lr=1e-1, num_steps=30)
    assert not result.diverged and len(result.lrs) == 30
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1e-1)
    ratios = torch.tensor(result.lrs[1:], dtype=torch.float64) / torch.tensor(result.lrs[:-1], dtype=torch.float64)
    torch.testing.assert_close(ratios, torch.full_like(ratios, 10 ** (4 / 29)))


def test_lr_find_losses_are_those_of_a_hand_written_loop_at_those_learning_rates(digits):
    _, _, result = probe(digits, start_lr=1e-3, end_lr=1.0, num_steps=40, batch_size=32, seed=3)
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    batches = dlbook.data.BatchIterator(*digits.train, batch_size=32, shuffle=True, seed=3)
    losses = []
    while len(losses) < 40:  # 34 batches per epoch: the test cycles into a second epoch
        for xb, yb in batches:
            if len(losses) == 40:
                break
            optimizer.param_groups[0]["lr"] = result.lrs[len(losses)]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    torch.testing.assert_close(torch.tensor(result.losses), torch.tensor(losses))


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.98])
def test_lr_find_smooths_with_a_bias_corrected_moving_average(digits, beta):
    _, _, result = probe(digits, num_steps=25, smoothing=beta)
    average, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        average = beta * average + (1 - beta) * loss
        expected.append(average / (1 - beta ** (i + 1)))
    torch.testing.assert_close(torch.tensor(result.smoothed, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64))
    assert result.smoothed[0] == pytest.approx(result.losses[0])  # bias correction: no pull towards 0


def test_lr_find_stops_when_the_smoothed_loss_exceeds_four_times_its_minimum(digits):
    _, _, result = probe(digits, torch.optim.Adam, start_lr=1e-4, end_lr=1e3, num_steps=200)
    assert result.diverged and len(result.lrs) < 200
    finite = [s for s in result.smoothed if math.isfinite(s)]
    assert not math.isfinite(result.smoothed[-1]) or result.smoothed[-1] > 4 * min(finite)
    assert all(s <= 4 * min(result.smoothed[: i + 1]) for i, s in enumerate(result.smoothed[:-1]))


def test_lr_find_suggests_the_steepest_descent_before_the_minimum(digits):
    _, _, result = probe(digits, torch.optim.Adam, start_lr=1e-5, end_lr=10.0, num_steps=150, batch_size=32)
    lowest = min(range(len(result.smoothed)), key=result.smoothed.__getitem__)
    assert result.min_loss_lr == result.lrs[lowest]
    assert result.lrs[0] <= result.suggested_lr < result.min_loss_lr
    i = result.lrs.index(result.suggested_lr)
    log_lr = [math.log10(lr) for lr in result.lrs]
    for j in range(1, lowest):  # no central-difference slope before the minimum is steeper
        slope_j = (result.smoothed[j + 1] - result.smoothed[j - 1]) / (log_lr[j + 1] - log_lr[j - 1])
        slope_i = (result.smoothed[i + 1] - result.smoothed[i - 1]) / (log_lr[i + 1] - log_lr[i - 1])
        assert slope_i <= slope_j + 1e-12


@pytest.mark.parametrize("optimizer_class", [torch.optim.SGD, torch.optim.Adam])
def test_lr_find_restores_weights_mode_and_optimizer_state(digits, optimizer_class):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10], batch_norm=True)  # buffers (running stats) too
    optimizer = optimizer_class(model.parameters(), lr=0.05)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, optimizer, digits.train, num_steps=20)
    assert isinstance(result, LRFinderResult) and len(result.losses) == 20
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.training
    assert optimizer.param_groups[0]["lr"] == 0.05 and not optimizer.state


@pytest.mark.parametrize("kwargs,error,match", [
    ({"start_lr": 0.0}, ValueError, "start_lr"),
    ({"start_lr": 1.0, "end_lr": 1.0}, ValueError, "end_lr"),
    ({"num_steps": 1}, ValueError, "num_steps"),
    ({"smoothing": 1.0}, ValueError, "smoothing"),
    ({"smoothing": -0.1}, ValueError, "smoothing"),
    ({"diverge_factor": 1.0}, ValueError, "diverge_factor"),
])
def test_lr_find_rejects_invalid_arguments(digits, kwargs, error, match):
    model = dlbook.models.mlp([64, 10])
    with pytest.raises(error, match=f"Invalid {match}"):
        lr_find(model, torch.optim.SGD(model.parameters(), lr=0.1), digits.train, **kwargs)


# --------------------------------------------------------------------------- global random state
# The seeded searches draw from generators of their own (NumPy's default_rng, Optuna's sampler
# seeded with seed), and lr_find puts torch's global generators back after its steps (a model
# with dropout draws its masks from them): none of them leaves a trace in the global generators.

import random  # noqa: E402

from rng_guard import leaves_global_rng_alone  # noqa: E402


@pytest.mark.parametrize("method", SEEDED)
def test_seeded_searches_leave_every_global_generator_alone_and_ignore_it(method):
    search = SEEDED[method]
    dlbook.seed_everything(0)
    with leaves_global_rng_alone():
        a = search(bowl, SPACE, 8, seed=3)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)  # the global generators play no part
    assert search(bowl, SPACE, 8, seed=3).trials == a.trials


def test_sample_draws_only_from_the_generator_it_is_given():
    with leaves_global_rng_alone():
        a, b = sample(SPACE, np.random.default_rng(5)), sample(SPACE, np.random.default_rng(5))
    assert a == b


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_lr_find_leaves_every_global_generator_as_it_found_it(digits, dropout):
    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 32, 10], dropout=dropout)

    def run(seed):
        return lr_find(model, torch.optim.SGD(model.parameters(), lr=0.05), digits.train, num_steps=12, seed=seed).losses

    with leaves_global_rng_alone():
        a, b, c = run(3), run(3), run(4)
    assert a == b and a != c  # with dropout, the same masks too: each call starts from the same global state


def test_a_run_after_lr_find_is_the_run_without_it(digits):
    def run(probe_first):
        dlbook.seed_everything(0)
        model = dlbook.models.mlp([64, 32, 10], dropout=0.3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        if probe_first:
            lr_find(model, optimizer, digits.train, num_steps=12)
        dlbook.train.fit(model, optimizer, digits.train, epochs=1, progress=False)  # batch order from the global generator
        return [p.detach().clone() for p in model.parameters()]

    assert all(torch.equal(p, q) for p, q in zip(run(False), run(True)))
