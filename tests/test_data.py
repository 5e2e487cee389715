"""dlbook.data: Fashion-MNIST and MNIST through torchvision on tiny IDX files, Debian's package, the offline fallback,
and BatchIterator; properties (Hypothesis) of the batches and of IDX parsing on arbitrary bytes."""

import gzip
import socket
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlbook import data
from dlbook.data import BatchIterator, DataError, load_dataset, load_mnist, write_mnist


def make_mnist(root, n_train=30, n_test=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    arrays = {}
    for train, n in ((True, n_train), (False, n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
        write_mnist(root, images, labels, train=train)
        arrays[train] = (images, labels)
    return arrays


def test_load_mnist_reads_idx_files_through_torchvision(tmp_path):
    arrays = make_mnist(tmp_path)
    splits = load_mnist(tmp_path, val_size=5)
    assert splits.name == "MNIST" and splits.image_shape == (28, 28)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (25, 5, 10)
    images, labels = arrays[False]
    torch.testing.assert_close(splits.x_test, images.reshape(10, -1).float() / 255)
    assert torch.equal(splits.y_test, labels.long())
    # train + val is a permutation of the training file
    train_images, _ = arrays[True]
    together = torch.cat([splits.x_train, splits.x_val])
    expected = train_images.reshape(30, -1).float() / 255
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, expected.tolist()))


def test_load_mnist_split_is_seeded(tmp_path):
    make_mnist(tmp_path)
    a, b, c = load_mnist(tmp_path, val_size=5, seed=1), load_mnist(tmp_path, val_size=5, seed=1), load_mnist(tmp_path, val_size=5, seed=2)
    assert torch.equal(a.y_val, b.y_val) and torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_truncated_file_error_names_the_file_and_the_fix(tmp_path, name):
    make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / name
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match="truncated") as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value) and "DLBOOK_DATA" in str(info.value)


def test_corrupt_header_is_reported(tmp_path):
    make_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="not an IDX file") as info:
        load_mnist(tmp_path)
    assert str(path) in str(info.value)


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """A machine without Debian's dataset-fashion-mnist and without a network."""
    monkeypatch.setenv("DLBOOK_SYSTEM_DATA", str(tmp_path / "no-debian-package"))
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    monkeypatch.delenv("DLBOOK_DATASET", raising=False)


def make_fashion(root, n_train=30, n_test=10, seed=0):
    arrays = {}
    g = torch.Generator().manual_seed(seed)
    for train, n in ((True, n_train), (False, n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
        write_mnist(root, images, labels, train=train, dataset="fashion-mnist")
        arrays[train] = (images, labels)
    return arrays


def make_debian_package(folder, arrays):
    """The four gzipped IDX files, as Debian's dataset-fashion-mnist ships them."""
    folder.mkdir(parents=True)
    for train, (images, labels) in arrays.items():
        names = data.MNIST_FILES[train]
        for name, t in zip(names, (images, labels)):
            tmp = data.write_idx(folder / f"{name}.tmp", t)
            (folder / f"{name}.gz").write_bytes(gzip.compress(tmp.read_bytes()))
            tmp.unlink()


def test_missing_files_and_no_network_fall_back_to_digits_with_a_note(tmp_path, no_system_data):
    splits = load_dataset("auto", tmp_path / "empty")
    assert splits.name == "digits" and splits.is_fallback
    assert splits.notes and "No Fashion-MNIST files" in splits.notes[0] and "8×8 digits" in splits.notes[0]
    assert str(tmp_path) not in splits.notes[0]  # the page shows no path of the build machine


def test_auto_prefers_fashion_files_in_the_data_directory(tmp_path, monkeypatch, no_system_data):
    arrays = make_fashion(tmp_path)
    make_mnist(tmp_path)
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    splits = load_dataset()
    assert splits.name == "Fashion-MNIST" and splits.source == "the data directory"
    assert splits.classes[0] == "T-shirt/top" and len(splits.classes) == 10
    torch.testing.assert_close(splits.x_test, arrays[False][0].reshape(10, -1).float() / 255)
    assert load_dataset("mnist").name == "MNIST"
    monkeypatch.setenv("DLBOOK_DATASET", "digits")
    assert load_dataset().name == "digits"


def test_debian_package_files_are_read_when_the_data_directory_has_none(tmp_path, monkeypatch):
    g = torch.Generator().manual_seed(1)
    arrays = {
        train: (torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8))
        for train, n in ((True, 24), (False, 6))
    }
    package = tmp_path / "usr-share-datasets"
    make_debian_package(package, arrays)
    monkeypatch.setenv("DLBOOK_SYSTEM_DATA", str(package))
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    monkeypatch.delenv("DLBOOK_DATASET", raising=False)
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "data"))
    assert data.resolve_dataset() == ("fashion-mnist", [package / f"{n}.gz" for p in data.MNIST_FILES.values() for n in p])
    for _ in range(2):  # the second time reads the decompressed copy
        splits = load_dataset()
        assert splits.name == "Fashion-MNIST" and splits.source == "Debian's package dataset-fashion-mnist"
        assert (len(splits.x_train) + len(splits.x_val), len(splits.x_test)) == (24, 6)
        assert torch.equal(splits.y_test, arrays[False][1].long())
    # the copy is kept apart: the data directory itself still holds no Fashion-MNIST files
    assert not data.mnist_available(tmp_path / "data", "fashion-mnist")


def test_several_kernels_decompressing_the_debian_files_at_once_all_succeed(tmp_path):
    """A first parallel build: every kernel finds the package and decompresses it at the same time."""
    import threading

    g = torch.Generator().manual_seed(2)
    arrays = {t: (torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                  torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)) for t, n in ((True, 3000), (False, 500))}
    package, raw = tmp_path / "pkg", tmp_path / "raw"
    make_debian_package(package, arrays)
    start, errors = threading.Barrier(8), []

    def copy():
        start.wait()
        try:
            data.sources._copy_system_fashion(package, raw)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=copy) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(p.name for p in raw.iterdir()) == sorted(n for pair in data.MNIST_FILES.values() for n in pair)
    for name in data.MNIST_FILES[False]:
        assert (raw / name).read_bytes() == gzip.decompress((package / f"{name}.gz").read_bytes())


def test_a_corrupt_debian_file_is_an_error_naming_it(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    make_debian_package(package, {t: (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.uint8)) for t in (True, False)})
    bad = package / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:20])
    monkeypatch.setenv("DLBOOK_SYSTEM_DATA", str(package))
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path / "data"))
    with pytest.raises(DataError, match="dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist")
    assert str(bad) in str(info.value)


def test_forcing_fashion_without_files_or_network_names_the_missing_file(tmp_path, no_system_data):
    with pytest.raises(DataError, match="Fashion-MNIST file missing: .*FashionMNIST/raw/train-images-idx3-ubyte"):
        load_dataset("fashion-mnist", tmp_path)


def test_resolve_dataset_follows_the_same_order_as_load_dataset(tmp_path, monkeypatch, no_system_data):
    assert data.resolve_dataset("auto", tmp_path) == ("digits", [])
    assert data.resolve_dataset("mnist", tmp_path) == ("mnist", [])
    make_mnist(tmp_path)
    name, files = data.resolve_dataset("mnist", tmp_path)
    assert name == "mnist" and len(files) == 4 and all(f.is_file() for f in files)
    assert data.resolve_dataset("auto", tmp_path) == ("digits", [])  # auto never picks MNIST
    make_fashion(tmp_path)
    assert data.resolve_dataset("auto", tmp_path)[0] == "fashion-mnist"
    monkeypatch.setenv("DLBOOK_DATASET", "digits")
    assert data.resolve_dataset("auto", tmp_path) == ("digits", [])


def test_network_check_is_bounded_by_its_timeout(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)  # far longer than the timeout; the probe thread is abandoned meanwhile
        raise OSError("simulated network that never answers")

    monkeypatch.delenv("DLBOOK_OFFLINE", raising=False)
    monkeypatch.setattr(data.sources, "_network_cache", {})
    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert data.network_available("example.invalid", 443, timeout=0.3) is False
    assert time.perf_counter() - start < 2


def test_network_check_refused_port_is_false(monkeypatch):
    monkeypatch.delenv("DLBOOK_OFFLINE", raising=False)
    monkeypatch.setattr(data.sources, "_network_cache", {})
    assert data.network_available("127.0.0.1", 1, timeout=1.0) is False


def test_digits_splits_are_disjoint_and_complete():
    s = data.load_digits()
    rows = torch.cat([s.x_train, s.x_val, s.x_test])
    assert len(rows) == 1797 and rows.min() == 0 and rows.max() == 1
    assert s.summary().startswith("digits: 1,079 train")


@pytest.mark.parametrize("n,batch,drop_last,expected", [(10, 4, False, 3), (10, 4, True, 2), (8, 4, True, 2), (3, 5, False, 1), (3, 5, True, 0)])
def test_batch_iterator_length_matches_batches_yielded(n, batch, drop_last, expected):
    it = BatchIterator(torch.arange(n), batch_size=batch, drop_last=drop_last)
    assert len(it) == expected == len(list(it))


def test_batch_iterator_matches_dataloader_without_shuffle():
    x, y = torch.randn(23, 3), torch.arange(23)
    ours = list(BatchIterator(x, y, batch_size=5))
    theirs = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=5))
    assert len(ours) == len(theirs)
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_shuffle_is_a_seeded_permutation_that_changes_each_epoch():
    x = torch.arange(50)
    it = BatchIterator(x, x * 10, batch_size=7, shuffle=True, seed=3)
    epoch1 = torch.cat([b for b, _ in it])
    epoch2 = torch.cat([b for b, _ in it])
    assert sorted(epoch1.tolist()) == list(range(50))
    assert not torch.equal(epoch1, epoch2)
    again = BatchIterator(x, x * 10, batch_size=7, shuffle=True, seed=3)
    assert torch.equal(torch.cat([b for b, _ in again]), epoch1)
    for xb, yb in BatchIterator(x, x * 10, batch_size=7, shuffle=True):
        assert torch.equal(yb, xb * 10)  # rows stay paired


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_batch_size_must_be_positive_int(bad, error):
    with pytest.raises(error, match="Invalid batch_size"):  # a float (or bool) where an integer belongs is a wrong type: TypeError, as everywhere in dlbook
        BatchIterator(torch.arange(4), batch_size=bad)


def test_write_idx_rejects_non_uint8(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        data.write_idx(tmp_path / "x", torch.zeros(2, 2))


def test_subset_keeps_pairs(tmp_path):
    s = data.load_digits()
    sub = s.subset(50, seed=1)
    assert len(sub.x_train) == 50 and torch.equal(sub.x_val, s.x_val)
    matches = (s.x_train.unsqueeze(0) == sub.x_train.unsqueeze(1)).all(-1)
    for i in range(50):
        assert sub.y_train[i] in s.y_train[matches[i]]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("rows", [50, 5000, 20_000])  # 20,000 x 100 float32 is 8 MB: gathered in blocks on the CPU
def test_shuffled_batches_equal_slices_of_one_seeded_permutation(rows, drop_last):
    x, y = torch.randn(rows, 100), torch.arange(rows)
    it = BatchIterator(x, y, batch_size=64, shuffle=True, drop_last=drop_last, seed=7)
    g = torch.Generator().manual_seed(7)
    for _ in range(2):  # two epochs: a new permutation each
        perm = torch.randperm(rows, generator=g)
        batches = list(it)
        assert len(batches) == len(it) == (rows // 64 if drop_last else -(-rows // 64))
        for i, (xb, yb) in enumerate(batches):
            assert torch.equal(xb, x[perm][i * 64 : (i + 1) * 64]) and torch.equal(yb, perm[i * 64 : (i + 1) * 64])


# --- global random state ---
# Every seeded function here draws from a torch.Generator of its own: the global generators
# (torch's, NumPy's, Python's random) are left exactly as they were, the same seed repeats,
# another seed differs. A BatchIterator given a generator draws from that one only, as
# torch.utils.data.DataLoader(generator=g) does; without shuffling it draws nothing.

from rng_guard import leaves_global_rng_alone, moves_only  # noqa: E402


def _orders(it):
    return [yb.tolist() for _, yb in it]


def test_batch_iterator_shuffles_from_its_own_generator_only():
    x = torch.arange(40.0).unsqueeze(1)
    y = torch.arange(40)
    g = torch.Generator().manual_seed(5)
    with leaves_global_rng_alone():
        a = [_orders(BatchIterator(x, y, batch_size=8, shuffle=True, seed=3)) for _ in range(2)]
        b = _orders(BatchIterator(x, y, batch_size=8, shuffle=True, seed=4))
        before = g.get_state()
        c = _orders(BatchIterator(x, y, batch_size=8, shuffle=True, generator=g))
        plain = _orders(BatchIterator(x, y, batch_size=8))
    assert a[0] == a[1] and a[0] != b
    assert not torch.equal(g.get_state(), before)  # the generator it was given advanced
    assert c == _orders(BatchIterator(x, y, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(5)))
    assert plain == [list(range(i, i + 8)) for i in range(0, 40, 8)]


SPLITTERS = {
    "load_digits": lambda root, seed: data.load_digits(seed=seed),
    "load_dataset('digits')": lambda root, seed: load_dataset("digits", seed=seed),
    "Splits.subset": lambda root, seed: data.load_digits().subset(100, seed=seed),
    "load_mnist": lambda root, seed: load_mnist(root, val_size=8, seed=seed),
    "load_fashion_mnist": lambda root, seed: data.load_fashion_mnist(root, val_size=8, seed=seed),
}


@pytest.mark.parametrize("name", SPLITTERS)
def test_seeded_splits_repeat_and_leave_every_global_generator_alone(tmp_path, name):
    make_mnist(tmp_path)
    make_fashion(tmp_path)
    split = SPLITTERS[name]
    data.load_digits()  # scikit-learn's first load (a file read) outside the guarded block
    with leaves_global_rng_alone():
        a, b, c = split(tmp_path, 1), split(tmp_path, 1), split(tmp_path, 2)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, c.x_train)


def test_batch_iterator_without_a_seed_differs_from_torch_dataloader_which_draws_from_the_global_generator():
    """DataLoader(shuffle=True) with no generator draws each epoch's order from torch's global generator;
    BatchIterator's default is seed=0, so its orders are the same whatever the global generator holds."""
    x = torch.arange(20.0).unsqueeze(1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=5, shuffle=True)
    with moves_only("torch"):
        list(loader)
    orders = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        with leaves_global_rng_alone():
            orders.append([xb.flatten().tolist() for (xb,) in BatchIterator(x, batch_size=5, shuffle=True)])
    assert orders[0] == orders[1]


# --------------------------------------------------------------------------- properties (Hypothesis)
# Each draws a modest number of examples; the draws are derandomized and no example database is
# written (the profile in conftest.py), so CI and a laptop draw the same examples.

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


@FAST
@given(n=st.integers(1, 90), batch_size=st.integers(1, 40), drop_last=st.booleans(), shuffle=st.booleans(),
       seed=seeds, layout=st.sampled_from(["contiguous", "transposed", "strided"]),
       dtype=st.sampled_from([torch.float32, torch.float64]), blocks=st.booleans())
def test_batches_equal_torchs_sampler_and_loader_in_an_epoch(n, batch_size, drop_last, shuffle, seed,
                                                                 layout, dtype, blocks):
    """BatchIterator is a DataLoader over a TensorDataset without the per-sample indexing: same batches, same order.

    Both start an epoch with a ``randperm`` from the generator they are given: ours from its own, torch's from
    its ``RandomSampler``'s. (Later epochs differ: the sampler also draws a second, unused permutation for its
    ``num_samples % n`` tail every epoch, and a ``DataLoader`` given the generator itself draws a base seed for
    its workers from it, so their permutations are not ours; BatchIterator draws one ``randperm`` an epoch.)
    Any memory layout of x and either float dtype give the same batches, on the small-data path and the
    blockwise one.
    """
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

    base = torch.randn(n, 6, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    x = {"contiguous": base, "transposed": base.T.contiguous().T, "strided": torch.stack([base, -base], -1)[..., 0]}[layout]
    assert torch.equal(x, base)
    y = torch.arange(n)
    ours = BatchIterator(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                         generator=torch.Generator().manual_seed(seed))
    dataset = TensorDataset(x, y)
    sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(dataset)
    theirs = DataLoader(dataset, batch_sampler=BatchSampler(sampler, batch_size, drop_last))
    with mock.patch.object(data.batches, "_BLOCK_BYTES", 64 if blocks else data.batches._BLOCK_BYTES):
        mine, torchs = list(ours), list(theirs)
    assert len(mine) == len(torchs) == len(ours) == len(theirs)
    for (xa, ya), (xb, yb) in zip(mine, torchs):
        assert torch.equal(ya, yb) and torch.equal(xa, xb) and xa.dtype == xb.dtype
