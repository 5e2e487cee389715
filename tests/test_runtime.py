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


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        dlbook.seed_everything(bad)


def test_get_device_respects_environment(monkeypatch):
    monkeypatch.setenv("DLBOOK_DEVICE", "cpu")
    assert dlbook.get_device() == torch.device("cpu")
    monkeypatch.setenv("DLBOOK_DEVICE", "gpu")
    with pytest.raises(ValueError, match="'gpu'"):
        dlbook.get_device()


def test_get_device_picks_cuda_when_present(monkeypatch):
    monkeypatch.delenv("DLBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert dlbook.get_device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_asking_for_missing_cuda_is_an_error():
    with pytest.raises(ValueError, match="CUDA"):
        dlbook.get_device("cuda")
