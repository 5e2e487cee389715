"""Property-based tests (Hypothesis): statements that must hold for every input, checked on many drawn ones.

* BatchIterator: for any N, batch size, drop_last and shuffle, the batches partition the rows.
* IDX parsing: arbitrary bytes in a data file give a DataError (or a valid dataset), never
  another exception.

The losses' and activations' comparisons with torch in every shape, dtype and memory layout
live beside their other tests, in ``tests/test_losses.py`` and ``tests/test_activations.py``
(their shared strategies in ``tests/strategies.py``).

Each test draws a modest number of examples (``max_examples``) with no per-example
deadline, so the whole file runs in well under a minute. The draws are derandomized
(the same examples on every run, in CI too) and no example database is written.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from unittest import mock

import pytest
import torch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import data

# No example database: a run leaves no .hypothesis/ folder in the repository, and CI and a
# laptop draw the same way (derandomize: each test's examples follow from its own code).
settings.register_profile("dlbook", database=None, derandomize=True, deadline=None)
settings.load_profile("dlbook")
FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


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
