"""Seeding and device selection."""

import random

import numpy as np
import pytest
import torch

import dlbook


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    dlbook.seed_everything(7)
    first = draw()
    dlbook.seed_everything(7)
    assert draw() == first
    dlbook.seed_everything(8)
    assert draw() != first


@pytest.mark.parametrize("bad,error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="Invalid seed"):  # a float (or bool) where an integer belongs is a wrong type: TypeError, as everywhere in dlbook
        dlbook.seed_everything(bad)


def test_get_device_respects_environment(monkeypatch):
    monkeypatch.setenv("DLBOOK_DEVICE", "cpu")
    assert dlbook.get_device() == torch.device("cpu")
    monkeypatch.setenv("DLBOOK_DEVICE", "gpu")
    with pytest.raises(ValueError, match="'gpu'"):
        dlbook.get_device()


@pytest.fixture
def machine(monkeypatch):
    """Play a machine with or without CUDA and MPS: ``machine(cuda=..., mps=...)``."""
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)

    def play(*, cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return play


@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_get_device_prefers_cuda_then_mps_then_the_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert dlbook.get_device() == torch.device(expected)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_an_explicit_choice_overrides_the_rule_and_must_exist(machine, monkeypatch, how):
    def choose(name):
        if how == "argument":
            return dlbook.get_device(name)
        monkeypatch.setenv("DLBOOK_DEVICE", name)
        return dlbook.get_device()

    machine(cuda=True, mps=True)
    assert choose("cpu") == torch.device("cpu") and choose("mps") == torch.device("mps")
    machine(cuda=False, mps=False)
    for name in ("cuda", "mps"):
        with pytest.raises(ValueError, match=f"Invalid device: '{name}'"):
            choose(name)


def test_the_argument_wins_over_the_environment(machine, monkeypatch):
    machine(cuda=False, mps=False)
    monkeypatch.setenv("DLBOOK_DEVICE", "cuda")  # would be an error here
    assert dlbook.get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="checks the real answer on a machine with CUDA")
def test_get_device_finds_this_machines_gpu(monkeypatch):
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
    assert dlbook.get_device() == torch.device("cuda")
    assert dlbook.describe_device().startswith("CUDA GPU (")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_asking_for_missing_cuda_is_an_error():
    with pytest.raises(ValueError, match="CUDA"):
        dlbook.get_device("cuda")


# --------------------------------------------------------------------------- global random state
# seed_everything is the one dlbook function that sets the global generators; every other
# function given a seed leaves them alone (tests/rng_guard.py, used by each module's tests).

from rng_guard import global_rng_state, leaves_global_rng_alone, moved, moves_only, stir  # noqa: E402


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_seed_everything_sets_every_global_generator_as_its_own_seeding_function_does(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CUDA's generators too, where there are any
    expected = global_rng_state()
    random.random(), np.random.rand(), torch.rand(2)
    with moves_only("torch", "cuda", "numpy", "random"):
        dlbook.seed_everything(seed)
    assert not moved(expected, global_rng_state())


@pytest.mark.parametrize("touch", [
    lambda: torch.rand(1), lambda: np.random.random(), lambda: random.random(),
    lambda: torch.manual_seed(0), lambda: np.random.seed(0), lambda: random.seed(0),  # a reseeding, even with the test's own seed
], ids=["torch draw", "numpy draw", "random draw", "torch reseed", "numpy reseed", "random reseed"])
def test_the_rng_guard_sees_any_global_generator_move(touch):
    dlbook.seed_everything(0)
    stir()  # else reseeding with 0 would put each generator back where it was
    with pytest.raises(AssertionError, match="global generators moved"):
        with leaves_global_rng_alone():
            touch()
    with leaves_global_rng_alone():
        torch.rand(1, generator=torch.Generator().manual_seed(0)), np.random.default_rng(0).random(), random.Random(0).random()
