"""dlbook.augment: torchvision's transforms, one random draw per image, repeatable, usable by fit."""

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

import dlbook
from dlbook.augment import RowTransform, random_affine


@pytest.fixture(scope="module")
def digits():
    return dlbook.data.load_digits()


def test_row_transform_equals_torchvision_applied_image_by_image(digits):
    rows = digits.x_train[:16]
    transform = v2.RandomAffine(degrees=15, translate=(0.2, 0.2), interpolation=v2.InterpolationMode.BILINEAR)
    dlbook.seed_everything(0)
    ours = RowTransform(transform, (8, 8))(rows)
    dlbook.seed_everything(0)
    theirs = torch.stack([transform(img) for img in rows.reshape(16, 1, 8, 8)]).reshape(16, 64)
    assert torch.equal(ours, theirs)


def test_random_affine_draws_new_parameters_for_every_image(digits):
    dlbook.seed_everything(0)
    copies = digits.x_train[:1].repeat(20, 1)
    out = random_affine((8, 8))(copies)
    distinct = {tuple(row.tolist()) for row in out}
    assert len(distinct) == 20


def test_random_affine_is_repeatable_under_seed_everything_and_random_otherwise(digits):
    rows, augment = digits.x_train[:32], random_affine((8, 8))
    dlbook.seed_everything(1)
    a, b = augment(rows), augment(rows)
    dlbook.seed_everything(1)
    assert torch.equal(a, augment(rows)) and not torch.equal(a, b)


def test_random_affine_without_rotation_or_shift_is_the_identity(digits):
    rows = digits.x_train[:8]
    assert torch.equal(random_affine((8, 8), degrees=0, translate=0)(rows), rows)


def test_random_affine_keeps_shape_range_and_most_of_the_ink(digits):
    dlbook.seed_everything(0)
    rows = digits.x_train[:200]
    out = random_affine((8, 8), degrees=10, translate=0.1)(rows)
    assert out.shape == rows.shape and out.dtype == rows.dtype
    assert out.min() >= 0 and out.max() <= 1
    ink_ratio = out.sum(dim=1) / rows.sum(dim=1)  # a small rotation/shift moves ink, loses little off the edge
    assert 0.7 < ink_ratio.mean().item() <= 1.0


def test_fit_applies_the_transform_to_every_training_batch(digits):
    calls = []
    augment = random_affine(digits.image_shape)

    def counting(rows):
        calls.append(len(rows))
        return augment(rows)

    dlbook.seed_everything(0)
    model = dlbook.models.mlp([64, 16, 10])
    small = digits.subset(100)
    history = dlbook.train.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), small.train, small.val,
                               epochs=2, batch_size=32, transform=counting)
    assert calls == [32, 32, 32, 4] * 2 and history.epochs == 2


@pytest.mark.parametrize("call,error,match", [
    (lambda: RowTransform("flip", (8, 8)), TypeError, "transform"),
    (lambda: RowTransform(lambda x: x, (8,)), ValueError, "image_shape"),
    (lambda: RowTransform(lambda x: x, (8, 8))(torch.zeros(3, 63)), ValueError, "rows"),
    (lambda: random_affine((8, 8), degrees=-1), ValueError, "degrees"),
    (lambda: random_affine((8, 8), translate=1.5), ValueError, "translate"),
])
def test_augment_rejects_invalid_arguments(call, error, match):
    with pytest.raises(error, match=f"Invalid {match}"):
        call()


AFFINE_SETTINGS = {
    "rotate+shift, bilinear": dict(degrees=15, translate=(0.2, 0.2), interpolation=v2.InterpolationMode.BILINEAR, fill=0.0),
    "default (nearest, fill 0)": dict(degrees=30),
    "zoom and shear": dict(degrees=10, scale=(0.8, 1.2), shear=(-10, 10, -5, 5), interpolation=v2.InterpolationMode.BILINEAR),
    "grey fill, off-centre": dict(degrees=45, translate=(0.1, 0.3), fill=0.5, center=(2, 3), interpolation=v2.InterpolationMode.BILINEAR),
    "no fill": dict(degrees=20, fill=None, interpolation=v2.InterpolationMode.BILINEAR),
}


@pytest.mark.parametrize("shape", [(8, 8), (28, 28), (5, 9)])
@pytest.mark.parametrize("setting", AFFINE_SETTINGS)
def test_batched_random_affine_equals_torchvision_image_by_image(setting, shape):
    h, w = shape
    rows = torch.rand(24, h * w, generator=torch.Generator().manual_seed(1))
    transform = v2.RandomAffine(**AFFINE_SETTINGS[setting])
    torch.manual_seed(3)
    ours = RowTransform(transform, shape)(rows)
    ours_state = torch.get_rng_state()
    torch.manual_seed(3)
    theirs = torch.stack([transform(img) for img in rows.reshape(24, 1, h, w)]).reshape(24, h * w)
    assert torch.equal(ours, theirs)
    assert torch.equal(ours_state, torch.get_rng_state())  # the same draws: the next batch is torchvision's too


def test_random_affine_runs_on_the_whole_batch_without_calling_the_transform_per_image(digits, monkeypatch):
    augment = random_affine((8, 8))
    monkeypatch.setattr(type(augment.transform), "forward", lambda *a, **k: pytest.fail("called image by image"))
    dlbook.seed_everything(0)
    out = augment(digits.x_train[:64])
    assert out.shape == (64, 64) and not torch.equal(out, digits.x_train[:64])


# --------------------------------------------------------------------------- global random state
# generator=g: every draw follows from g and the global generators (torch's, NumPy's, Python's
# random) are left exactly as they were, whatever the transform draws from; generator=None: the
# global generators, as torchvision itself uses them.

from torchvision import transforms as v1  # noqa: E402

from rng_guard import leaves_global_rng_alone, moves_only  # noqa: E402

TRANSFORMS = {  # name: (a factory, which global generators it draws from without a generator of its own)
    "random_affine (batched)": (lambda g: random_affine((8, 8), generator=g), ["torch"]),
    "v2.RandomRotation": (lambda g: RowTransform(v2.RandomRotation(30), (8, 8), generator=g), ["torch"]),
    "v1.RandomChoice (Python's random)": (lambda g: RowTransform(v1.RandomChoice([lambda x: x, lambda x: x.flip(-1), lambda x: x.flip(-2)]), (8, 8), generator=g), ["random"]),
    "NumPy noise": (lambda g: RowTransform(lambda img: img + torch.from_numpy(np.random.rand(*img.shape)).float(), (8, 8), generator=g), ["numpy"]),
    "all three": (lambda g: RowTransform(v1.RandomOrder([lambda x: x + np.random.rand(), v2.RandomRotation(30)]), (8, 8), generator=g), ["torch", "numpy", "random"]),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_a_generator_of_its_own_repeats_and_leaves_every_global_generator_alone(digits, name):
    make, _ = TRANSFORMS[name]
    rows = digits.x_train[:16]
    dlbook.seed_everything(0)
    with leaves_global_rng_alone():
        a = make(torch.Generator().manual_seed(7))(rows)
        augment = make(torch.Generator().manual_seed(7))
        b, c = augment(rows), augment(rows)
        d = make(torch.Generator().manual_seed(8))(rows)
    assert torch.equal(a, b)                                     # same seed, same draws
    assert not torch.equal(b, c) and not torch.equal(a, d)      # the generator advances; another seed, other draws


@pytest.mark.parametrize("name", TRANSFORMS)
def test_without_a_generator_the_transform_draws_from_the_global_generators_as_torchvision(digits, name):
    make, draws_from = TRANSFORMS[name]
    dlbook.seed_everything(0)
    with moves_only(*draws_from):
        make(None)(digits.x_train[:16])


def test_a_generator_of_its_own_draws_what_torchvision_draws_from_a_global_generator_in_its_state(digits):
    rows = digits.x_train[:16]
    transform = v2.RandomAffine(degrees=15, translate=(0.2, 0.2), interpolation=v2.InterpolationMode.BILINEAR)
    ours = RowTransform(transform, (8, 8), generator=torch.Generator().manual_seed(5))(rows)
    torch.manual_seed(5)
    theirs = torch.stack([transform(img) for img in rows.reshape(16, 1, 8, 8)]).reshape(16, 64)
    assert torch.equal(ours, theirs)


def test_inverse_affine_matrix_is_torchvisions():
    from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix

    from dlbook.augment import inverse_affine_matrix

    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        angle, tx, ty, scale, sx, sy, cx, cy = (torch.rand(8, generator=g, dtype=torch.float64) * 2 - 1).tolist()
        args = (180 * angle, [5 * tx, 5 * ty], 1 + 0.5 * scale, [40 * sx, 40 * sy], [3 * cx, 3 * cy])
        assert inverse_affine_matrix(*args) == _get_inverse_affine_matrix(args[4], *args[:4])


def test_an_empty_batch_and_integer_images_still_work():
    transform = v2.RandomAffine(10)
    assert RowTransform(transform, (4, 4))(torch.zeros(0, 16)).shape == (0, 16)
    ints = torch.randint(0, 256, (3, 16), dtype=torch.uint8)
    out = RowTransform(transform, (4, 4))(ints)                    # torchvision's own path, image by image
    assert out.dtype == torch.uint8 and out.shape == (3, 16)
