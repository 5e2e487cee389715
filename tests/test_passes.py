"""dlbook.passes: saved tensors seen by the graph walk and by the hooks agree; accumulation equals one big batch."""

import pytest
import torch
from torch import nn

from dlbook.models import mlp
from dlbook.passes import SavedTensorLog, accumulate_gradients, saved_tensors, storage_bytes


def forward(batch, hidden=16, features=8, classes=5, x_requires_grad=False, dtype=torch.float32):
    torch.manual_seed(0)
    model = mlp([features, hidden, classes]).to(dtype)
    x = torch.randn(batch, features, dtype=dtype, requires_grad=x_requires_grad)
    y = torch.randint(0, classes, (batch,))
    return model, x, y


def test_graph_walk_names_what_each_node_keeps():
    model, x, y = forward(7)
    loss = nn.functional.cross_entropy(model(x), y)
    listed = [(s.op, s.name, s.shape) for s in saved_tensors(loss)]
    assert listed == [
        ("NllLossBackward0", "self", (7, 5)),
        ("NllLossBackward0", "target", (7,)),
        ("NllLossBackward0", "total_weight", ()),
        ("LogSoftmaxBackward0", "result", (7, 5)),
        ("AddmmBackward0", "mat1", (7, 16)),     # the ReLU output, for dL/dW2
        ("AddmmBackward0", "mat2", (16, 5)),     # W2 transposed, for dL/dh
        ("ReluBackward0", "result", (7, 16)),
        ("AddmmBackward0", "mat1", (7, 8)),      # the input, for dL/dW1; W1 not kept: x needs no gradient
    ]


def test_first_layer_keeps_its_weight_only_when_the_input_needs_a_gradient():
    model, x, y = forward(7, x_requires_grad=True)
    saved = saved_tensors(nn.functional.cross_entropy(model(x), y))
    assert [(s.op, s.name, s.shape) for s in saved][-2:] == [("AddmmBackward0", "mat1", (7, 8)), ("AddmmBackward0", "mat2", (8, 16))]
    w1 = model[0].weight
    assert saved[-1].storage == w1.untyped_storage().data_ptr()  # a transposed view, no copy


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_hooks_and_graph_walk_see_the_same_tensors(batch):
    model, x, y = forward(batch)
    with SavedTensorLog() as log:
        loss = nn.functional.cross_entropy(model(x), y)
    walked = saved_tensors(loss)
    assert log.count == len(walked)
    assert sorted((r.shape, r.storage) for r in log.records) == sorted((s.shape, s.storage) for s in walked)
    assert log.nbytes() == storage_bytes(walked)


@pytest.mark.parametrize("hidden,classes", [(16, 5), (128, 10)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_activation_memory_is_batch_times_hidden_plus_classes(hidden, classes, dtype):
    """Besides parameters, input and targets, training keeps the ReLU output and the log-probabilities (and one scalar)."""
    for batch in (1, 10, 100):
        model, x, y = forward(batch, hidden=hidden, classes=classes, dtype=dtype)
        with SavedTensorLog() as log:
            nn.functional.cross_entropy(model(x), y)
        size = torch.finfo(dtype).bits // 8
        assert log.nbytes(exclude=[*model.parameters(), x, y]) == size * batch * (hidden + classes) + size


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_evaluation_modes_save_nothing(mode):
    model, x, y = forward(32)
    with SavedTensorLog() as log, mode():
        out = nn.functional.cross_entropy(model(x), y)
    assert log.count == 0 and log.nbytes() == 0
    assert out.grad_fn is None and saved_tensors(out) == []


def test_logging_does_not_change_the_gradients():
    model, x, y = forward(9)
    nn.functional.cross_entropy(model(x), y).backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with SavedTensorLog():
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    for p, g in zip(model.parameters(), plain):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


def test_graph_walk_after_backward_skips_freed_tensors():
    model, x, y = forward(4)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert saved_tensors(loss) == []


def test_storage_bytes_counts_each_storage_once():
    a = torch.zeros(10)
    log = SavedTensorLog()
    from dlbook.passes import SavedTensor

    log.records = [SavedTensor.of(a), SavedTensor.of(a[3:]), SavedTensor.of(a.view(2, 5))]
    assert log.count == 3 and log.nbytes() == 40 and log.nbytes(exclude=[a]) == 0
    assert log.records[1].nbytes == 28


# --------------------------------------------------------------------------- accumulation


def full_batch_gradients(model, x, y):
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("n,micro", [(12, 1), (12, 3), (12, 5), (12, 12), (12, 50), (37, 8)])
def test_accumulated_gradient_equals_the_full_batch_gradient(n, micro):
    torch.manual_seed(n)
    model = mlp([6, 10, 10, 4]).double()
    x, y = torch.randn(n, 6, dtype=torch.float64), torch.randint(0, 4, (n,))
    full_loss, full = full_batch_gradients(model, x, y)
    model.zero_grad()
    loss = accumulate_gradients(model, nn.functional.cross_entropy, x, y, micro)
    assert loss.item() == pytest.approx(full_loss, rel=1e-12)
    for p, g in zip(model.parameters(), full):
        torch.testing.assert_close(p.grad, g)


def test_scaling_by_one_over_k_is_wrong_for_unequal_micro_batches():
    """With micro-batches of 8, 8 and 4, averaging the three means weighs the last 4 examples double."""
    torch.manual_seed(0)
    model = mlp([6, 4]).double()
    x, y = torch.randn(20, 6, dtype=torch.float64), torch.randint(0, 4, (20,))
    _, full = full_batch_gradients(model, x, y)
    model.zero_grad()
    for start in range(0, 20, 8):
        (nn.functional.cross_entropy(model(x[start:start + 8]), y[start:start + 8]) / 3).backward()
    assert not torch.allclose(model[0].weight.grad, full[0])


def test_batch_norm_breaks_the_equality():
    torch.manual_seed(0)
    model = mlp([6, 10, 4], batch_norm=True).double()
    x, y = torch.randn(16, 6, dtype=torch.float64), torch.randint(0, 4, (16,))
    _, full = full_batch_gradients(model, x, y)
    model.zero_grad()
    accumulate_gradients(model, nn.functional.cross_entropy, x, y, 4)
    assert not torch.allclose(model[0].weight.grad, full[0])


def test_accumulation_adds_to_existing_gradients():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randint(0, 2, (6,))
    _, full = full_batch_gradients(model, x, y)
    accumulate_gradients(model, nn.functional.cross_entropy, x, y, 2)  # no zero_grad: adds a second copy
    torch.testing.assert_close(model.weight.grad, 2 * full[0])


@pytest.mark.parametrize("kwargs,error,match", [
    ({"micro_batch_size": 0}, ValueError, "micro_batch_size: 0"),
    ({"micro_batch_size": 2.0}, TypeError, "micro_batch_size: 2.0"),  # a float (or bool) where an integer belongs is a wrong type: TypeError, as everywhere in dlbook
    ({"model": "net"}, TypeError, "Invalid model"),
    ({"y": torch.zeros(3, dtype=torch.long)}, ValueError, "x has 4 rows and y has 3"),
])
def test_accumulate_rejects_bad_arguments(kwargs, error, match):
    args = {"model": nn.Linear(3, 2), "loss_fn": nn.functional.cross_entropy, "x": torch.randn(4, 3),
            "y": torch.zeros(4, dtype=torch.long), "micro_batch_size": 2} | kwargs
    with pytest.raises(error, match=match):
        accumulate_gradients(**args)


def test_saved_tensors_rejects_non_tensors():
    with pytest.raises(TypeError, match="Invalid output"):
        saved_tensors(3.0)


# --------------------------------------------------------------------------- Hypothesis: accumulation vs one full batch

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FAST = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = ["contiguous", "transposed", "rows sliced", "columns sliced", "expanded"]


def _laid_out(rows, cols, layout, dtype, gen):
    """A (rows, cols) tensor of N(0, 1) values stored in the given layout."""
    if layout == "transposed":
        return torch.randn(cols, rows, dtype=dtype, generator=gen).T
    if layout == "rows sliced":
        return torch.randn(2 * rows, cols, dtype=dtype, generator=gen)[1::2]
    if layout == "columns sliced":
        return torch.randn(rows, 2 * cols, dtype=dtype, generator=gen)[:, ::2]
    if layout == "expanded":     # every row the same, stride 0: a legal input torch accepts
        return torch.randn(1, cols, dtype=dtype, generator=gen).expand(rows, cols)
    return torch.randn(rows, cols, dtype=dtype, generator=gen)


@st.composite
def accumulation_cases(draw):
    n = draw(st.integers(1, 24))
    return {
        "n": n,
        "micro": draw(st.integers(1, n + 3)),
        "dtype": draw(st.sampled_from([torch.float32, torch.float64])),
        "x_layout": draw(st.sampled_from(LAYOUTS)),
        "loss": draw(st.sampled_from(["cross_entropy", "mse_loss"])),
        "y_layout": draw(st.sampled_from(["contiguous", "transposed", "rows sliced"])),
        "held": draw(st.booleans()),         # .grad already holds something (no zero_grad before)
        "seed": draw(st.integers(0, 2**16)),
    }


@FAST
@given(accumulation_cases())
def test_accumulated_gradients_equal_one_full_batch_backward_for_drawn_batches(case):
    n, dtype = case["n"], case["dtype"]
    gen = torch.Generator().manual_seed(case["seed"])
    with torch.random.fork_rng(devices=[]):   # mlp draws its weights from the global generator
        torch.manual_seed(case["seed"])
        model = mlp([5, 6, 3]).to(dtype)
    x = _laid_out(n, 5, case["x_layout"], dtype, gen)
    if case["loss"] == "cross_entropy":
        y = torch.randint(0, 3, (2 * n,), generator=gen)[::2] if case["y_layout"] == "rows sliced" \
            else torch.randint(0, 3, (n,), generator=gen)
    else:
        y = _laid_out(n, 3, case["y_layout"], dtype, gen)
    loss_fn = getattr(nn.functional, case["loss"])
    held = [torch.randn(p.shape, dtype=dtype, generator=gen) if case["held"] else None for p in model.parameters()]

    full = loss_fn(model(x.contiguous()), y.contiguous())        # the reference: one backward, dense inputs
    reference = torch.autograd.grad(full, list(model.parameters()))
    for p, h in zip(model.parameters(), held):
        p.grad = None if h is None else h.clone()
    loss = accumulate_gradients(model, loss_fn, x, y, case["micro"])

    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == torch.float64 else {"rtol": 2e-6, "atol": 2e-7}
    assert loss.dtype == torch.float64 and not loss.requires_grad
    torch.testing.assert_close(loss, full.detach().double(), **tol)
    for p, g, h in zip(model.parameters(), reference, held):
        assert p.grad.dtype == dtype and p.grad.shape == p.shape
        torch.testing.assert_close(p.grad, g if h is None else h + g, **tol)   # added to what .grad held
