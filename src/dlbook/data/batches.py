"""Mini-batches sliced from tensors already in memory (:class:`BatchIterator`): the hot path of training.

Instead of indexing a ``Dataset`` one sample at a time and collating, the rows of a
whole split sit in one tensor (on the GPU when there is one) and each batch is a slice
of it, after one seeded permutation per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from dlbook.validation import check_int, check_seed

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
        seed: seed of the shuffling generator, an integer in ``[0, 2**32)``; it draws
            nothing from the global generators. Unlike a ``DataLoader``, which
            shuffles from torch's global generator when given none, shuffling
            without a ``seed`` or ``generator`` uses seed 0.
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
