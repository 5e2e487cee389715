"""dlbook.augment: torchvision's transforms, one random draw per image, repeatable, usable by fit."""

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
