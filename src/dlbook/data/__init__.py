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

from dlbook.data.batches import BatchIterator
from dlbook.data.sources import (
    DATA_ENV,
    DATASET_ENV,
    DATASET_NAMES,
    DEBIAN_FASHION_DIR,
    MNIST_FILES,
    OFFLINE_ENV,
    SYSTEM_DATA_ENV,
    DataError,
    data_dir,
    mnist_available,
    network_available,
    resolve_dataset,
    system_fashion_dir,
    write_idx,
    write_mnist,
)
from dlbook.data.splits import (
    DIGIT_CLASSES,
    FASHION_CLASSES,
    Splits,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "BatchIterator",
    "DATA_ENV",
    "DATASET_ENV",
    "DATASET_NAMES",
    "DEBIAN_FASHION_DIR",
    "DIGIT_CLASSES",
    "FASHION_CLASSES",
    "MNIST_FILES",
    "OFFLINE_ENV",
    "SYSTEM_DATA_ENV",
    "DataError",
    "Splits",
    "data_dir",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_available",
    "network_available",
    "resolve_dataset",
    "system_fashion_dir",
    "write_idx",
    "write_mnist",
]
