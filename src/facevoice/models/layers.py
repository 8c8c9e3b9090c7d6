"""What every model builder shares: the Keras import, the ``norm`` input layer and the checked pooling.

``norm`` is the first layer of every model (fitted on training rows only) and is chosen by the ``norm``
argument:

- ``rescale``: x / 255 (uint8 images: face crops, mel_chunks, logspec, mel6s);
- ``standard``: per-feature mean / std adapted on ``x_train`` (a Keras ``Normalization``);
- ``minmax``: per-feature (x - min) / (max - min) with min and max taken from ``x_train`` only
  (a ``Normalization`` whose mean is the training minimum and variance the squared training range),
  used on the 68x68 short-term features: the Common Voice gender/language project's MinMaxScaler
  (``../shared/seeds/004_e464c6077248cab8.txt``), here fitted on training rows only.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParamsError

NORMS = ("rescale", "standard", "minmax")
POOLS = ("time", "gap", "flatten")


def keras():
    """The ``keras`` module (imported on first use: the stages that never build a model do not load TensorFlow)."""
    import keras as k

    return k


def feature_axis(input_shape) -> int:
    """The axis holding features: the first for (features, frames, 1) images, the last for (frames, features)
    and for feature vectors."""
    return 1 if len(input_shape) == 3 else -1


def make_norm(kind: str, x_train: np.ndarray | None, input_shape):
    """The ``norm`` layer of kind ``rescale``, ``standard`` or ``minmax`` (see the module docstring)."""
    k = keras()
    if kind == "rescale":
        return k.layers.Rescaling(1.0 / 255.0, name="norm")
    if kind not in NORMS:
        raise ParamsError(f"params.yaml: model arg 'norm' must be rescale, standard or minmax; got {kind!r}")
    x = np.asarray(x_train, dtype=np.float32)
    axis = feature_axis(input_shape)
    if kind == "standard":
        norm = k.layers.Normalization(axis=axis, name="norm")
        norm.build((None, *input_shape))
        norm.adapt(x)
        return norm
    reduce = tuple(i for i in range(x.ndim) if i != (axis % x.ndim))
    lo, hi = x.min(axis=reduce), x.max(axis=reduce)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    return k.layers.Normalization(axis=axis, mean=lo, variance=span ** 2, name="norm")


def pool_layers(kind: str, frames: int) -> list:
    """The layers that turn a conv map (frequency x ``frames`` x channels) into a vector: ``time`` averages over
    time and keeps where in frequency things are (pitch, formants), ``gap`` averages both axes, ``flatten``
    keeps everything (many weights: it overfits a few hundred rows)."""
    k = keras()
    if kind == "time":
        return [k.layers.AveragePooling2D((1, frames), name="time_avg"), k.layers.Flatten(name="flat")]
    if kind == "gap":
        return [k.layers.GlobalAveragePooling2D(name="gap")]
    if kind == "flatten":
        return [k.layers.Flatten(name="flat")]
    raise ParamsError(f"params.yaml: model arg 'pool' must be {', '.join(POOLS)}; got {kind!r}")
