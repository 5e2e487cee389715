"""Datasets and mini-batches: what every chapter trains on.

Two real handwritten-digit datasets stand behind :func:`load_dataset`:

* **MNIST** (60,000 + 10,000 images of 28×28 pixels), read by torchvision's own
  :class:`torchvision.datasets.MNIST` from a data directory, downloaded only when a
  network is reachable;
* **scikit-learn's digits** (1,797 images of 8×8 pixels, from the UCI repository),
  which ships inside the ``scikit-learn`` package and so is always there. A build
  with no network and no MNIST files uses it, and says so on every page.

Mini-batches come from :class:`BatchIterator`, which slices tensors that already
sit in memory (on the GPU when there is one) instead of indexing a ``Dataset`` one
sample at a time.

Taught in the Introduction and in chapter 10 (Epochs, batches & iterations).
"""

from __future__ import annotations

import math
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

#: Environment variable naming the data directory (default ``~/.cache/dlbook``).
DATA_ENV = "DLBOOK_DATA"
#: Set to ``1`` to skip the network check and never download.
OFFLINE_ENV = "DLBOOK_OFFLINE"
#: Set to ``mnist`` or ``digits`` to force :func:`load_dataset`'s choice.
DATASET_ENV = "DLBOOK_DATASET"

#: The four files torchvision's MNIST reads, by split: (images, labels).
MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_MNIST_HOST = ("ossci-datasets.s3.amazonaws.com", 443)

# IDX type codes (http://yann.lecun.com/exdb/mnist/): only unsigned bytes here.
_IDX_UBYTE = 0x08


class DataError(RuntimeError):
    """A data file is missing, truncated or corrupt. The message names the file and the fix."""


@dataclass(frozen=True)
class Splits:
    """A dataset split into train, validation and test tensors.

    Features are ``float32`` in :math:`[0, 1]`, flattened: ``x_*`` has shape
    ``(N, H*W)`` and ``y_*`` holds class indices of shape ``(N,)`` (``int64``).

    Attributes:
        name: a short name for the page ("MNIST", "digits").
        description: one sentence saying what the data is and where it came from.
        image_shape: ``(H, W)``, to turn a row back into a picture.
        num_classes: number of classes (10 for both datasets).

    >>> s = load_digits()
    >>> s.x_train.shape[1] == s.num_features == 64
    True
    >>> len(s.x_train) + len(s.x_val) + len(s.x_test)
    1797
    """

    name: str
    description: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple[int, int]
    num_classes: int = 10
    notes: tuple[str, ...] = field(default=())

    @property
    def num_features(self) -> int:
        """Length of one flattened input, ``H * W``."""
        return self.image_shape[0] * self.image_shape[1]

    @property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_train, y_train)``."""
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_val, y_val)``."""
        return self.x_val, self.y_val

    @property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_test, y_test)``."""
        return self.x_test, self.y_test

    def to(self, device: torch.device | str) -> Splits:
        """The same splits with every tensor moved to ``device``.

        >>> load_digits().to("cpu").x_train.device.type
        'cpu'
        >>> load_digits().to("tpu")
        Traceback (most recent call last):
        ...
        ValueError: Invalid device: 'tpu' (expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')
        """
        device = _as_device(device)
        moved = {
            k: getattr(self, k).to(device)
            for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
        }
        return replace(self, **moved)

    def subset(self, n_train: int, *, seed: int = 0) -> Splits:
        """Keep a seeded random ``n_train`` of the training examples (validation and test unchanged).

        Used where a chapter wants a model to overfit a small training set.

        >>> load_digits().subset(100).x_train.shape
        torch.Size([100, 64])
        >>> load_digits().subset(0)
        Traceback (most recent call last):
        ...
        ValueError: Invalid n_train: 0 (expected 1..1079)
        """
        n = len(self.x_train)
        if isinstance(n_train, bool) or not isinstance(n_train, int) or not 1 <= n_train <= n:
            raise ValueError(f"Invalid n_train: {n_train!r} (expected 1..{n})")
        g = torch.Generator().manual_seed(_check_seed(seed))
        idx = torch.randperm(n, generator=g)[:n_train].to(self.x_train.device)
        return replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx])

    def summary(self) -> str:
        """One line: the dataset and the size of each split.

        >>> load_digits().summary()
        'digits: 1079 train / 359 validation / 359 test examples of 8×8 pixels, 10 classes'
        """
        h, w = self.image_shape
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} validation / "
            f"{len(self.x_test)} test examples of {h}×{w} pixels, {self.num_classes} classes"
        )


def _as_device(device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"Invalid device: {device!r} (expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')") from exc


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"Invalid seed: {seed!r} (expected a non-negative integer)")
    return int(seed)


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The data directory: ``root`` if given, else ``$DLBOOK_DATA``, else ``~/.cache/dlbook``.

    >>> data_dir("/tmp/somewhere")
    PosixPath('/tmp/somewhere')
    """
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path.home() / ".cache" / "dlbook"


_network_cache: dict[tuple[str, int], bool] = {}


def network_available(host: str = _MNIST_HOST[0], port: int = _MNIST_HOST[1], timeout: float = 1.5) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Name lookup and connect both run in a daemon thread that is abandoned after
    ``timeout``, so an offline machine answers ``False`` within ``timeout`` seconds
    rather than after the operating system's own (much longer) time-outs.
    ``DLBOOK_OFFLINE=1`` answers ``False`` at once. The answer is cached per process.

    >>> import os; os.environ["DLBOOK_OFFLINE"] = "1"
    >>> network_available()
    False
    >>> del os.environ["DLBOOK_OFFLINE"]
    """
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    if timeout <= 0:
        raise ValueError(f"Invalid timeout: {timeout!r} (expected > 0)")
    key = (host, port)
    if key in _network_cache:
        return _network_cache[key]
    result = [False]

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    _network_cache[key] = result[0]
    return result[0]


# --------------------------------------------------------------------------- IDX files


def write_idx(path: str | os.PathLike, array: torch.Tensor | np.ndarray) -> Path:
    """Write an array of unsigned bytes in the IDX format MNIST is distributed in.

    The format: two zero bytes, a type byte (``0x08``: unsigned byte), the number
    of dimensions, each dimension as a big-endian 32-bit integer, then the data in
    C order. Used by the tests and benchmarks to make MNIST-format files.

    >>> import tempfile, pathlib
    >>> p = write_idx(pathlib.Path(tempfile.mkdtemp()) / "x", torch.zeros(2, 3, dtype=torch.uint8))
    >>> p.read_bytes()[:4], p.stat().st_size
    (b'\\x00\\x00\\x08\\x02', 18)
    """
    data = np.asarray(array.cpu() if isinstance(array, torch.Tensor) else array)
    if data.dtype != np.uint8:
        raise TypeError(f"Invalid array dtype: {data.dtype} (IDX files here hold uint8)")
    if data.ndim == 0:
        raise ValueError("Invalid array: a 0-d array has no IDX form (expected ndim >= 1)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, _IDX_UBYTE, data.ndim) + struct.pack(f">{data.ndim}I", *data.shape)
    path.write_bytes(header + np.ascontiguousarray(data).tobytes())
    return path


def write_mnist(root: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor, *, train: bool) -> Path:
    """Write ``images`` (``(N, 28, 28)`` uint8) and ``labels`` (``(N,)`` uint8) where torchvision's MNIST looks.

    The files go to ``root/MNIST/raw/`` under the names torchvision expects, so that
    ``torchvision.datasets.MNIST(root)`` — and :func:`load_mnist` — read them.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> raw = write_mnist(root, torch.zeros(3, 28, 28, dtype=torch.uint8), torch.tensor([1, 2, 3], dtype=torch.uint8), train=False)
    >>> sorted(p.name for p in raw.iterdir())
    ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    """
    images, labels = torch.as_tensor(images), torch.as_tensor(labels)
    for name, t in (("images", images), ("labels", labels)):
        if t.dtype != torch.uint8:
            raise TypeError(f"Invalid {name} dtype: {t.dtype} (MNIST files hold torch.uint8)")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"Invalid shapes: images {tuple(images.shape)}, labels {tuple(labels.shape)} "
            "(expected (N, H, W) and (N,))"
        )
    raw = Path(root) / "MNIST" / "raw"
    image_name, label_name = MNIST_FILES[train]
    write_idx(raw / image_name, images)
    write_idx(raw / label_name, labels)
    return raw


def _check_idx(path: Path, ndim: int) -> None:
    """Raise :class:`DataError` unless ``path`` is a complete IDX file of ``ndim`` dimensions."""
    fix = (
        f"Delete it and run again with a network to re-download, or put an intact copy there "
        f"(the data directory is set by ${DATA_ENV})."
    )
    if not path.is_file():
        raise DataError(f"MNIST file missing: {path}. {fix}")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4 + 4 * ndim)
    if len(head) < 4 + 4 * ndim or head[:3] != b"\x00\x00\x08" or head[3] != ndim:
        raise DataError(f"MNIST file corrupt (not an IDX file of {ndim} dimensions): {path}. {fix}")
    dims = struct.unpack(f">{ndim}I", head[4:])
    expected = 4 + 4 * ndim + math.prod(dims)
    if size != expected:
        raise DataError(
            f"MNIST file truncated or corrupt: {path} holds {size} bytes, its header promises "
            f"{expected}. {fix}"
        )


def mnist_available(root: str | os.PathLike | None = None) -> bool:
    """Whether all four MNIST files exist under ``root/MNIST/raw`` (their content is not checked here).

    >>> mnist_available("/nonexistent")
    False
    """
    raw = data_dir(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for pair in MNIST_FILES.values() for name in pair)


def _split(x: torch.Tensor, y: torch.Tensor, n_val: int, seed: int):
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]


def load_mnist(
    root: str | os.PathLike | None = None, *, download: bool = False, val_size: int | None = None, seed: int = 0
) -> Splits:
    """MNIST through :class:`torchvision.datasets.MNIST`, as flat ``float32`` tensors in :math:`[0, 1]`.

    The 60,000 training images are split (seeded) into ``60,000 - val_size`` for
    training and ``val_size`` (default: a sixth, i.e. 10,000) for validation; the 10,000 test images stay the test set.
    Before torchvision reads them, each file's IDX header and length are checked, so
    a truncated download fails with a :class:`DataError` naming the file.

    Args:
        root: data directory (see :func:`data_dir`); the files live in ``root/MNIST/raw``.
        download: let torchvision download missing files.
        val_size: number of training images held out for validation (default ``N // 6``).
        seed: seed of the train/validation split.

    >>> load_mnist("/nonexistent")
    Traceback (most recent call last):
    ...
    dlbook.data.DataError: MNIST file missing: /nonexistent/MNIST/raw/train-images-idx3-ubyte. Delete it and run again with a network to re-download, or put an intact copy there (the data directory is set by $DLBOOK_DATA).
    """
    from torchvision.datasets import MNIST  # imported here: torchvision is slow to import

    seed = _check_seed(seed)
    root = data_dir(root)
    raw = root / "MNIST" / "raw"
    if download and not mnist_available(root):
        MNIST(root, train=True, download=True)
        MNIST(root, train=False, download=True)
    for pair in MNIST_FILES.values():
        _check_idx(raw / pair[0], 3)
        _check_idx(raw / pair[1], 1)
    parts = {}
    for train in (True, False):
        ds = MNIST(root, train=train, download=False)
        if len(ds.data) != len(ds.targets):
            raise DataError(
                f"MNIST images and labels disagree in {raw}: {len(ds.data)} images, {len(ds.targets)} labels."
            )
        parts[train] = (ds.data.reshape(len(ds.data), -1).float() / 255.0, ds.targets.long())
        h, w = ds.data.shape[1:]
    x, y = parts[True]
    if val_size is None:
        val_size = len(x) // 6
    if isinstance(val_size, bool) or not isinstance(val_size, int) or not 0 < val_size < len(x):
        raise ValueError(f"Invalid val_size: {val_size!r} (expected 1..{len(x) - 1})")
    x_train, y_train, x_val, y_val = _split(x, y, val_size, seed)
    return Splits(
        name="MNIST",
        description=f"MNIST, 28×28 handwritten digits, read by torchvision from {raw}",
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=parts[False][0],
        y_test=parts[False][1],
        image_shape=(int(h), int(w)),
    )


def load_digits(*, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's 8×8 handwritten digits, split (seeded) into train, validation and test.

    1,797 images from the UCI "Optical Recognition of Handwritten Digits" set, 16
    grey levels each, scaled here to :math:`[0, 1]` by dividing by 16. The data
    ships inside scikit-learn, so this works with no network.

    >>> s = load_digits()
    >>> float(s.x_train.max()), s.y_train.dtype
    (1.0, torch.int64)
    >>> load_digits(val_fraction=0.9)
    Traceback (most recent call last):
    ...
    ValueError: Invalid fractions: val_fraction=0.9, test_fraction=0.2 (each in (0, 1), sum below 1)
    """
    seed = _check_seed(seed)
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"Invalid fractions: val_fraction={val_fraction!r}, test_fraction={test_fraction!r} "
            "(each in (0, 1), sum below 1)"
        )
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    n = len(x)
    n_test, n_val = round(test_fraction * n), round(val_fraction * n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return Splits(
        name="digits",
        description=(
            "scikit-learn's 8×8 handwritten digits (1,797 images from the UCI optical "
            "recognition set), shipped inside the scikit-learn package"
        ),
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        image_shape=(8, 8),
    )


def load_dataset(name: str = "auto", root: str | os.PathLike | None = None, *, seed: int = 0) -> Splits:
    """The dataset a chapter trains on.

    ``name="mnist"`` loads MNIST (downloading it if a network is reachable),
    ``name="digits"`` loads scikit-learn's digits, and ``name="auto"`` (the default,
    overridable with ``$DLBOOK_DATASET``) takes the first that works of:

    1. MNIST files already in the data directory;
    2. MNIST downloaded, when :func:`network_available` says a network is there;
    3. the digits, with a note saying why (see ``Splits.notes``).

    >>> import os; os.environ["DLBOOK_OFFLINE"] = "1"
    >>> load_dataset("auto", "/nonexistent").name
    'digits'
    >>> load_dataset("cifar")
    Traceback (most recent call last):
    ...
    ValueError: Invalid dataset name: 'cifar' (expected 'auto', 'mnist' or 'digits')
    >>> del os.environ["DLBOOK_OFFLINE"]
    """
    if name == "auto":
        name = os.environ.get(DATASET_ENV) or "auto"
    if name not in ("auto", "mnist", "digits"):
        raise ValueError(f"Invalid dataset name: {name!r} (expected 'auto', 'mnist' or 'digits')")
    if name == "digits":
        return load_digits(seed=seed)
    if name == "mnist":
        return load_mnist(root, download=not mnist_available(root) and network_available(), seed=seed)
    if mnist_available(root):
        return load_mnist(root, seed=seed)
    if network_available():
        return load_mnist(root, download=True, seed=seed)
    splits = load_digits(seed=seed)
    reason = (
        f"No MNIST files in {data_dir(root) / 'MNIST' / 'raw'} and no network to download them, "
        "so this build uses scikit-learn's 8×8 digits instead."
    )
    return replace(splits, notes=(reason,))


# --------------------------------------------------------------------------- batches

#: Shuffled CPU data larger than this is gathered in blocks of about this size (else whole, once per epoch).
_BLOCK_BYTES = 4 << 20


class BatchIterator:
    """Mini-batches sliced from tensors already in memory.

    Each pass (``for batch in it``) is one epoch: with ``shuffle=True`` the rows are
    permuted once by a seeded generator (a new permutation every epoch, the same
    sequence of permutations every run), then cut into consecutive slices of
    ``batch_size`` rows. The last, smaller batch is kept unless ``drop_last=True``:

    .. math:: \\text{len} = \\lceil N / B \\rceil \\quad\\text{or}\\quad \\lfloor N / B \\rfloor \\text{ with drop\\_last}

    Args:
        *tensors: tensors sharing their first dimension ``N`` (e.g. ``x`` and ``y``).
        batch_size: rows per batch, ``B >= 1``.
        shuffle: permute the rows every epoch.
        drop_last: drop the last batch when it has fewer than ``B`` rows.
        seed: seed of the shuffling generator.

    >>> x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    >>> it = BatchIterator(x, y, batch_size=4)
    >>> len(it), [len(yb) for _, yb in it]
    (3, [4, 4, 2])
    >>> len(BatchIterator(x, y, batch_size=4, drop_last=True))
    2
    >>> sorted(torch.cat([yb for _, yb in BatchIterator(x, y, batch_size=4, shuffle=True)]).tolist()) == list(range(10))
    True
    >>> BatchIterator(x, y[:5], batch_size=4)
    Traceback (most recent call last):
    ...
    ValueError: Invalid tensors: first dimensions differ ([10, 5])
    """

    def __init__(
        self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = False, drop_last: bool = False, seed: int = 0
    ) -> None:
        if not tensors:
            raise ValueError("Invalid tensors: none given (expected at least one tensor)")
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"Invalid tensor: {type(t).__name__} (expected torch.Tensor)")
        sizes = [len(t) for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"Invalid tensors: first dimensions differ ({sizes})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"Invalid batch_size: {batch_size!r} (expected a positive integer)")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(_check_seed(seed))
        self.num_samples = sizes[0]

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        tensors, b, n_batches = self.tensors, self.batch_size, len(self)
        if self.shuffle:
            device = tensors[0].device
            perm = torch.randperm(self.num_samples, generator=self.generator).to(device)
            if device.type == "cpu" and sum(t.nbytes for t in tensors) > _BLOCK_BYTES:
                # Large data on the CPU: gather a block of batches (about 4 MB) at a time,
                # then slice it. No shuffled copy of the whole dataset is written (188 MB
                # per epoch for MNIST), each block is still in cache when the forward pass
                # reads it, and there is one gather per block, not per batch.
                row_bytes = sum(t[:1].nbytes for t in tensors)
                per_block = max(1, _BLOCK_BYTES // (b * row_bytes))
                for first in range(0, n_batches, per_block):
                    last = min(first + per_block, n_batches)
                    block = tuple(t.index_select(0, perm[first * b : last * b]) for t in tensors)
                    for j in range(last - first):
                        yield tuple(t[j * b : (j + 1) * b] for t in block)
                return
            tensors = tuple(t[perm] for t in tensors)  # small, or on an accelerator: one gather per epoch
        for i in range(n_batches):
            yield tuple(t[i * b : (i + 1) * b] for t in tensors)
