"""dlbook.models: MLP construction, parameter counts and initialisation."""

import pytest
import torch
from torch import nn

import dlbook
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


# --------------------------------------------------------------------------- activations: one registry, every form


from dlbook import activations  # noqa: E402


@pytest.mark.parametrize("activation,kind", [
    ("relu", nn.ReLU), ("gelu", nn.GELU), ("identity", nn.Identity),
    (activations.relu, activations.Activation), (activations.gelu, activations.Activation),
    (torch.tanh, activations.Activation), (lambda x: x.clamp(min=0), activations.Activation),
    (nn.SiLU, nn.SiLU), (nn.LeakyReLU(0.2), nn.LeakyReLU), (lambda: nn.LeakyReLU(0.3), nn.LeakyReLU),
])
def test_mlp_takes_every_form_of_activation(activation, kind):
    model = mlp([6, 5, 4, 3], activation=activation)
    layers = [model[1], model[3]]
    assert all(type(layer) is kind for layer in layers) and layers[0] is not layers[1]  # one layer each, not shared
    assert model(torch.randn(2, 6)).shape == (2, 3)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_mlp_with_the_books_function_equals_mlp_with_its_name(name):
    """models and activations share one registry: each name's layer computes the activations module's function."""
    torch.manual_seed(0)
    by_name = mlp([6, 8, 3], activation=name)
    by_function = mlp([6, 8, 3], activation=activations.ACTIVATIONS[name])
    by_function.load_state_dict(by_name.state_dict())
    x = torch.randn(32, 6, dtype=torch.float64) * 3
    by_name.double(), by_function.double()
    torch.testing.assert_close(by_function(x), by_name(x))
    by_name(x).sum().backward()
    by_function(x).sum().backward()
    torch.testing.assert_close(by_function[0].weight.grad, by_name[0].weight.grad)


def test_every_name_mlp_accepts_is_in_the_activations_registry():
    assert set(activations.ACTIVATIONS) <= set(activations.LAYERS)
    for name in activations.LAYERS:
        mlp([2, 2, 2], activation=name)
    with pytest.raises(ValueError, match="Invalid activation: 'swish'"):
        mlp([2, 2, 2], activation="swish")


@pytest.mark.parametrize("bad", [3, None, lambda: "relu"])
def test_mlp_rejects_what_is_not_an_activation_with_a_type_error(bad):
    with pytest.raises(TypeError, match="Invalid activation"):
        mlp([2, 2, 2], activation=bad)


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "default"])
def test_initialize_with_a_seed_leaves_the_global_generator_alone(scheme):
    torch.manual_seed(5)
    a, b = mlp([20, 10, 5]), mlp([20, 10, 5])  # nn.Linear draws its own first weights from the global generator
    state = torch.get_rng_state()
    initialize(a, scheme, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    initialize(b, scheme, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    # the same weights as seeding the global generator by hand (the behaviour before seed stopped moving it)
    model = mlp([20, 10, 5])
    torch.manual_seed(3)
    c = initialize(model, scheme)
    for p, q in zip(a.parameters(), c.parameters()):
        assert torch.equal(p, q)


# --------------------------------------------------------------------------- global random state
# initialize(seed=s) draws from a generator of its own and leaves every global generator alone;
# initialize(seed=None) and mlp draw from torch's global generator exactly as torch's own
# nn.init functions and nn.Linear do (and touch neither NumPy's nor Python's).

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rng_guard import leaves_global_rng_alone, moves_only  # noqa: E402
from strategies import dtypes, laid_out, layouts, seeds  # noqa: E402

FAST = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
widths = st.lists(st.integers(1, 6), min_size=2, max_size=4)


def same_parameters(a, b):
    return all(p.dtype == q.dtype and torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "default"])
def test_initialize_with_a_seed_leaves_every_global_generator_alone_and_repeats(scheme):
    dlbook.seed_everything(0)
    a, b, c = (mlp([20, 10, 5]) for _ in range(3))
    with leaves_global_rng_alone():
        initialize(a, scheme, seed=3)
        initialize(b, scheme, seed=3)
        initialize(c, scheme, seed=4)
    assert same_parameters(a, b) and not same_parameters(a, c)


@FAST
@given(sizes=widths, scheme=st.sampled_from(["kaiming", "xavier", "default"]), scale=st.sampled_from([1.0, 0.5, 3.0]),
       dtype=dtypes, seed=seeds)
def test_initialize_with_a_seed_is_torchs_global_draw_after_manual_seed(sizes, scheme, scale, dtype, seed):
    """seed=s: its own generator, the global ones untouched; the weights are those of torch.manual_seed(s), seed=None."""
    ours, by_hand = mlp(sizes).to(dtype), mlp(sizes).to(dtype)
    with leaves_global_rng_alone():
        initialize(ours, scheme, scale=scale, seed=seed)
    torch.manual_seed(seed)
    with moves_only("torch"):  # seed=None: torch's global generator, as nn.init and nn.Linear use it
        initialize(by_hand, scheme, scale=scale)
    assert same_parameters(ours, by_hand)


@FAST
@given(sizes=widths, activation=st.sampled_from(["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "identity"]),
       batch_norm=st.booleans(), dropout=st.sampled_from([0.0, 0.3]), training=st.booleans(), n=st.integers(2, 5),
       layout=layouts, dtype=dtypes, seed=seeds)
def test_mlp_is_the_torch_sequential_it_describes(sizes, activation, batch_norm, dropout, training, n, layout, dtype, seed):
    """Built under the same global seed, mlp equals the hand-written nn.Sequential: same draws, weights,
    parameter count, outputs and gradients, for inputs in every layout and both float dtypes."""
    def by_hand():
        layers = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers += [nn.BatchNorm1d(d_out)] if batch_norm else []
                layers.append(activations.as_layer(activation))
                layers += [nn.Dropout(dropout)] if dropout else []
        return nn.Sequential(*layers)

    models, states = [], []
    for build in (lambda: mlp(sizes, activation=activation, batch_norm=batch_norm, dropout=dropout), by_hand):
        torch.manual_seed(seed)
        with moves_only("torch"):
            models.append(build().to(dtype).train(training))
        states.append(torch.get_rng_state())
    ours, theirs = models
    assert torch.equal(*states) and same_parameters(ours, theirs)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    hidden = sum(sizes[1:-1]) if batch_norm else 0
    assert count_parameters(ours) == count_parameters(theirs) == sum(a * b + b for a, b in zip(sizes, sizes[1:])) + 2 * hidden
    outputs = []
    for model in (ours, theirs):
        leaf, view = laid_out((n, sizes[0]), layout, dtype, seed)
        torch.manual_seed(seed)  # the same dropout masks
        y = model(view)
        (y * torch.linspace(0.5, 1.5, y.numel(), dtype=dtype).reshape(y.shape)).sum().backward()
        outputs.append((y, leaf.grad, [p.grad for p in model.parameters()]))
    (y_a, g_a, p_a), (y_b, g_b, p_b) = outputs
    assert y_a.dtype == dtype and torch.equal(y_a, y_b) and torch.equal(g_a, g_b)
    assert all(torch.equal(p, q) for p, q in zip(p_a, p_b))
