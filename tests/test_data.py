"""dlbook.data: MNIST through torchvision on tiny IDX files, the offline fallback, and BatchIterator."""

import socket
import time

import pytest
import torch

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


def test_missing_directory_falls_back_to_digits_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    splits = load_dataset("auto", tmp_path / "empty")
    assert splits.name == "digits"
    assert splits.notes and "No MNIST files" in splits.notes[0] and str(tmp_path / "empty") in splits.notes[0]


def test_auto_prefers_mnist_files_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOK_OFFLINE", "1")
    make_mnist(tmp_path)
    monkeypatch.setenv("DLBOOK_DATA", str(tmp_path))
    assert load_dataset().name == "MNIST"
    monkeypatch.setenv("DLBOOK_DATASET", "digits")
    assert load_dataset().name == "digits"


def test_network_check_is_bounded_by_its_timeout(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)  # far longer than the timeout; the probe thread is abandoned meanwhile
        raise OSError("simulated network that never answers")

    monkeypatch.delenv("DLBOOK_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_network_cache", {})
    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert data.network_available("example.invalid", 443, timeout=0.3) is False
    assert time.perf_counter() - start < 2


def test_network_check_refused_port_is_false(monkeypatch):
    monkeypatch.delenv("DLBOOK_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_network_cache", {})
    assert data.network_available("127.0.0.1", 1, timeout=1.0) is False


def test_digits_splits_are_disjoint_and_complete():
    s = data.load_digits()
    rows = torch.cat([s.x_train, s.x_val, s.x_test])
    assert len(rows) == 1797 and rows.min() == 0 and rows.max() == 1
    assert s.summary().startswith("digits: 1079 train")


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


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_batch_size_must_be_positive_int(bad):
    with pytest.raises(ValueError, match="batch_size"):
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
