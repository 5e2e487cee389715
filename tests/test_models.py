"""dlbook.models: MLP construction, parameter counts and initialisation."""

import pytest
import torch
from torch import nn

from dlbook.models import count_parameters, initialize, mlp


@pytest.mark.parametrize("sizes", [[784, 10], [784, 128, 10], [784, 1024, 1024, 10], [64, 32, 32, 32, 10]])
def test_count_parameters_is_sum_of_weights_and_biases(sizes):
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert count_parameters(mlp(sizes)) == expected


def test_count_parameters_trainable_only_and_shared():
    lin = nn.Linear(3, 3)
    shared = nn.Sequential(lin, nn.ReLU(), lin)
    assert count_parameters(shared) == 12
    lin.bias.requires_grad_(False)
    assert count_parameters(shared) == 9
    assert count_parameters(shared, trainable_only=False) == 12


def test_mlp_layers_and_options():
    model = mlp([8, 6, 4, 2], activation="tanh", dropout=0.3, batch_norm=True)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert model(torch.randn(5, 8)).shape == (5, 2)


@pytest.mark.parametrize("kwargs,match", [({"sizes": [10]}, "sizes"), ({"sizes": [10, 0]}, "sizes"), ({"sizes": [4, 2], "activation": "swish"}, "activation"), ({"sizes": [4, 2], "dropout": 1.0}, "dropout")])
def test_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp(**kwargs)


@pytest.mark.parametrize("scheme,std", [("kaiming", lambda i, o: (2 / i) ** 0.5), ("xavier", lambda i, o: (2 / (i + o)) ** 0.5)])
def test_initialize_draws_the_documented_variance(scheme, std):
    model = initialize(mlp([400, 300, 200]), scheme, seed=0)
    for layer in (model[0], model[2]):
        i, o = layer.in_features, layer.out_features
        assert layer.weight.std().item() == pytest.approx(std(i, o), rel=0.03)
        assert torch.count_nonzero(layer.bias) == 0
    scaled = initialize(mlp([400, 300]), scheme, scale=2.0, seed=0)
    assert scaled[0].weight.std().item() == pytest.approx(2 * std(400, 300), rel=0.03)
