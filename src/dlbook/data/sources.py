"""Finding the dataset's files: the data directory, Debian's package, IDX files, the network probe.

Where the 28×28 sets come from, in the order :func:`dlbook.data.load_dataset` tries
them: the data directory (:func:`data_dir`, ``$DLBOOK_DATA``), Debian's package
``dataset-fashion-mnist`` (:func:`system_fashion_dir`), or a download by torchvision
when :func:`network_available` says a network is there. :func:`resolve_dataset`
answers which set would load and from which files, without loading it (the build keys
its cache on them). IDX files, the format of MNIST and Fashion-MNIST, are checked
before they are read and can be written (:func:`write_idx`, :func:`write_mnist`).
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
from pathlib import Path

import numpy as np
import torch


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

    __module__ = "dlbook.data"  # where a user imports it from, and how a traceback names it


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


