"""Image models on uint8 face crops (``feature: faces``): conv autoencoder (image_ae), small CNN (image_cnn), transfer backbone (transfer).

Conventions (see ``models/__init__``): the first layer is ``norm`` = ``Rescaling(1/255)`` so pixels are in
[0, 1] and autoencoders reconstruct ``norm(x)`` (a sigmoid output, so ``loss: binary_crossentropy`` works
as well as ``mse``); the feature extractor is a sub-model named ``encoder`` (a conv stack whose output
``encoder_classifier`` flattens under its dense head: ``face_ae_clf`` = ``face_ae``'s encoder + head).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ParamsError
from . import register
from .dense import classifier_head
from .layers import keras as _keras
from .layers import make_norm, pool_layers


def _norm():
    return make_norm("rescale", None, None)


def _conv_stack(input_shape, filters, kernel: int, l2: float, name: str, pool: bool = True, batchnorm: bool = False):
    """Conv2D (ReLU) per filter count, each max-pooled; with ``batchnorm``: Conv2D (no bias) + BatchNorm + ReLU."""
    keras = _keras()
    reg = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input(shape=tuple(input_shape))]
    for i, f in enumerate(filters):
        layers.append(keras.layers.Conv2D(f, kernel, padding="same", activation=None if batchnorm else "relu",
                                          use_bias=not batchnorm, kernel_regularizer=reg, name=f"{name}_conv{i}"))
        if batchnorm:
            layers += [keras.layers.BatchNormalization(name=f"{name}_bn{i}"), keras.layers.ReLU(name=f"{name}_relu{i}")]
        if pool:
            layers.append(keras.layers.MaxPooling2D(2, name=f"{name}_pool{i}"))
    return keras.Sequential(layers, name=name)


AUGMENT = {"flip": False, "shift": 0.0}


def _augment_layers(augment: dict | None) -> list:
    """Random mirror images and shifts (up to ``shift`` of the side), drawn anew every batch while training and
    inactive at prediction: on top of the stored copies of faces.augment, a network sees each photo differently
    every epoch."""
    keras = _keras()
    unknown = set(augment or {}) - set(AUGMENT)
    if unknown:
        raise ParamsError(f"params.yaml: image model 'augment' has unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(AUGMENT)})")
    a = {**AUGMENT, **(augment or {})}
    if not isinstance(a["shift"], (int, float)) or not 0 <= a["shift"] <= 0.5:
        raise ParamsError(f"params.yaml: image model augment.shift must be a fraction in [0, 0.5], got {a['shift']!r}")
    out = [keras.layers.RandomFlip("horizontal", name="aug_flip")] if a["flip"] else []
    if a["shift"]:
        out.append(keras.layers.RandomTranslation(a["shift"], a["shift"], fill_mode="nearest", name="aug_shift"))
    return out


def _pooled(pool: str, width: int, dropout: float) -> list:
    """models.layers' ``pool`` layers on the last conv map (``width`` columns); ``gap`` is followed by ``dropout``."""
    layers = pool_layers(pool, width)
    return layers + [_keras().layers.Dropout(dropout, name="gap_drop")] if pool == "gap" else layers


def _check_image(input_shape, builder: str, factor: int):
    if len(input_shape) != 3:
        raise ParamsError(f"params.yaml: builder {builder!r} needs image features (H x W x C), got shape "
                          f"{tuple(input_shape)}")
    if input_shape[0] % factor or input_shape[1] % factor:
        raise ParamsError(f"params.yaml: builder {builder!r} needs H and W divisible by {factor} "
                          f"(faces.size), got {tuple(input_shape[:2])}")


@register("image_ae")
def build_image_ae(input_shape, n_classes, x_train, pretrained=None, filters=(16, 8), kernel=3, l2=0.0,
                   batchnorm=False):
    """norm -> encoder (Conv+MaxPool per filter; ``batchnorm``: Conv+BatchNorm+ReLU blocks, image_cnn's) -> decoder
    (UpSampling+Conv, reversed) -> sigmoid conv."""
    keras = _keras()
    filters = list(filters)
    _check_image(input_shape, "image_ae", 2 ** len(filters))
    h, w, c = input_shape
    inp = keras.Input(shape=tuple(input_shape), name="input")
    encoder = _conv_stack(input_shape, filters, kernel, l2, "encoder", batchnorm=batchnorm)
    down = 2 ** len(filters)
    dec = [keras.Input(shape=(h // down, w // down, filters[-1]))]
    for i, f in enumerate(filters[::-1]):
        dec += [keras.layers.UpSampling2D(2, name=f"dec_up{i}"),
                keras.layers.Conv2D(f, kernel, padding="same", activation="relu", name=f"dec_conv{i}")]
    dec.append(keras.layers.Conv2D(c, kernel, padding="same", activation="sigmoid", name="recon"))
    decoder = keras.Sequential(dec, name="decoder")
    return keras.Model(inp, decoder(encoder(_norm()(inp))), name="image_ae")


@register("image_cnn")
def build_image_cnn(input_shape, n_classes, x_train, pretrained=None, filters=(16, 32), kernel=3, l2=1e-4,
                    head=(128,), dropout=0.4, batchnorm=False, pool="flatten", augment=None):
    """The image CNN of the VoxCeleb1 face+voice project (``../shared/seeds/001_d55d8ff93606a508.txt``): rescaling,
    2 Conv2D (L2) each max-pooled, flatten, ``head`` dense layers (dropout), softmax.

    For real photos: ``batchnorm`` (Conv2D + BatchNorm + ReLU blocks), ``pool: gap`` (the last map averaged
    instead of flattened, then ``dropout``: far fewer weights) and ``augment: {flip, shift}`` (random mirror and
    shift while training, ``_augment_layers``): the ``real_photos`` profile's settings, measured on lfw_dev's
    452 people in the README ("LFW identification")."""
    keras = _keras()
    _check_image(input_shape, "image_cnn", 2 ** len(list(filters)))
    inp = keras.Input(shape=tuple(input_shape), name="input")
    convs = _conv_stack(input_shape, list(filters), kernel, l2, "conv", batchnorm=batchnorm)
    reg = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input(shape=tuple(input_shape)), *convs.layers,
              *_pooled(pool, input_shape[1] // 2 ** len(list(filters)), dropout)]
    for i, u in enumerate(head):
        layers += [keras.layers.Dense(u, activation="relu", kernel_regularizer=reg, name=f"enc_dense{i}"),
                   keras.layers.Dropout(dropout, name=f"enc_drop{i}")]
    encoder = keras.Sequential(layers, name="encoder")
    x = inp
    for layer in _augment_layers(augment):
        x = layer(x)
    out = classifier_head(encoder(_norm()(x)), n_classes, [], 0.0)
    return keras.Model(inp, out, name="image_cnn")


@register("image_encoder_classifier")
def build_image_encoder_classifier(input_shape, n_classes, x_train, pretrained=None, pool="flatten", head=(128,),
                                   dropout=0.3, l2=0.0, augment=None):
    """An image autoencoder's ``norm`` and ``encoder`` (weights kept; ``face_ae_clf``) under image_cnn's top:
    ``pool`` (flatten | gap, then dropout), ``head`` dense layers, softmax; ``augment`` as image_cnn's (random
    mirror and shift before the encoder, training only)."""
    keras = _keras()
    if pretrained is None:
        raise ParamsError("params.yaml: builder 'image_encoder_classifier' needs 'init_from' (an image autoencoder)")
    inp = keras.Input(shape=tuple(input_shape), name="input")
    x = inp
    for layer in _augment_layers(augment):
        x = layer(x)
    x = pretrained.get_layer("encoder")(pretrained.get_layer("norm")(x))
    for layer in _pooled(pool, x.shape[2], dropout):
        x = layer(x)
    return keras.Model(inp, classifier_head(x, n_classes, list(head), dropout, l2), name="image_encoder_classifier")


BACKBONES = {"vgg16": ("VGG16", "vgg16", 32), "mobilenetv2": ("MobileNetV2", "mobilenet_v2", 32),
             "resnet50": ("ResNet50", "resnet", 32)}
MEANS_BGR = [103.939, 116.779, 123.68]  # keras.applications 'caffe' preprocessing (VGG16, ResNet50)


@register("transfer")
def build_transfer(input_shape, n_classes, x_train, pretrained=None, backbone="vgg16", weights=None,
                   trainable=False, head=(128,), dropout=0.4, pooling="avg"):
    """A keras.applications backbone as ``encoder`` under a dense head.

    ``weights``: a local ``.h5``/``.weights.h5`` file of the backbone without its top (e.g.
    ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``), or ``imagenet`` (downloaded by Keras: needs
    network, or the file already in ``~/.keras/models``). There is no silent random-weights fallback:
    a missing file is a one-line error. Grey crops are repeated to 3 channels; pixels get the backbone's
    own preprocessing. ``trainable: false`` keeps the backbone frozen (feature extraction).
    """
    keras = _keras()
    if backbone not in BACKBONES:
        raise ParamsError(f"params.yaml: transfer 'backbone' must be one of {', '.join(BACKBONES)}; got {backbone!r}")
    cls, _, minimum = BACKBONES[backbone]
    _check_image(input_shape, "transfer", 1)
    h, w, c = input_shape
    if min(h, w) < minimum:
        raise ParamsError(f"params.yaml: {backbone} needs crops of at least {minimum}x{minimum} (faces.size)")
    if weights in (None, "", "none"):
        raise ParamsError(f"params.yaml: transfer '{backbone}' has no weights: set args.weights to a local file "
                          f"of the backbone without its top, or 'imagenet' where the machine has network "
                          f"(face_transfer is in optional_models, left out of the default run)")
    if weights != "imagenet" and not Path(weights).is_file():
        raise ParamsError(f"params.yaml: transfer weights file {weights} not found: no {backbone} weights on this "
                          f"machine, so face_transfer is left out (it sits in optional_models)")
    try:
        base = getattr(keras.applications, cls)(include_top=False, weights=weights, input_shape=(h, w, 3),
                                                pooling=pooling)
    except Exception as exc:  # offline 'imagenet' download, a wrong file
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ParamsError(f"params.yaml: could not load {backbone} weights {weights!r} ({msg})") from None
    base.trainable = bool(trainable)
    encoder = keras.Sequential([keras.Input(shape=(h, w, 3)), base], name="encoder")
    inp = keras.Input(shape=tuple(input_shape), name="input")
    x = _norm()(inp)
    if c == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if backbone == "mobilenetv2":  # [-1, 1]
        x = keras.layers.Rescaling(2.0, offset=-1.0, name="prep")(x)
    else:  # caffe: 0..255, RGB -> BGR, ImageNet mean removed: one fixed 1x1 convolution
        import numpy as np

        prep = keras.layers.Conv2D(3, 1, name="prep", trainable=False)
        x = prep(x)
        prep.set_weights([(255.0 * np.eye(3)[::-1]).reshape(1, 1, 3, 3).astype("float32"),
                          -np.array(MEANS_BGR, dtype="float32")])
    out = classifier_head(encoder(x), n_classes, list(head), dropout)
    return keras.Model(inp, out, name=f"transfer_{backbone}")
