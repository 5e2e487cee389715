"""dlbook: the reference implementations behind the dlbook textbook.

Each module is named after the concept a chapter teaches; a reader of chapter N
finds what it imports by the chapter's topic:

=============================  ==============================================
module                         chapter
=============================  ==============================================
:mod:`dlbook.gradients`        01 Gradients
:mod:`dlbook.autograd`         02 Backpropagation
:mod:`dlbook.losses`           03 Loss functions
:mod:`dlbook.optim`            04 Optimizers
:mod:`dlbook.activations`      05 Activation functions
:mod:`dlbook.layers`           07 Regularization, 08 Normalization
:mod:`dlbook.regularization`   07 Regularization (L1 and L2 penalties, decay groups)
:mod:`dlbook.augment`          07 Regularization (data augmentation)
:mod:`dlbook.schedules`        09 Learning rate
:mod:`dlbook.passes`           11 Forward & backward pass
:mod:`dlbook.generalization`   06 Overfitting and underfitting, 13 Generalization
:mod:`dlbook.tuning`           14 Hyperparameters
:mod:`dlbook.data`             every chapter (datasets and mini-batches)
:mod:`dlbook.models`           every chapter (MLPs, parameter counts)
:mod:`dlbook.train`            every chapter (the training loop)
:mod:`dlbook.pages`            every chapter (the page stamp, glued numbers, tables)
:mod:`dlbook.claims`           every chapter (statistics over seeds, checked claims, the ledger)
:mod:`dlbook.build`            building the book, running one chapter (``python -m dlbook``)
:mod:`dlbook.validation`       every module (argument checks: one rule, no GPU syncs)
:mod:`dlbook.precision`        every module that sums many numbers (float64, float32 on MPS)
=============================  ==============================================

The two calls every chapter makes first live here too:

>>> import dlbook
>>> dlbook.seed_everything(0)
>>> dlbook.get_device().type in {"cpu", "cuda", "mps"}
True
"""

from dlbook import (
    activations,
    augment,
    autograd,
    build,
    claims,
    data,
    generalization,
    gradients,
    layers,
    losses,
    models,
    optim,
    pages,
    passes,
    precision,
    regularization,
    schedules,
    train,
    tuning,
    validation,
)
from dlbook.device import describe_device, get_device
from dlbook.reproducibility import seed_everything

__version__ = "0.1.0"
__all__ = [
    "activations",
    "augment",
    "autograd",
    "build",
    "claims",
    "data",
    "generalization",
    "gradients",
    "layers",
    "losses",
    "models",
    "optim",
    "pages",
    "passes",
    "precision",
    "regularization",
    "schedules",
    "train",
    "tuning",
    "validation",
    "describe_device",
    "get_device",
    "seed_everything",
    "__version__",
]
