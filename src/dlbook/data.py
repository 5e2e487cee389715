"""Datasets and mini-batches: what every chapter trains on.

Three real image datasets stand behind :func:`load_dataset`:

* **Fashion-MNIST** (the book's dataset; Xiao et al. 2017): 60,000 + 10,000
  greyscale images of 28×28 pixels showing ten kinds of clothing, read by
  torchvision's own :class:`torchvision.datasets.FashionMNIST`. The files are taken
  from the data directory, else from Debian's package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``), else downloaded by torchvision when a
  network is reachable.
* **MNIST** (60,000 + 10,000 handwritten digits of 28×28 pixels), one setting
  away (``DLBOOK_DATASET=mnist``), read by :class:`torchvision.datasets.MNIST`
  from the data directory or downloaded by it.
* **scikit-learn's digits** (1,797 images of 8×8 pixels, from the UCI repository),
  which ship inside the ``scikit-learn`` package and so are always there: the last
  resort of a build with neither file set nor a network. Every page built on them
  says so in a warning box.

Mini-batches come from :class:`BatchIterator`, which slices tensors that already
sit in memory (on the GPU when there is one) instead of indexing a ``Dataset`` one
sample at a time.

Taught in the Introduction and in chapter 10 (Epochs, batches & iterations).
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dlbook.validation import check_int, check_seed

#: Environment variable naming the data directory (default ``~/.cache/dlbook``).
DATA_ENV = "DLBOOK_DATA"
#: Set to ``1`` to skip the network check and never download.
OFFLINE_ENV = "DLBOOK_OFFLINE"
#: Set to ``fashion-mnist``, ``mnist`` or ``digits`` to force :func:`load_dataset`'s choice.
DATASET_ENV = "DLBOOK_DATASET"
#: Environment variable naming the folder of Debian's ``dataset-fashion-mnist`` files
#: (default :data:`DEBIAN_FASHION_DIR`); set it to an empty folder to ignore the package.
SYSTEM_DATA_ENV = "DLBOOK_SYSTEM_DATA"
#: Where Debian's package ``dataset-fashion-mnist`` puts the four gzipped IDX files.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

#: The dataset names :func:`load_dataset` accepts (besides ``"auto"``).
DATASET_NAMES = ("fashion-mnist", "mnist", "digits")

#: The four files torchvision's MNIST and FashionMNIST read, by split: (images, labels).
MNIST_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Fashion-MNIST's ten classes, in label order (from the dataset's README).
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

# The host each torchvision class downloads from, probed before a download is tried.
_HOSTS = {
    "mnist": ("ossci-datasets.s3.amazonaws.com", 443),
    "fashion-mnist": ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
}
# The folder torchvision reads each set from, under the data directory.
_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

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
        name: a short name for the page ("Fashion-MNIST", "MNIST", "digits").
        description: one sentence saying what the data is.
        image_shape: ``(H, W)``, to turn a row back into a picture.
        num_classes: number of classes (10 for all three datasets).
        source: where the files came from, in words and without a path of this
            machine ("Debian's package dataset-fashion-mnist", "the data directory",
            "downloaded by torchvision", "shipped inside scikit-learn").
        classes: the name of each class, in label order.
        notes: sentences the page must show (why a fallback was taken).

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
    source: str = ""
    classes: tuple[str, ...] = DIGIT_CLASSES

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
        ValueError: Invalid n_train: 0 (expected an integer in [1, 1079])
        """
        n = len(self.x_train)
        check_int("n_train", n_train, low=1, high=n)
        g = torch.Generator().manual_seed(check_seed(seed))
        idx = torch.randperm(n, generator=g)[:n_train].to(self.x_train.device)
        return replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx])

    def summary(self) -> str:
        """One line: the dataset and the size of each split.

        >>> load_digits().summary()
        'digits: 1,079 train / 359 validation / 359 test examples of 8×8 pixels, 10 classes'
        """
        h, w = self.image_shape
        return (
            f"{self.name}: {len(self.x_train):,} train / {len(self.x_val):,} validation / "
            f"{len(self.x_test):,} test examples of {h}×{w} pixels, {self.num_classes} classes"
        )

    @property
    def is_fallback(self) -> bool:
        """Whether these are scikit-learn's 8×8 digits, the last-resort stand-in for the book's data.

        >>> load_digits().is_fallback
        True
        """
        return self.name == "digits"


def _as_device(device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"Invalid device: {device!r} (expected e.g. 'cpu', 'cuda', 'cuda:0' or 'mps')") from exc




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


def network_available(
    host: str = _HOSTS["fashion-mnist"][0], port: int = _HOSTS["fashion-mnist"][1], timeout: float = 1.5
) -> bool:
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


def write_mnist(
    root: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor, *, train: bool, dataset: str = "mnist"
) -> Path:
    """Write ``images`` (``(N, 28, 28)`` uint8) and ``labels`` (``(N,)`` uint8) where torchvision looks.

    The files go to ``root/MNIST/raw/`` (``dataset="mnist"``) or
    ``root/FashionMNIST/raw/`` (``dataset="fashion-mnist"``) under the names
    torchvision expects, so that ``torchvision.datasets.MNIST(root)`` (or
    ``FashionMNIST``), and :func:`load_mnist` (or :func:`load_fashion_mnist`), read them.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> raw = write_mnist(root, torch.zeros(3, 28, 28, dtype=torch.uint8), torch.tensor([1, 2, 3], dtype=torch.uint8), train=False)
    >>> raw.name, raw.parent.name, sorted(p.name for p in raw.iterdir())
    ('raw', 'MNIST', ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'])
    """
    if dataset not in _FOLDERS:
        raise ValueError(f"Invalid dataset: {dataset!r} (expected 'mnist' or 'fashion-mnist')")
    images, labels = torch.as_tensor(images), torch.as_tensor(labels)
    for name, t in (("images", images), ("labels", labels)):
        if t.dtype != torch.uint8:
            raise TypeError(f"Invalid {name} dtype: {t.dtype} (MNIST files hold torch.uint8)")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"Invalid shapes: images {tuple(images.shape)}, labels {tuple(labels.shape)} "
            "(expected (N, H, W) and (N,))"
        )
    raw = _raw_dir(dataset, root)
    image_name, label_name = MNIST_FILES[train]
    write_idx(raw / image_name, images)
    write_idx(raw / label_name, labels)
    return raw


def _raw_dir(dataset: str, root: str | os.PathLike | None = None) -> Path:
    return data_dir(root) / _FOLDERS[dataset] / "raw"


def _check_idx(path: Path, ndim: int, title: str = "MNIST") -> None:
    """Raise :class:`DataError` unless ``path`` is a complete IDX file of ``ndim`` dimensions."""
    fix = (
        f"Delete it and run again with a network to re-download, or put an intact copy there "
        f"(the data directory is set by ${DATA_ENV})."
    )
    if not path.is_file():
        raise DataError(f"{title} file missing: {path}. {fix}")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4 + 4 * ndim)
    if len(head) < 4 + 4 * ndim or head[:3] != b"\x00\x00\x08" or head[3] != ndim:
        raise DataError(f"{title} file corrupt (not an IDX file of {ndim} dimensions): {path}. {fix}")
    dims = struct.unpack(f">{ndim}I", head[4:])
    expected = 4 + 4 * ndim + math.prod(dims)
    if size != expected:
        raise DataError(
            f"{title} file truncated or corrupt: {path} holds {size} bytes, its header promises "
            f"{expected}. {fix}"
        )


def _files_present(raw: Path, suffix: str = "") -> bool:
    return all((raw / (name + suffix)).is_file() for pair in MNIST_FILES.values() for name in pair)


def mnist_available(root: str | os.PathLike | None = None, dataset: str = "mnist") -> bool:
    """Whether all four files of ``dataset`` exist in the data directory (their content is not checked here).

    >>> mnist_available("/nonexistent"), mnist_available("/nonexistent", "fashion-mnist")
    (False, False)
    """
    if dataset not in _FOLDERS:
        raise ValueError(f"Invalid dataset: {dataset!r} (expected 'mnist' or 'fashion-mnist')")
    return _files_present(_raw_dir(dataset, root))


def system_fashion_dir() -> Path | None:
    """The folder of Debian's ``dataset-fashion-mnist`` files, or ``None`` if the package is not installed.

    ``$DLBOOK_SYSTEM_DATA`` replaces the default :data:`DEBIAN_FASHION_DIR` (the
    tests point it at an empty folder to play a machine without the package).

    >>> import os; os.environ["DLBOOK_SYSTEM_DATA"] = "/nonexistent"
    >>> system_fashion_dir() is None
    True
    >>> del os.environ["DLBOOK_SYSTEM_DATA"]
    """
    folder = Path(os.environ.get(SYSTEM_DATA_ENV) or DEBIAN_FASHION_DIR)
    return folder if _files_present(folder, ".gz") else None


def _copy_system_fashion(system: Path, raw: Path) -> None:
    """Decompress Debian's four ``.gz`` files into ``raw``, where torchvision's FashionMNIST reads them.

    Several kernels of a parallel build may do this at once on a first build: each
    writes its own temporary file (a unique name from :mod:`tempfile`) and renames it
    into place, an atomic step, so a reader never sees a half-written file and no
    writer loses its file to another's rename.
    """
    raw.mkdir(parents=True, exist_ok=True)
    for pair in MNIST_FILES.values():
        for name in pair:
            src, dest = system / f"{name}.gz", raw / name
            fd, name_tmp = tempfile.mkstemp(dir=raw, prefix=f"{name}.", suffix=".partial")
            tmp = Path(name_tmp)
            try:
                with gzip.open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (OSError, EOFError) as exc:
                tmp.unlink(missing_ok=True)
                raise DataError(
                    f"Fashion-MNIST file corrupt: {src} does not decompress ({exc}). "
                    "Reinstall Debian's package dataset-fashion-mnist."
                ) from exc
            tmp.replace(dest)


def _split(x: torch.Tensor, y: torch.Tensor, n_val: int, seed: int):
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:n_val], perm[n_val:]
    return x[train], y[train], x[val], y[val]


def _load_torchvision(dataset: str, root, *, download: bool, val_size: int | None, seed: int, source: str) -> Splits:
    """Read one of the 28×28 sets through its torchvision class, after checking every file."""
    from torchvision import datasets  # imported here: torchvision is slow to import

    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    title = _TITLES[dataset]
    seed = check_seed(seed)
    root = data_dir(root)
    raw = _raw_dir(dataset, root)
    if download and not _files_present(raw):
        cls(root, train=True, download=True)
        cls(root, train=False, download=True)
    for pair in MNIST_FILES.values():
        _check_idx(raw / pair[0], 3, title)
        _check_idx(raw / pair[1], 1, title)
    parts = {}
    for train in (True, False):
        ds = cls(root, train=train, download=False)
        if len(ds.data) != len(ds.targets):
            raise DataError(
                f"{title} images and labels disagree in {raw}: {len(ds.data)} images, {len(ds.targets)} labels."
            )
        parts[train] = (ds.data.reshape(len(ds.data), -1).float() / 255.0, ds.targets.long())
        h, w = ds.data.shape[1:]
    x, y = parts[True]
    if val_size is None:
        val_size = len(x) // 6
    if isinstance(val_size, bool) or not isinstance(val_size, int) or not 0 < val_size < len(x):
        raise ValueError(f"Invalid val_size: {val_size!r} (expected 1..{len(x) - 1})")
    x_train, y_train, x_val, y_val = _split(x, y, val_size, seed)
    if dataset == "mnist":
        description = "MNIST, greyscale images of handwritten digits"
        classes = DIGIT_CLASSES
    else:
        description = "Fashion-MNIST (Xiao et al. 2017), greyscale photographs of ten kinds of clothing"
        classes = FASHION_CLASSES
    return Splits(
        name=title,
        description=description,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=parts[False][0],
        y_test=parts[False][1],
        image_shape=(int(h), int(w)),
        source=source,
        classes=classes,
    )


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
    source = "downloaded by torchvision" if download and not mnist_available(root) else "the data directory"
    return _load_torchvision("mnist", root, download=download, val_size=val_size, seed=seed, source=source)


def load_fashion_mnist(
    root: str | os.PathLike | None = None, *, download: bool = False, val_size: int | None = None, seed: int = 0
) -> Splits:
    """Fashion-MNIST through :class:`torchvision.datasets.FashionMNIST`, as flat ``float32`` tensors in :math:`[0, 1]`.

    The book's dataset: 70,000 greyscale photographs of clothing, 28×28 pixels, in
    ten classes (:data:`FASHION_CLASSES`), in MNIST's file format and size. The
    files are looked for in this order:

    1. the data directory, ``root/FashionMNIST/raw`` (see :func:`data_dir`);
    2. Debian's package ``dataset-fashion-mnist`` (:func:`system_fashion_dir`),
       whose gzipped files are decompressed into the data directory once;
    3. a download by torchvision, when ``download=True``.

    The split, the checks and the errors are those of :func:`load_mnist`: 50,000
    training and 10,000 validation images (seeded) from the 60,000, and the 10,000
    test images as the test set.

    >>> import os; os.environ["DLBOOK_SYSTEM_DATA"] = "/nonexistent"
    >>> load_fashion_mnist("/nonexistent")
    Traceback (most recent call last):
    ...
    dlbook.data.DataError: Fashion-MNIST file missing: /nonexistent/FashionMNIST/raw/train-images-idx3-ubyte. Delete it and run again with a network to re-download, or put an intact copy there (the data directory is set by $DLBOOK_DATA).
    >>> del os.environ["DLBOOK_SYSTEM_DATA"]
    """
    raw = _raw_dir("fashion-mnist", root)
    system = system_fashion_dir()
    if _files_present(raw):
        source = "the data directory"
    elif system is not None:
        # A decompressed copy of the package's files, kept apart from the data directory's own.
        root = data_dir(root) / "debian"
        raw = _raw_dir("fashion-mnist", root)
        if not _files_present(raw) or any(
            (system / f"{n}.gz").stat().st_mtime > (raw / n).stat().st_mtime for p in MNIST_FILES.values() for n in p
        ):
            _copy_system_fashion(system, raw)
        source = "Debian's package dataset-fashion-mnist"
    elif download:
        source = "downloaded by torchvision"
    else:
        source = "the data directory"
    return _load_torchvision("fashion-mnist", root, download=download, val_size=val_size, seed=seed, source=source)


def load_digits(*, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's 8×8 handwritten digits, split (seeded) into train, validation and test.

    1,797 images from the UCI "Optical Recognition of Handwritten Digits" set, 16
    grey levels each, scaled here to :math:`[0, 1]` by dividing by 16. The data
    ships inside scikit-learn, so this works with no network. It is the book's last
    resort: a page built on it says so (see :func:`dlbook.pages.stamp`).

    >>> s = load_digits()
    >>> float(s.x_train.max()), s.y_train.dtype
    (1.0, torch.int64)
    >>> load_digits(val_fraction=0.9)
    Traceback (most recent call last):
    ...
    ValueError: Invalid fractions: val_fraction=0.9, test_fraction=0.2 (each in (0, 1), sum below 1)
    """
    seed = check_seed(seed)
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
        description="scikit-learn's handwritten digits (1,797 images from the UCI optical recognition set)",
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        image_shape=(8, 8),
        source="shipped inside scikit-learn",
    )


def _dataset_name(name: str) -> str:
    if name == "auto":
        name = os.environ.get(DATASET_ENV) or "auto"
    if name not in ("auto", *DATASET_NAMES):
        raise ValueError(f"Invalid dataset name: {name!r} (expected 'auto', 'fashion-mnist', 'mnist' or 'digits')")
    return name


def resolve_dataset(name: str = "auto", root: str | os.PathLike | None = None) -> tuple[str, list[Path]]:
    """Which dataset :func:`load_dataset` would load now, and the files it would read, without loading it.

    Returns ``(name, files)``: ``name`` one of :data:`DATASET_NAMES` and ``files``
    the data files found (empty for the digits, or for a set still to be downloaded).
    The build keys its cache on these files (see :func:`dlbook.build.build_key`).
    Unlike :func:`load_dataset` it never probes the network: a set that is not on
    disk resolves to what an offline machine would load.

    >>> import os; os.environ["DLBOOK_SYSTEM_DATA"] = "/nonexistent"
    >>> resolve_dataset("auto", "/nonexistent")
    ('digits', [])
    >>> del os.environ["DLBOOK_SYSTEM_DATA"]
    """
    name = _dataset_name(name)
    def files(raw: Path, suffix: str = "") -> list[Path]:
        return [raw / (n + suffix) for pair in MNIST_FILES.values() for n in pair]
    if name in ("auto", "fashion-mnist"):
        raw = _raw_dir("fashion-mnist", root)
        if _files_present(raw):
            return "fashion-mnist", files(raw)
        system = system_fashion_dir()
        if system is not None:
            return "fashion-mnist", files(system, ".gz")
        if name == "fashion-mnist":
            return name, []
        return "digits", []
    if name == "mnist":
        raw = _raw_dir("mnist", root)
        return name, files(raw) if _files_present(raw) else []
    return "digits", []


def load_dataset(name: str = "auto", root: str | os.PathLike | None = None, *, seed: int = 0) -> Splits:
    """The dataset a chapter trains on.

    ``name`` is one of ``"fashion-mnist"``, ``"mnist"``, ``"digits"`` or ``"auto"``
    (the default, overridable with ``$DLBOOK_DATASET``), which takes the first that
    works of:

    1. Fashion-MNIST files in the data directory or from Debian's package
       ``dataset-fashion-mnist`` (see :func:`load_fashion_mnist`);
    2. Fashion-MNIST downloaded, when :func:`network_available` says a network is there;
    3. scikit-learn's digits, with a note saying why (see ``Splits.notes``).

    ``"fashion-mnist"`` and ``"mnist"`` download their files when they are missing and
    a network is reachable, and otherwise fail with a :class:`DataError` naming the
    missing file; ``"digits"`` always works.

    >>> import os; os.environ["DLBOOK_OFFLINE"] = "1"; os.environ["DLBOOK_SYSTEM_DATA"] = "/nonexistent"
    >>> load_dataset("auto", "/nonexistent").name
    'digits'
    >>> load_dataset("cifar")
    Traceback (most recent call last):
    ...
    ValueError: Invalid dataset name: 'cifar' (expected 'auto', 'fashion-mnist', 'mnist' or 'digits')
    >>> del os.environ["DLBOOK_OFFLINE"], os.environ["DLBOOK_SYSTEM_DATA"]
    """
    name = _dataset_name(name)
    if name == "digits":
        return load_digits(seed=seed)
    if name == "mnist":
        download = not mnist_available(root) and network_available(*_HOSTS["mnist"])
        return load_mnist(root, download=download, seed=seed)
    on_disk = bool(resolve_dataset("fashion-mnist", root)[1])
    if name == "fashion-mnist" or on_disk or network_available(*_HOSTS["fashion-mnist"]):
        download = not on_disk and network_available(*_HOSTS["fashion-mnist"])
        return load_fashion_mnist(root, download=download, seed=seed)
    splits = load_digits(seed=seed)
    reason = (
        "No Fashion-MNIST files (neither in the data directory nor from Debian's package "
        "dataset-fashion-mnist) and no network to download them, so this page was built on "
        "scikit-learn's 8×8 digits instead: 1,079 small training images, on which the "
        "differences between methods are a few images and the numbers are not the book's."
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
        seed: seed of the shuffling generator, an integer in ``[0, 2**32)``.
        generator: a :class:`torch.Generator` to shuffle with instead (as
            :class:`torch.utils.data.DataLoader` takes one); ``seed`` is then unused.
            It is used, and advanced, as it is.

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
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not tensors:
            raise ValueError("Invalid tensors: none given (expected at least one tensor)")
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"Invalid tensor: {type(t).__name__} (expected torch.Tensor)")
        sizes = [len(t) for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"Invalid tensors: first dimensions differ ({sizes})")
        batch_size = check_int("batch_size", batch_size, low=1)
        if generator is None:
            generator = torch.Generator().manual_seed(check_seed(seed))
        elif not isinstance(generator, torch.Generator):
            raise TypeError(f"Invalid generator: {type(generator).__name__} (expected torch.Generator)")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
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
