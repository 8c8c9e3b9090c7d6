"""Dense models on feature vectors (MFCC statistics): autoencoder and classifiers."""
from __future__ import annotations

import numpy as np

from . import register
from .layers import keras as _keras
from .layers import make_norm


def _norm(x_train: np.ndarray, input_shape):
    return make_norm("standard", x_train, input_shape)


def _dense_stack(units: list[int], dropout: float, l2: float, name: str):
    keras = _keras()
    reg = keras.regularizers.L2(l2) if l2 else None
    layers = []
    for i, u in enumerate(units):
        layers.append(keras.layers.Dense(u, activation="relu", kernel_regularizer=reg, name=f"{name}_dense{i}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"{name}_drop{i}"))
    return layers


def classifier_head(features, n_classes: int, head: list[int], dropout: float, l2: float = 0.0):
    keras = _keras()
    x = features
    for layer in _dense_stack(head, dropout, l2, "head"):
        x = layer(x)
    return keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)


@register("dense_ae")
def build_dense_ae(input_shape, n_classes, x_train, pretrained=None, hidden=(128,), code=32, dropout=0.0, l2=0.0):
    """Dense autoencoder: norm -> encoder (hidden..., code) -> decoder (reversed hidden..., input) ; MSE."""
    keras = _keras()
    dim = int(np.prod(input_shape))
    inp = keras.Input(shape=tuple(input_shape), name="input")
    encoder = keras.Sequential(
        [keras.Input(shape=(dim,)), *_dense_stack(list(hidden), dropout, l2, "enc"),
         keras.layers.Dense(code, activation="relu", name="code")], name="encoder")
    decoder = keras.Sequential(
        [keras.Input(shape=(code,)), *_dense_stack(list(hidden)[::-1], 0.0, 0.0, "dec"),
         keras.layers.Dense(dim, activation="linear", name="recon")], name="decoder")
    out = decoder(encoder(_norm(x_train, input_shape)(inp)))
    return keras.Model(inp, out, name="dense_ae")


@register("dense_classifier")
def build_dense_classifier(input_shape, n_classes, x_train, pretrained=None, hidden=(128, 64), dropout=0.3, l2=0.0):
    """From scratch: norm -> dense encoder -> softmax."""
    keras = _keras()
    inp = keras.Input(shape=tuple(input_shape), name="input")
    encoder = keras.Sequential([keras.Input(shape=tuple(input_shape)), *_dense_stack(list(hidden), dropout, l2, "enc")],
                               name="encoder")
    out = classifier_head(encoder(_norm(x_train, input_shape)(inp)), n_classes, [], 0.0)
    return keras.Model(inp, out, name="dense_classifier")


@register("encoder_classifier")
def build_encoder_classifier(input_shape, n_classes, x_train, pretrained=None, head=(64,), dropout=0.3, l2=0.0):
    """The pretrained model's ``norm`` and ``encoder`` (weights kept) under a new dense softmax head."""
    keras = _keras()
    if pretrained is None:
        from ..errors import ParamsError

        raise ParamsError("params.yaml: builder 'encoder_classifier' needs 'init_from' (an autoencoder)")
    inp = keras.Input(shape=tuple(input_shape), name="input")
    features = pretrained.get_layer("encoder")(pretrained.get_layer("norm")(inp))
    if len(features.shape) > 2:
        features = keras.layers.Flatten(name="flatten")(features)
    out = classifier_head(features, n_classes, list(head), dropout, l2)
    return keras.Model(inp, out, name="encoder_classifier")
