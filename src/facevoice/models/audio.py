"""Convolutional and recurrent models on audio images and frame sequences.

Same conventions as ``dense``: the first layer is ``norm`` (``layers.make_norm``, fitted on training rows
only; the ``norm`` argument: rescale, standard or minmax), the feature extractor is the sub-model
``encoder``, classifiers end in the Dense ``probs``.
"""
from __future__ import annotations

from . import register
from .dense import classifier_head
from .layers import keras as _keras
from .layers import make_norm, pool_layers


def _conv_blocks(input_shape, filters, kernel: int, batchnorm: bool, dropout: float, name: str):
    keras = _keras()
    layers = [keras.Input(shape=tuple(input_shape))]
    for i, f in enumerate(filters):
        layers.append(keras.layers.Conv2D(f, kernel, padding="same", use_bias=not batchnorm, name=f"{name}_conv{i}"))
        if batchnorm:
            # momentum 0.9: a few hundred rows give few steps, and 0.99 leaves the moving statistics unready
            layers.append(keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}"))
        layers.append(keras.layers.Activation("relu", name=f"{name}_relu{i}"))
        layers.append(keras.layers.MaxPooling2D(2, name=f"{name}_pool{i}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"{name}_drop{i}"))
    return layers


@register("conv_ae")
def build_conv_ae(input_shape, n_classes, x_train, pretrained=None, filters=(8, 16), kernel=3, norm="rescale"):
    """Convolutional autoencoder: norm -> encoder (strided Conv2D per filter) -> decoder (strided Conv2DTranspose,
    the last one producing the image) ; MSE.

    Height and width must be divisible by 2 ** len(filters). The code is the last conv map.
    """
    keras = _keras()
    inp = keras.Input(shape=tuple(input_shape), name="input")
    h, w, c = input_shape
    enc = [keras.Input(shape=tuple(input_shape))]
    for i, f in enumerate(filters):
        enc.append(keras.layers.Conv2D(f, kernel, strides=2, padding="same", activation="relu", name=f"enc_conv{i}"))
    encoder = keras.Sequential(enc, name="encoder")
    code_shape = encoder.output_shape[1:]
    dec = [keras.Input(shape=code_shape)]
    for i, f in enumerate(list(filters)[::-1][1:]):
        dec.append(keras.layers.Conv2DTranspose(f, kernel, strides=2, padding="same", activation="relu",
                                                name=f"dec_deconv{i}"))
    # the last upsampling writes the image itself: no full-resolution hidden layer (2x faster on CPU)
    dec.append(keras.layers.Conv2DTranspose(c, kernel, strides=2, padding="same", activation="linear", name="recon"))
    decoder = keras.Sequential(dec, name="decoder")
    out = decoder(encoder(make_norm(norm, x_train, input_shape)(inp)))
    return keras.Model(inp, out, name="conv_ae")


@register("cnn_classifier")
def build_cnn_classifier(input_shape, n_classes, x_train, pretrained=None, filters=(16, 32), kernel=3,
                         batchnorm=False, block_dropout=0.0, pool="gap", head=(64,), dropout=0.3, norm="rescale"):
    """From scratch: norm -> encoder (per filter: Conv2D [+BatchNorm] + ReLU + MaxPool) -> pooling -> head -> softmax.

    ``filters: [16, 32, 64, 128], batchnorm: true`` is the 4-block Conv2D+BatchNorm CNN on 68x68 short-term
    features of ``../shared/seeds/004_e464c6077248cab8.txt``.
    ``pool``: time (average over time only: keeps the frequency axis, rows = frequency), gap (global
    average) or flatten.
    """
    keras = _keras()
    if len(input_shape) == 2:
        input_shape = (*input_shape, 1)
    inp = keras.Input(shape=tuple(input_shape), name="input")
    layers = _conv_blocks(input_shape, list(filters), kernel, batchnorm, block_dropout, "enc")
    layers += pool_layers(pool, input_shape[1] // 2 ** len(filters))
    encoder = keras.Sequential(layers, name="encoder")
    out = classifier_head(encoder(make_norm(norm, x_train, input_shape)(inp)), n_classes, list(head), dropout)
    return keras.Model(inp, out, name="cnn_classifier")


@register("crnn")
def build_crnn(input_shape, n_classes, x_train, pretrained=None, filters=(32, 32), kernel=5, lstm=32, head=(),
               dropout=0.3, norm="standard", pool=2):
    """Two (or more) Conv1D + MaxPool over time, then an LSTM, then softmax.

    Input (frames, features) (e.g. the mfcc ``seq`` store) or a (features, frames, 1) image (logspec),
    which is turned into (frames, features) first.
    """
    keras = _keras()
    inp = keras.Input(shape=tuple(input_shape), name="input")
    x = make_norm(norm, x_train, input_shape)(inp)
    seq_shape = tuple(input_shape)
    if len(input_shape) == 3:
        x = keras.layers.Reshape(tuple(input_shape[:2]), name="squeeze")(x)
        x = keras.layers.Permute((2, 1), name="time_first")(x)
        seq_shape = (input_shape[1], input_shape[0])
    layers = [keras.Input(shape=seq_shape)]
    for i, f in enumerate(filters):
        layers += [keras.layers.Conv1D(f, kernel, padding="same", activation="relu", name=f"enc_conv{i}"),
                   keras.layers.MaxPooling1D(pool, name=f"enc_pool{i}")]
    layers.append(keras.layers.LSTM(lstm, name="enc_lstm"))
    encoder = keras.Sequential(layers, name="encoder")
    out = classifier_head(encoder(x), n_classes, list(head), dropout)
    return keras.Model(inp, out, name="crnn")


@register("conv_encoder_classifier")
def build_conv_encoder_classifier(input_shape, n_classes, x_train, pretrained=None, pool="time", head=(64,),
                                  dropout=0.3):
    """A pretrained (conv) autoencoder's ``norm`` and ``encoder`` (weights kept), pooled, under a new softmax head.

    ``pool: time`` averages the code map over time and keeps frequency (rows), ``gap`` averages both,
    ``flatten`` keeps all (many weights: overfits a few hundred rows). Stands in for the transfer-learning gender
    model of ``../shared/seeds/003_5fa863304232192c.txt`` with an encoder pretrained here (nothing downloaded).
    """
    keras = _keras()
    if pretrained is None:
        from ..errors import ParamsError

        raise ParamsError("params.yaml: builder 'conv_encoder_classifier' needs 'init_from' (an autoencoder)")
    inp = keras.Input(shape=tuple(input_shape), name="input")
    features = pretrained.get_layer("encoder")(pretrained.get_layer("norm")(inp))
    for layer in pool_layers(pool, features.shape[2]):
        features = layer(features)
    out = classifier_head(features, n_classes, list(head), dropout)
    return keras.Model(inp, out, name="conv_encoder_classifier")
