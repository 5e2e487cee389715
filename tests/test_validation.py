"""dlbook.validation: one rule for bad arguments everywhere, and checks that never read tensor values on the host."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import dlbook
from dlbook import layers, losses
from dlbook.validation import check_choice, check_floating, check_int, check_real, check_seed, check_tensor, check_values


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("call,error", [
    (lambda: check_real("lr", "0.1"), TypeError),
    (lambda: check_real("lr", None), TypeError),
    (lambda: check_real("lr", True), TypeError),
    (lambda: check_real("lr", torch.tensor(0.1)), TypeError),
    (lambda: check_real("lr", -0.1, low=0), ValueError),
    (lambda: check_real("lr", float("nan"), low=0), ValueError),
    (lambda: check_real("lr", float("inf"), low=0, finite=True), ValueError),
    (lambda: check_real("p", 0.0, low=0, low_open=True), ValueError),
    (lambda: check_real("beta", 1.0, high=1, high_open=True), ValueError),
    (lambda: check_int("n", 2.0), TypeError),
    (lambda: check_int("n", 2.5), TypeError),
    (lambda: check_int("n", "2"), TypeError),
    (lambda: check_int("n", False), TypeError),
    (lambda: check_int("n", 0, low=1), ValueError),
    (lambda: check_int("n", 9, high=8), ValueError),
    (lambda: check_seed(-1), ValueError),
    (lambda: check_seed(2**32), ValueError),
    (lambda: check_seed(1.0), TypeError),
    (lambda: check_seed("0"), TypeError),
    (lambda: check_seed(True), TypeError),
    (lambda: check_choice("reduction", "avg", ("mean", "sum")), ValueError),
    (lambda: check_choice("reduction", ["mean"], ("mean", "sum")), ValueError),
    (lambda: check_tensor("x", [1.0]), TypeError),
    (lambda: check_tensor("x", np.ones(2)), TypeError),
    (lambda: check_floating("x", torch.tensor([1])), TypeError),
])
def test_a_wrong_type_is_a_type_error_and_a_wrong_value_a_value_error(call, error):
    with pytest.raises(error, match=r"^Invalid "):
        call()


def test_valid_values_come_back_converted():
    assert check_real("lr", 1) == 1.0 and type(check_real("lr", np.float32(0.5))) is float
    assert check_int("n", np.int64(3), low=1) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_seed(np.uint32(2**32 - 1)) == 2**32 - 1
    assert check_real("lr", float("inf"), low=0) == float("inf")  # infinity passes unless finite=True, as in torch


def test_messages_name_the_argument_and_the_value_in_torch_optims_style():
    with pytest.raises(ValueError) as info:
        check_real("lr", -0.1, low=0, label="learning rate", explain=False)
    with pytest.raises(ValueError) as torchs:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=-0.1)
    assert str(info.value) == str(torchs.value) == "Invalid learning rate: -0.1"
    with pytest.raises(ValueError, match=r"^Invalid eps: np\.float64|^Invalid eps: -1\.0 "):
        check_real("eps", np.float64(-1.0), low=0)


@pytest.mark.parametrize("name,call", [
    ("data.BatchIterator", lambda seed: dlbook.data.BatchIterator(torch.zeros(3), batch_size=1, seed=seed)),
    ("data.load_digits", lambda seed: dlbook.data.load_digits(seed=seed)),
    ("data.Splits.subset", lambda seed: dlbook.data.load_digits().subset(10, seed=seed)),
    ("reproducibility.seed_everything", lambda seed: dlbook.seed_everything(seed)),
    ("tuning.random_search", lambda seed: dlbook.tuning.random_search(lambda p: 0.0, {"w": [1]}, 1, seed=seed)),
    ("train.fit", lambda seed: dlbook.train.fit(torch.nn.Linear(1, 2), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
                                                 (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)), epochs=1, seed=seed)),
    ("tuning.lr_find", lambda seed: dlbook.tuning.lr_find(torch.nn.Linear(1, 2), torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1),
                                                                (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)), num_steps=2, seed=seed)),
    ("models.initialize", lambda seed: dlbook.models.initialize(torch.nn.Linear(2, 2), seed=seed)),
    ("generalization.bias_variance_experiment", lambda seed: dlbook.generalization.bias_variance_experiment(torch.sin, 1, n_sets=2, seed=seed)),
])
@pytest.mark.parametrize("seed,error", [(2**32, ValueError), (-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_every_seed_follows_one_rule(name, call, seed, error):
    with pytest.raises(error, match="Invalid seed"):
        call(seed)


@pytest.mark.parametrize("name,call", [
    ("data.BatchIterator", lambda seed: dlbook.data.BatchIterator(torch.zeros(3), batch_size=1, seed=seed)),
    ("data.Splits.subset", lambda seed: dlbook.data.load_digits().subset(10, seed=seed)),
    ("tuning.random_search", lambda seed: dlbook.tuning.random_search(lambda p: 0.0, {"w": [1]}, 1, seed=seed)),
    ("models.initialize", lambda seed: dlbook.models.initialize(torch.nn.Linear(2, 2), seed=seed)),
])
def test_the_largest_seed_is_accepted_everywhere(name, call):
    call(2**32 - 1)


# --------------------------------------------------------------------------- no host reads

_HOST_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")


@contextlib.contextmanager
def no_host_reads(monkeypatch):
    """Make every way of reading a tensor's value on the host raise.

    On a GPU each of these waits for the device (a synchronisation); on the CPU they are
    free, so the tests here make them fail instead, to show that a step never calls them.
    """
    def forbidden(name):
        def read(self, *args, **kwargs):
            raise AssertionError(f"tensor.{name}() read a value on the host")
        return read

    with monkeypatch.context() as m:
        for name in _HOST_READS:
            m.setattr(torch.Tensor, name, forbidden(name))
        yield


def test_the_host_read_detector_detects(monkeypatch):
    with no_host_reads(monkeypatch), pytest.raises(AssertionError, match="host"):
        bool(torch.ones(1) > 0)
    with no_host_reads(monkeypatch), pytest.raises(AssertionError, match="host"):
        torch.ones(1).item()


LOSS_CALLS = {
    "cross_entropy": (losses.cross_entropy, lambda: (torch.randn(6, 4), torch.randint(0, 4, (6,))), 1),
    "binary_cross_entropy": (losses.binary_cross_entropy, lambda: (torch.rand(6, 2), torch.rand(6, 2)), 2),
    "binary_cross_entropy_with_logits": (losses.binary_cross_entropy_with_logits, lambda: (torch.randn(6, 2), torch.rand(6, 2)), 0),
    "mse_loss": (losses.mse_loss, lambda: (torch.randn(6, 2), torch.randn(6, 2)), 0),
    "l1_loss": (losses.l1_loss, lambda: (torch.randn(6, 2), torch.randn(6, 2)), 0),
}


@pytest.mark.parametrize("name", LOSS_CALLS)
def test_losses_read_values_only_through_check_values(name, monkeypatch):
    """Forward and backward read no tensor value on the host; the value checks go through check_values,
    which reads them on the CPU only (and on CUDA queues a device-side assertion)."""
    fn, make, n_checks = LOSS_CALLS[name]
    checked = []
    monkeypatch.setattr(losses, "check_values", lambda condition, message: checked.append(message))
    x, y = make()
    x.requires_grad_(True)
    with no_host_reads(monkeypatch):
        fn(x, y).backward()
    assert len(checked) == n_checks and all(m.startswith("Invalid ") for m in checked)


@pytest.mark.parametrize("name,bad", [
    ("cross_entropy", (torch.zeros(2, 3), torch.tensor([0, 3]))),
    ("cross_entropy", (torch.zeros(2, 3), torch.tensor([-1, 0]))),
    ("binary_cross_entropy", (torch.tensor([1.5]), torch.tensor([1.0]))),
    ("binary_cross_entropy", (torch.tensor([float("nan")]), torch.tensor([1.0]))),
    ("binary_cross_entropy", (torch.tensor([0.5]), torch.tensor([-0.5]))),
])
def test_value_checks_still_raise_on_the_cpu(name, bad):
    with pytest.raises(ValueError, match="Invalid (target|probs)"):
        getattr(losses, name)(*bad)


def test_check_values_on_other_devices_reads_nothing():
    check_values(torch.zeros(3, dtype=torch.bool, device="meta"), "never raised: meta tensors hold no values")


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_training_step_reads_no_value_on_the_host(momentum, monkeypatch):
    torch.manual_seed(0)
    ours = layers.BatchNorm1d(3, momentum=momentum).double()
    theirs = torch.nn.BatchNorm1d(3, momentum=momentum).double()
    for _ in range(4):
        x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
        with no_host_reads(monkeypatch):
            ours(x).sum().backward()
        theirs(x.detach())  # torch's module reads float(num_batches_tracked) when momentum is None
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_training_step_on_cuda_does_not_synchronise():
    """Under torch.cuda.set_sync_debug_mode("error") any host synchronisation raises."""
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), layers.BatchNorm1d(8, momentum=None), torch.nn.ReLU(), torch.nn.Linear(8, 3)).to(device)
    optimizer = dlbook.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randn(16, 4, device=device), torch.randint(0, 3, (16,), device=device)
    p, t = torch.rand(16, device=device), torch.rand(16, device=device)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            optimizer.zero_grad()
            out = model(x)
            loss = losses.cross_entropy(out, y) + losses.binary_cross_entropy(p, t) + losses.mse_loss(out, out.detach() + 1)
            loss.backward()
            optimizer.step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(loss).item()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_bad_class_index_on_cuda_fails_at_the_next_synchronisation():
    """The device-side assertion corrupts the CUDA context, so it runs in a process of its own."""
    code = textwrap.dedent("""
        import torch
        from dlbook import losses
        loss = losses.cross_entropy(torch.zeros(2, 3, device="cuda"), torch.tensor([0, 3], device="cuda"))
        print("queued")
        try:
            torch.cuda.synchronize()
        except RuntimeError as error:
            print("raised:", "class indices" in str(error) or "device-side assert" in str(error))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "queued" in result.stdout, result.stderr
    assert "raised: True" in result.stdout or "device-side assert" in result.stderr, result.stdout + result.stderr



# --------------------------------------------------------------------------- random state


def _global_states():
    import random

    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


_tiny = (torch.randn(20, 3), torch.randint(0, 2, (20,)))


def _model_and_sgd():
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


#: name -> prepare(), which makes the arguments (drawing from the global generators if it likes)
#: and returns the call to check.
SEEDED = {
    "data.BatchIterator": lambda: lambda: list(dlbook.data.BatchIterator(*_tiny, batch_size=4, shuffle=True, seed=1)),
    "data.load_digits": lambda: lambda: dlbook.data.load_digits(seed=1),
    "data.Splits.subset": lambda: (lambda s: lambda: s.subset(10, seed=1))(dlbook.data.load_digits()),
    "train.fit(seed=...)": lambda: (lambda m, o: lambda: dlbook.train.fit(m, o, _tiny, epochs=2, seed=1))(*_model_and_sgd()),
    "tuning.lr_find": lambda: (lambda m, o: lambda: dlbook.tuning.lr_find(m, o, _tiny, num_steps=4, batch_size=8, seed=1))(*_model_and_sgd()),
    "models.initialize": lambda: (lambda m: lambda: dlbook.models.initialize(m, "kaiming", seed=1))(torch.nn.Linear(3, 2)),
    "augment.random_affine(generator=...)": lambda: (lambda a, x: lambda: a(x))(
        dlbook.augment.random_affine((2, 2), generator=torch.Generator().manual_seed(1)), torch.rand(3, 4)),
    "tuning.random_search": lambda: lambda: dlbook.tuning.random_search(lambda p: p["x"], {"x": ("uniform", 0.0, 1.0)}, 3, seed=1),
    "generalization.bias_variance_experiment": lambda: lambda: dlbook.generalization.bias_variance_experiment(torch.sin, 1, n_sets=3, seed=1),
}


@pytest.mark.parametrize("name", SEEDED)
def test_a_function_that_takes_a_seed_leaves_the_global_generators_alone(name):
    """torch's, NumPy's and Python's global generators are neither reseeded nor advanced."""
    dlbook.seed_everything(123)
    call = SEEDED[name]()
    before = _global_states()
    call()
    after = _global_states()
    assert torch.equal(before[0], after[0]), f"{name} moved torch's global generator"
    assert np.array_equal(before[1], after[1]), f"{name} moved NumPy's global generator"
    assert before[2] == after[2], f"{name} moved Python's random"
