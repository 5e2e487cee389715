"""Loading a dataset and splitting it into train, validation and test tensors (:class:`Splits`).

:func:`load_dataset` picks the book's dataset (Fashion-MNIST, else MNIST on request,
else scikit-learn's digits with a note saying why) from the files
:mod:`dlbook.data.sources` finds, and returns flat ``float32`` tensors in :math:`[0, 1]`
with a seeded validation split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import torch

from dlbook.data.sources import (
    DataError,
    MNIST_FILES,
    _HOSTS,
    _TITLES,
    _check_idx,
    _copy_system_fashion,
    _dataset_name,
    _files_present,
    _raw_dir,
    data_dir,
    mnist_available,
    network_available,
    resolve_dataset,
    system_fashion_dir,
)
from dlbook.validation import check_int, check_seed

#: Fashion-MNIST's ten classes, in label order (from the dataset's README).
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))


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
