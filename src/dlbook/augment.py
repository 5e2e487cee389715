r"""Data augmentation: torchvision's image transforms applied to the book's flat rows of pixels.

Taught in chapter 07 (Regularization).

The book keeps images as flat rows, ``(N, H*W)``; torchvision's transforms work on
images, ``(N, C, H, W)``. :class:`RowTransform` reshapes each mini-batch to
single-channel images, draws *fresh random parameters for every image* (a batch call
of a :mod:`torchvision.transforms.v2` transform would give the whole batch one and
the same rotation) and flattens the result back, so it can be passed straight to
``dlbook.train.fit(..., transform=...)``.

A random affine transform (:func:`random_affine`, or any
:class:`torchvision.transforms.v2.RandomAffine`) is applied to the whole batch at once:
one :func:`torch.nn.functional.affine_grid`-style grid per image, one
:func:`torch.nn.functional.grid_sample` call for the batch, with each image's own
angle, shift, zoom and shear. Any other transform is applied image by image.

The random numbers come from torch's global generator, drawn in the order torchvision
draws them image by image, so :func:`dlbook.seed_everything` makes every augmented
batch repeatable and the result is exactly torchvision's, image for image; pass
``generator=`` to draw from a generator of your own instead and leave the global ones
(torch's, Python's :mod:`random`, NumPy's) exactly as they were.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from dlbook.validation import check_real


class _OwnGenerators:
    """Private stand-ins for every global generator a transform may draw from, all following from ``generator``.

    torch's CPU generator is ``generator`` itself (torchvision draws its parameters there);
    Python's :mod:`random` (torchvision's v1 ``RandomChoice``, ``RandomOrder``), NumPy's
    ``np.random`` and a CUDA device's generator (a transform drawing noise on the rows'
    GPU) get states of their own, seeded from ``generator.initial_seed()``, so they take no
    draws from ``generator`` and the torch draws stay in torchvision's order.
    """

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator
        self.seed = generator.initial_seed()  # an integer in [0, 2**64)
        self.python = random.Random(self.seed).getstate()
        self.numpy = np.random.RandomState([self.seed & 0xFFFFFFFF, self.seed >> 32]).get_state()
        self.cuda: dict[int, torch.Tensor] = {}  # device index -> state, made on first use

    @contextlib.contextmanager
    def installed(self, device: torch.device):
        """Within the block the global generators *are* these: their states in, their advanced states out."""
        cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
        python, numpy_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=cuda):  # torch's global states are put back afterwards
            torch.set_rng_state(self.generator.get_state())
            random.setstate(self.python)
            np.random.set_state(self.numpy)
            for index in cuda:
                if index in self.cuda:
                    torch.cuda.set_rng_state(self.cuda[index], index)
                else:
                    torch.cuda.default_generators[index].manual_seed(self.seed)
            try:
                yield
                self.generator.set_state(torch.get_rng_state())
                self.python, self.numpy = random.getstate(), np.random.get_state()
                self.cuda.update({index: torch.cuda.get_rng_state(index) for index in cuda})
            finally:
                random.setstate(python)
                np.random.set_state(numpy_state)


def inverse_affine_matrix(
    angle: float, translate: Sequence[float], scale: float, shear: Sequence[float], center: Sequence[float] = (0.0, 0.0)
) -> list[float]:
    r"""The :math:`2 \times 3` matrix that maps each *output* pixel back to where it comes from in the input.

    The transform is :math:`M = T\,C\,R S\,\mathrm{Sh}\,C^{-1}`: shear, then scale
    :math:`s`, then rotate by ``angle`` (degrees) about the centre :math:`C`, then
    translate by :math:`T`. Sampling needs the inverse: for every output pixel, the
    input position to read. With :math:`a = \cos(r - s_y)/\cos s_y`,
    :math:`b = -(a \tan s_x + \sin r)`, :math:`c = \sin(r - s_y)/\cos s_y`,
    :math:`d = \cos r - c \tan s_x` (:math:`\det = 1`):

    .. math:: M^{-1} = C \begin{pmatrix} d & -b \\ -c & a \end{pmatrix} \frac1s \, C^{-1} T^{-1}

    Coordinates are in pixels, relative to the image centre (``center`` moves it).
    Written after torchvision's ``_get_inverse_affine_matrix``, whose numbers it
    reproduces exactly (``tests/test_augment.py``).

    Taught in chapter 07 (Regularization).

    >>> [v + 0.0 for v in inverse_affine_matrix(0.0, (1.0, 0.0), 1.0, (0.0, 0.0))]   # shift right by 1: read 1 to the left
    [1.0, 0.0, -1.0, 0.0, 1.0, 0.0]
    """
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -(a * math.tan(sx) + math.sin(rot))
    c = math.sin(rot - sy) / math.cos(sy)
    d = math.cos(rot) - c * math.tan(sx)
    matrix = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]  # (R S Sh)^{-1}
    matrix[2] += cx - matrix[0] * (cx + tx) - matrix[1] * (cy + ty)  # then C ... C^{-1} T^{-1}
    matrix[5] += cy - matrix[3] * (cx + tx) - matrix[4] * (cy + ty)
    return matrix


def _affine_batch(images: torch.Tensor, matrices: list[list[float]], mode: str, fill: float | None) -> torch.Tensor:
    """Warp each image of ``(N, C, H, W)`` float ``images`` by its own inverse matrix, in one ``grid_sample`` call.

    The grid is torchvision's (``_affine_grid``): pixel centres relative to the image
    centre, mapped by each matrix, then scaled to ``[-1, 1]``; out-of-image positions
    read 0 and are filled with ``fill`` through a sampled mask of ones, as torchvision does.
    """
    n, _, h, w = images.shape
    dtype, device = images.dtype, images.device
    theta = torch.tensor(matrices, dtype=dtype).reshape(n, 2, 3).to(device, non_blocking=True)
    base = torch.empty(1, h, w, 3, dtype=dtype, device=device)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=device))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, device=device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div_(torch.tensor([0.5 * w, 0.5 * h], dtype=dtype, device=device))
    grid = base.view(1, h * w, 3).expand(n, h * w, 3).bmm(scaled).view(n, h, w, 2)
    if fill is not None:  # a channel of ones: where it comes out below 1, the image was left
        images = torch.cat((images, torch.ones(n, 1, h, w, dtype=dtype, device=device)), dim=1)
    out = F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is None:
        return out
    out, mask = out[:, :-1], out[:, -1:].expand_as(out[:, :-1])
    fill_value = torch.tensor(fill, dtype=dtype, device=device)
    if mode == "nearest":
        return torch.where(mask < 0.5, fill_value, out)
    return out.sub_(fill_value).mul_(mask).add_(fill_value)  # mask * image + (1 - mask) * fill


def _batched_affine(transform) -> tuple[str, float | None] | None:
    """``(mode, fill)`` if ``transform`` is a RandomAffine this module can apply to a whole batch, else ``None``."""
    v2 = sys.modules.get("torchvision.transforms.v2")  # not imported: then it cannot be a v2 transform
    if v2 is None or not isinstance(transform, v2.RandomAffine):
        return None
    mode = getattr(transform.interpolation, "value", transform.interpolation)
    fill = transform.fill
    if isinstance(fill, (list, tuple)) and len(fill) == 1:
        fill = fill[0]
    if mode not in ("nearest", "bilinear") or not (fill is None or isinstance(fill, (int, float))):
        return None
    return mode, None if fill is None else float(fill)


class RowTransform:
    r"""Apply an image transform to each row of a ``(N, H*W)`` batch, with fresh random parameters for every image.

    .. math:: x_i \mapsto \operatorname{flatten}\big(T_{\theta_i}(\operatorname{reshape}_{1 \times H \times W}(x_i))\big),
              \qquad \theta_i \text{ drawn afresh for each } i

    A :class:`torchvision.transforms.v2.RandomAffine` (what :func:`random_affine`
    makes) runs on the whole batch at once: its parameters are drawn image by image
    exactly as torchvision draws them, and one ``grid_sample`` call warps every image by
    its own matrix, so the result equals torchvision's, image for image, at a fraction
    of the time (one kernel instead of one small call per image). Any other transform
    is called once per image.

    Args:
        transform: a callable on one ``(1, H, W)`` image tensor, e.g. any
            :mod:`torchvision.transforms.v2` transform; it must keep the shape.
        image_shape: ``(H, W)``, e.g. ``data.image_shape``.
        generator: a CPU :class:`torch.Generator` to draw the random parameters from;
            the global generators (torch's, Python's :mod:`random`, NumPy's) are then
            left exactly as they were, and whatever else the transform draws from them
            comes from private streams seeded by ``generator.initial_seed()``.
            ``None`` (the default) uses the global generators, as torchvision does,
            which :func:`dlbook.seed_everything` seeds.

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

    def __init__(
        self,
        transform: Callable[[torch.Tensor], torch.Tensor],
        image_shape: Sequence[int],
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        if not callable(transform):
            raise TypeError(f"Invalid transform: {transform!r} (expected a callable)")
        shape = tuple(image_shape)
        if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"Invalid image_shape: {image_shape!r} (expected two positive integers (H, W))")
        if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
            raise TypeError(f"Invalid generator: {generator!r} (expected a CPU torch.Generator)")
        self.transform = transform
        self.image_shape = shape
        self.generator = generator
        self._own = None if generator is None else _OwnGenerators(generator)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        h, w = self.image_shape
        if not isinstance(rows, torch.Tensor):
            raise TypeError(f"Invalid rows: {type(rows).__name__} (expected torch.Tensor)")
        if rows.ndim != 2 or rows.shape[1] != h * w:
            raise ValueError(f"Invalid rows: shape {tuple(rows.shape)} (expected (N, {h * w}) for {h}×{w} images)")
        images = rows.reshape(len(rows), 1, h, w)
        batched = _batched_affine(self.transform) if rows.is_floating_point() and len(rows) else None
        with contextlib.nullcontext() if self._own is None else self._own.installed(rows.device):
            if batched is None:
                out = torch.stack([self.transform(image) for image in images]) if len(rows) else images
            else:
                out = self._affine(images, *batched)
        return out.reshape(len(rows), h * w)

    def _affine(self, images: torch.Tensor, mode: str, fill: float | None) -> torch.Tensor:
        t, (h, w) = self.transform, self.image_shape
        make_params = getattr(t, "make_params", None) or t._get_params  # torchvision < 0.21 calls it _get_params
        center = (0.0, 0.0) if t.center is None else (t.center[0] - w * 0.5, t.center[1] - h * 0.5)
        matrices = []
        for _ in range(len(images)):  # torchvision's draws, in torchvision's order
            p = make_params([images[0]])
            matrices.append(inverse_affine_matrix(float(p["angle"]), [float(v) for v in p["translate"]],
                                                  p["scale"], [float(v) for v in p["shear"]], center))
        return _affine_batch(images, matrices, mode, fill)

    def __repr__(self) -> str:
        return f"RowTransform({self.transform!r}, image_shape={self.image_shape})"


def random_affine(
    image_shape: Sequence[int],
    degrees: float = 10.0,
    translate: float = 0.1,
    scale: tuple[float, float] | None = None,
    *,
    generator: torch.Generator | None = None,
) -> RowTransform:
    r"""Small random rotations and shifts of each image: the usual augmentation for handwritten digits.

    Wraps :class:`torchvision.transforms.v2.RandomAffine` with bilinear
    interpolation (on 8×8 images nearest-neighbour would move whole pixels only)
    and a black (0) fill, in a :class:`RowTransform`, which applies it to a whole
    batch in one call. Each image is rotated by an angle drawn uniformly from
    :math:`[-d, d]` degrees and shifted by up to ``translate`` times its width and
    height (rounded to whole pixels, as torchvision does).

    No flips: a mirrored digit is not the same digit (a mirrored 2 looks like a 5,
    a mirrored 7 like nothing), so flipping would teach the model wrong labels.

    Args:
        image_shape: ``(H, W)``.
        degrees: :math:`d \ge 0`, the largest rotation.
        translate: the largest shift, as a fraction of the width and height, in :math:`[0, 1]`.
        scale: optional ``(low, high)`` range of zoom factors.
        generator: see :class:`RowTransform` (default: torch's global generator).

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
    ValueError: Invalid degrees: -5 (expected a number >= 0)
    """
    from torchvision.transforms import v2  # imported here: torchvision is slow to import

    check_real("degrees", degrees, low=0.0)
    check_real("translate", translate, low=0.0, high=1.0)
    transform = v2.RandomAffine(
        degrees=degrees,
        translate=(translate, translate),
        scale=scale,
        interpolation=v2.InterpolationMode.BILINEAR,
        fill=0.0,
    )
    return RowTransform(transform, image_shape, generator=generator)
