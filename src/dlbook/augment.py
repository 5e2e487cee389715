r"""Data augmentation: torchvision's image transforms applied to the book's flat rows of pixels.

Taught in chapter 07 (Regularization).

The book keeps images as flat rows, ``(N, H*W)``; torchvision's transforms work on
images, ``(N, C, H, W)``. :class:`RowTransform` reshapes each mini-batch to
single-channel images, draws *fresh random parameters for every image* (a batch call
of a :mod:`torchvision.transforms.v2` transform would give the whole batch one and
the same rotation) and flattens the result back, so it can be passed straight to
``dlbook.train.fit(..., transform=...)``. The random numbers come from torch's
global generator, so :func:`dlbook.seed_everything` makes every augmented batch
repeatable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class RowTransform:
    r"""Apply an image transform to each row of a ``(N, H*W)`` batch, one image at a time.

    .. math:: x_i \mapsto \operatorname{flatten}\big(T_{\theta_i}(\operatorname{reshape}_{1 \times H \times W}(x_i))\big),
              \qquad \theta_i \text{ drawn afresh for each } i

    Args:
        transform: a callable on one ``(1, H, W)`` image tensor, e.g. any
            :mod:`torchvision.transforms.v2` transform; it must keep the shape.
        image_shape: ``(H, W)``, e.g. ``data.image_shape``.

    Shape: input ``(N, H*W)``, output ``(N, H*W)``, same dtype and device.

    Taught in chapter 07 (Regularization).

    >>> shift = RowTransform(lambda img: img.roll(1, dims=-1), (2, 3))   # any image function works
    >>> shift(torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]))
    tensor([[3., 1., 2., 6., 4., 5.]])
    >>> RowTransform(lambda img: img, (0, 3))
    Traceback (most recent call last):
    ...
    ValueError: Invalid image_shape: (0, 3) (expected two positive integers (H, W))
    """

    def __init__(self, transform: Callable[[torch.Tensor], torch.Tensor], image_shape: Sequence[int]) -> None:
        if not callable(transform):
            raise TypeError(f"Invalid transform: {transform!r} (expected a callable)")
        shape = tuple(image_shape)
        if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"Invalid image_shape: {image_shape!r} (expected two positive integers (H, W))")
        self.transform = transform
        self.image_shape = shape

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        h, w = self.image_shape
        if rows.ndim != 2 or rows.shape[1] != h * w:
            raise ValueError(f"Invalid rows: shape {tuple(rows.shape)} (expected (N, {h * w}) for {h}×{w} images)")
        images = rows.reshape(len(rows), 1, h, w)
        out = torch.stack([self.transform(image) for image in images])  # one random draw per image
        return out.reshape(len(rows), h * w)

    def __repr__(self) -> str:
        return f"RowTransform({self.transform!r}, image_shape={self.image_shape})"


def random_affine(
    image_shape: Sequence[int],
    degrees: float = 10.0,
    translate: float = 0.1,
    scale: tuple[float, float] | None = None,
) -> RowTransform:
    r"""Small random rotations and shifts of each image: the usual augmentation for handwritten digits.

    Wraps :class:`torchvision.transforms.v2.RandomAffine` with bilinear
    interpolation (on 8×8 images nearest-neighbour would move whole pixels only)
    and a black (0) fill, in a :class:`RowTransform`. Each image is rotated by an
    angle drawn uniformly from :math:`[-d, d]` degrees and shifted by up to
    ``translate`` times its width and height.

    No flips: a mirrored digit is not the same digit (a mirrored 2 looks like a 5,
    a mirrored 7 like nothing), so flipping would teach the model wrong labels.

    Args:
        image_shape: ``(H, W)``.
        degrees: :math:`d \ge 0`, the largest rotation.
        translate: the largest shift, as a fraction of the width and height, in :math:`[0, 1]`.
        scale: optional ``(low, high)`` range of zoom factors.

    Taught in chapter 07 (Regularization).

    >>> import dlbook
    >>> augment = random_affine((8, 8), degrees=10, translate=0.1)
    >>> rows = dlbook.data.load_digits().x_train[:4]
    >>> dlbook.seed_everything(0); a = augment(rows)
    >>> dlbook.seed_everything(0); b = augment(rows)
    >>> a.shape, torch.equal(a, b), torch.equal(a, rows)     # same shape, repeatable, changed
    (torch.Size([4, 64]), True, False)
    >>> random_affine((8, 8), degrees=-5)
    Traceback (most recent call last):
    ...
    ValueError: Invalid degrees: -5 (expected >= 0)
    """
    from torchvision.transforms import v2  # imported here: torchvision is slow to import

    if not degrees >= 0:
        raise ValueError(f"Invalid degrees: {degrees!r} (expected >= 0)")
    if not 0 <= translate <= 1:
        raise ValueError(f"Invalid translate: {translate!r} (expected a fraction in [0, 1])")
    transform = v2.RandomAffine(
        degrees=degrees,
        translate=(translate, translate),
        scale=scale,
        interpolation=v2.InterpolationMode.BILINEAR,
        fill=0.0,
    )
    return RowTransform(transform, image_shape)
