"""The layer registry: every layer kind defined once, in a module of its family.

Importing this package registers every kind (``REGISTRY``, keyword -> :class:`Entry`);
backends key their tables on the classes re-exported here.
"""

from __future__ import annotations

from .activation import PRELU_INIT, Activation, PReLU
from .base import (
    GLOROT,
    KEEPS_ORDER,
    ONES,
    REGISTRY,
    ZEROS,
    Entry,
    Init,
    Layer,
    LayerError,
    OptSpec,
    Shape,
    Trait,
    Weight,
    evolve,
    fmt_shape,
    kinds,
    register,
)
from .conv import Conv, Deconv, Depthwise, Separable
from .core import Dense, Dropout, Flatten, Input
from .merge import Add, Concat
from .norm import BATCHNORM_EPS, BATCHNORM_MOMENTUM, BatchNorm, LayerNorm
from .pool import GlobalPool, Pool
from .resize import Crop, Upsample, ZeroPad
from .rules import (
    ACTIVATION,
    ACTIVATIONS,
    ELU_ALPHA,
    LEAKY_RELU_ALPHA,
    PADDINGS,
    Windowed,
    auto_pads,
)

__all__ = [
    "ACTIVATION",
    "ACTIVATIONS",
    "BATCHNORM_EPS",
    "BATCHNORM_MOMENTUM",
    "ELU_ALPHA",
    "GLOROT",
    "KEEPS_ORDER",
    "LEAKY_RELU_ALPHA",
    "ONES",
    "PADDINGS",
    "PRELU_INIT",
    "REGISTRY",
    "ZEROS",
    "Activation",
    "Add",
    "BatchNorm",
    "Concat",
    "Conv",
    "Crop",
    "Deconv",
    "Dense",
    "Depthwise",
    "Dropout",
    "Entry",
    "Flatten",
    "GlobalPool",
    "Init",
    "Input",
    "Layer",
    "LayerError",
    "LayerNorm",
    "OptSpec",
    "PReLU",
    "Pool",
    "Separable",
    "Shape",
    "Trait",
    "Upsample",
    "Weight",
    "Windowed",
    "ZeroPad",
    "auto_pads",
    "evolve",
    "fmt_shape",
    "kinds",
    "register",
]
