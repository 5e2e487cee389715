"""What the Hypothesis tests of several modules draw: tensors in every memory layout, and the comparison with torch.

Not a test file (pytest does not collect it); ``tests/`` is on ``sys.path`` when pytest runs,
so a test file says ``from strategies import laid_out, assert_like_torch, ...``.

* :func:`laid_out`: a leaf tensor and the view of it a function sees (contiguous, transposed,
  sliced with a step, or expanded from a smaller tensor), in a given dtype, with an option to
  put exact zeros among the values (the kinks of ``|x|``, ``relu``, soft-thresholding).
* :func:`assert_like_torch`: dlbook's function and torch's give the same value, dtype, shape,
  and the same gradient at every leaf.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([torch.float32, torch.float64])
layouts = st.sampled_from(["contiguous", "transposed", "strided", "expanded"])
reductions = st.sampled_from(["mean", "sum", "none"])
#: Small shapes of one to four dimensions (the tests' time budget is a few seconds per file).
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
#: The spread of the drawn values: small, unit, and large enough to saturate every activation.
scales = st.sampled_from([0.1, 1.0, 10.0, 100.0, 1e4])


def laid_out(shape, layout, dtype, seed, scale=1.0, transform=None, zeros=False):
    """A leaf tensor laid out in memory as ``layout``, and the view of it of ``shape`` that the function sees.

    ``zeros=True`` sets about a third of the values to exactly 0 (after ``transform``), where
    functions built on ``|x|`` must give torch's subgradient.
    """
    g = torch.Generator().manual_seed(seed)

    def draw(s):
        t = scale * torch.randn(s, generator=g, dtype=torch.float64)
        t = transform(t) if transform else t
        if zeros:
            t = torch.where(torch.rand(s, generator=g, dtype=torch.float64) < 1 / 3, torch.zeros_like(t), t)
        return t.to(dtype)

    leaf = draw(leaf_shape(shape, layout)).requires_grad_(True)
    return leaf, view(leaf, shape, layout)


def leaf_shape(shape, layout):
    """The shape of the tensor in memory whose :func:`view` of ``layout`` has ``shape``."""
    if layout == "transposed" and len(shape) >= 2:
        return tuple(shape[::-1])
    if layout == "strided" and len(shape) >= 1:
        return (*shape[:-1], 2 * shape[-1])
    if layout == "expanded" and len(shape) >= 1:
        return (*shape[:-1], 1)
    return tuple(shape)


def view(leaf, shape, layout):
    """The view of ``leaf`` (shaped by :func:`leaf_shape`) that has ``shape``: differentiable, so gradcheck can use it."""
    if layout == "transposed" and len(shape) >= 2:
        return leaf.permute(*reversed(range(len(shape))))
    if layout == "strided" and len(shape) >= 1:
        return leaf[..., ::2]
    if layout == "expanded" and len(shape) >= 1:
        return leaf.expand(*shape)
    return leaf


def value_and_grads(fn, *pairs):
    """``fn`` on the views; the value and the gradient reaching each leaf (weighted, so 'none' is checked per element)."""
    out = fn(*(view for _, view in pairs))
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * weights).sum(), [leaf for leaf, _ in pairs])
    return out.detach(), grads


#: float64 is compared to within a few rounding errors of the last digit; float32 with torch's defaults (1.3e-6 relative).
TIGHT = {torch.float64: {"rtol": 1e-12, "atol": 1e-12}}


def assert_like_torch(ours, theirs, make_inputs, **tolerances):
    """Same value (dtype, shape, numbers) and same gradient at every leaf; ``make_inputs`` builds fresh leaves per call.

    Tolerances: ``tolerances`` if given, else :data:`TIGHT` for each float64 tensor, else torch's defaults.
    """
    a_value, a_grads = value_and_grads(ours, *make_inputs())
    b_value, b_grads = value_and_grads(theirs, *make_inputs())
    assert a_value.dtype == b_value.dtype and a_value.shape == b_value.shape
    for a, b in zip((a_value, *a_grads), (b_value, *b_grads)):
        torch.testing.assert_close(a, b, equal_nan=True, **(tolerances or TIGHT.get(a.dtype, {})))
