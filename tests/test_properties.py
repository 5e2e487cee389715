"""Property-based tests (Hypothesis): statements that must hold for every input, checked on many drawn ones.

* BatchIterator: for any N, batch size, drop_last and shuffle, the batches partition the rows.
* Every loss and activation equals torch's, in value and gradient, for random shapes, both
  float dtypes and every memory layout (contiguous, transposed, sliced with a stride,
  expanded from a smaller tensor), and its gradient equals finite differences (gradcheck).
* IDX parsing: arbitrary bytes in a data file give a DataError (or a valid dataset), never
  another exception.

Each test draws a modest number of examples (``max_examples``) with no per-example
deadline, so the whole file runs in well under a minute. The draws are derandomized
(the same examples on every run, in CI too) and no example database is written.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import data, losses
from test_activations import CASES as ACTIVATION_PAIRS  # dlbook's activations beside torch's, one table

# No example database: a run leaves no .hypothesis/ folder in the repository, and CI and a
# laptop draw the same way (derandomize: each test's examples follow from its own code).
settings.register_profile("dlbook", database=None, derandomize=True, deadline=None)
settings.load_profile("dlbook")
FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([torch.float32, torch.float64])
layouts = st.sampled_from(["contiguous", "transposed", "strided", "expanded"])
reductions = st.sampled_from(["mean", "sum", "none"])


# --------------------------------------------------------------------------- BatchIterator


@FAST
@given(n=st.integers(0, 70), batch_size=st.integers(1, 80), drop_last=st.booleans(), shuffle=st.booleans(),
       seed=seeds, blocks=st.booleans())
def test_batches_partition_the_rows(n, batch_size, drop_last, shuffle, seed, blocks):
    """Every row at most once, paired with its target; all of them unless drop_last; full batches but the last."""
    x = torch.arange(n, dtype=torch.float64).unsqueeze(1).repeat(1, 3)
    y = torch.arange(n)
    # blocks=True takes the large-data path (a gather per block of batches) on these small tensors
    with mock.patch.object(data.batches, "_BLOCK_BYTES", 48 if blocks else data.batches._BLOCK_BYTES):
        it = data.BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
        epochs = [list(it), list(it)]
    kept = n - n % batch_size if drop_last else n
    for batches in epochs:
        assert len(batches) == len(it) == (n // batch_size if drop_last else -(-n // batch_size))
        sizes = [len(yb) for _, yb in batches]
        assert all(s == batch_size for s in sizes[:-1]) and (not sizes or 1 <= sizes[-1] <= batch_size)
        assert sum(sizes) == kept
        for xb, yb in batches:
            assert torch.equal(xb[:, 0].long(), yb)  # rows stay with their targets
        order = torch.cat([yb for _, yb in batches]) if batches else torch.zeros(0, dtype=torch.long)
        assert len(set(order.tolist())) == kept  # no row twice
        if not shuffle:
            assert order.tolist() == list(range(kept))
        elif not drop_last:
            assert sorted(order.tolist()) == list(range(n))


@FAST
@given(n=st.integers(1, 50), batch_size=st.integers(1, 20), seed=seeds)
def test_the_same_seed_gives_the_same_epochs(n, batch_size, seed):
    x = torch.arange(n)
    a = data.BatchIterator(x, batch_size=batch_size, shuffle=True, seed=seed)
    b = data.BatchIterator(x, batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(2):
        assert [t.tolist() for (t,) in a] == [t.tolist() for (t,) in b]


# --------------------------------------------------------------------------- tensors in every layout


def laid_out(shape, layout, dtype, seed, scale=1.0, transform=None):
    """A leaf tensor of ``shape`` laid out in memory as ``layout``, and the view of it the function sees."""
    g = torch.Generator().manual_seed(seed)

    def draw(s):
        t = scale * torch.randn(s, generator=g, dtype=torch.float64)
        return (transform(t) if transform else t).to(dtype)

    if layout == "transposed" and len(shape) >= 2:
        leaf = draw(shape[::-1]).requires_grad_(True)
        return leaf, leaf.permute(*reversed(range(len(shape))))
    if layout == "strided":
        leaf = draw((*shape[:-1], 2 * shape[-1])).requires_grad_(True)
        return leaf, leaf[..., ::2]
    if layout == "expanded":
        leaf = draw((*shape[:-1], 1)).requires_grad_(True)
        return leaf, leaf.expand(*shape)
    leaf = draw(shape).requires_grad_(True)
    return leaf, leaf


def value_and_grads(fn, *pairs):
    """``fn`` on the views; the value and the gradient reaching each leaf (weighted, so 'none' is checked per element)."""
    out = fn(*(view for _, view in pairs))
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * weights).sum(), [leaf for leaf, _ in pairs])
    return out.detach(), grads


def assert_like_torch(ours, theirs, make_inputs):
    a_value, a_grads = value_and_grads(ours, *make_inputs())
    b_value, b_grads = value_and_grads(theirs, *make_inputs())
    assert a_value.dtype == b_value.dtype and a_value.shape == b_value.shape
    torch.testing.assert_close(a_value, b_value)
    for a, b in zip(a_grads, b_grads):
        torch.testing.assert_close(a, b)


shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
scales = st.sampled_from([0.1, 1.0, 10.0, 100.0])


@FAST
@given(name=st.sampled_from(["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"]), shape=shapes,
       layout_x=layouts, layout_y=layouts, dtype=dtypes, reduction=reductions, seed=seeds, scale=scales)
def test_elementwise_losses_equal_torchs_in_any_layout(name, shape, layout_x, layout_y, dtype, reduction, seed, scale):
    unit = (lambda t: torch.sigmoid(t)) if name.startswith("binary") else None  # BCE targets lie in [0, 1]
    assert_like_torch(
        functools.partial(getattr(losses, name), reduction=reduction),
        functools.partial(getattr(F, name), reduction=reduction),
        lambda: (laid_out(shape, layout_x, dtype, seed, scale), laid_out(shape, layout_y, dtype, seed + 1, transform=unit)),
    )


@FAST
@given(shape=shapes, layout_p=layouts, layout_y=layouts, dtype=dtypes, reduction=reductions, seed=seeds)
def test_binary_cross_entropy_equals_torchs_in_any_layout(shape, layout_p, layout_y, dtype, reduction, seed):
    def probability(t):
        return torch.sigmoid(4 * t)

    assert_like_torch(
        functools.partial(losses.binary_cross_entropy, reduction=reduction),
        functools.partial(F.binary_cross_entropy, reduction=reduction),
        lambda: (laid_out(shape, layout_p, dtype, seed, transform=probability),
                 laid_out(shape, layout_y, dtype, seed + 1, transform=probability)),
    )


@FAST
@given(n=st.integers(1, 8), c=st.integers(2, 7), layout=layouts, dtype=dtypes, reduction=reductions, seed=seeds,
       scale=scales, strided_target=st.booleans())
def test_cross_entropy_equals_torchs_in_any_layout(n, c, layout, dtype, reduction, seed, scale, strided_target):
    target = torch.randint(0, c, (2 * n,), generator=torch.Generator().manual_seed(seed))
    target = target[::2] if strided_target else target[:n]
    assert_like_torch(
        lambda z: losses.cross_entropy(z, target, reduction=reduction),
        lambda z: F.cross_entropy(z, target, reduction=reduction),
        lambda: (laid_out((n, c), layout, dtype, seed, scale),),
    )


@FAST
@given(name=st.sampled_from(sorted(ACTIVATION_PAIRS)), shape=shapes, layout=layouts, dtype=dtypes, seed=seeds, scale=scales)
def test_activations_equal_torchs_in_any_layout(name, shape, layout, dtype, seed, scale):
    ours, theirs = ACTIVATION_PAIRS[name]
    assert_like_torch(ours, theirs, lambda: (laid_out(shape, layout, dtype, seed, scale),))


# --------------------------------------------------------------------------- gradients against finite differences


def away_from_kinks(t):
    """relu, leaky_relu and |x| have no derivative at 0; finite differences straddling it disagree with any slope."""
    return torch.sign(t) * (0.05 + t.abs())


GRADCHECKED = {
    **{name: (pair[0], away_from_kinks) for name, pair in ACTIVATION_PAIRS.items()},
    "mse_loss": (lambda x: losses.mse_loss(x, torch.linspace(-1, 1, x.numel(), dtype=x.dtype).reshape(x.shape)), None),
    "l1_loss": (lambda x: losses.l1_loss(x, torch.zeros_like(x)), away_from_kinks),
    "bce_with_logits": (lambda x: losses.binary_cross_entropy_with_logits(x, torch.full_like(x, 0.3)), None),
    "bce": (lambda x: losses.binary_cross_entropy(x, torch.full_like(x, 0.7)), lambda t: 0.05 + 0.9 * torch.sigmoid(t)),
    "cross_entropy": (lambda x: losses.cross_entropy(x.reshape(len(x), -1), torch.zeros(len(x), dtype=torch.long)), None),
}


@settings(max_examples=40)
@given(name=st.sampled_from(sorted(GRADCHECKED)), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=seeds)
def test_gradients_equal_finite_differences(name, shape, seed):
    fn, transform = GRADCHECKED[name]
    if name == "cross_entropy":
        shape = (shape[0], 2 + (shape[-1] if len(shape) > 1 else 1))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = (transform(x) if transform else x).requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------- IDX files


def idx_like():
    """Bytes that are an IDX file, almost one (a wrong byte, a wrong length), or anything at all."""
    header = st.builds(
        lambda magic, ndim, dims: magic + bytes([ndim]) + b"".join(d.to_bytes(4, "big") for d in dims),
        st.sampled_from([b"\x00\x00\x08", b"\x00\x00\x09", b"\x01\x00\x08"]),
        st.integers(0, 4),
        st.lists(st.integers(0, 6), min_size=0, max_size=4),
    )
    structured = st.builds(lambda h, body: h + body, header, st.binary(max_size=300))
    return st.one_of(st.binary(max_size=64), structured)


_scratch = Path(tempfile.mkdtemp(prefix="dlbook-idx-"))


@settings(max_examples=300)
@given(content=idx_like(), ndim=st.sampled_from([1, 3]))
def test_idx_check_on_arbitrary_bytes_is_a_data_error_or_a_complete_file(content, ndim):
    path = _scratch / "file-idx"
    path.write_bytes(content)
    try:
        data.sources._check_idx(path, ndim, "MNIST")
    except data.DataError as error:
        assert str(path) in str(error)
        return
    # accepted: then it really is a complete IDX file of unsigned bytes with ndim dimensions
    dims = [int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    assert content[:4] == b"\x00\x00\x08" + bytes([ndim])
    assert len(content) == 4 + 4 * ndim + torch.tensor(dims).prod().item()


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-mnist")
    g = torch.Generator().manual_seed(0)
    for train in (True, False):
        images = torch.randint(0, 256, (12, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (12,), generator=g, dtype=torch.uint8)
        data.write_mnist(root, images, labels, train=train)
    return root


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=idx_like(), which=st.sampled_from([n for pair in data.MNIST_FILES.values() for n in pair]))
def test_loading_a_file_of_arbitrary_bytes_is_a_data_error_or_a_dataset(tiny_mnist, content, which):
    raw = tiny_mnist / "MNIST" / "raw"
    original = (raw / which).read_bytes()
    (raw / which).write_bytes(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision warns about non-writable buffers
            splits = data.load_mnist(tiny_mnist)
    except data.DataError as error:
        assert which in str(error)
    else:
        assert len(splits.x_train) + len(splits.x_val) == 12  # a valid replacement: the same 12 images
    finally:
        (raw / which).write_bytes(original)
