"""Face + voice models: a fusion classifier and a siamese verifier, built from the single-modality builders.

A *branch* is any registered classifier without its softmax (``probs``): its norm, encoder and
hidden head. Built fresh from ``branches: [{builder, args}, ...]`` (one per input, in input order),
or taken with its trained weights from ``pretrained`` (one loaded model per input, ``init_from``).
"""
from __future__ import annotations

from . import get, register
from .dense import classifier_head
from .layers import keras as _keras


def branch(model, name: str):
    """``model`` minus its softmax: inputs -> the features its ``probs`` layer reads."""
    keras = _keras()
    return keras.Model(model.inputs, model.get_layer("probs").input, name=name)


def _branches(input_shapes, n_classes, x_train, pretrained, branches):
    from ..errors import ParamsError

    if pretrained is not None:
        models = pretrained
    else:
        if not branches or len(branches) != len(input_shapes):
            raise ParamsError(f"params.yaml: fusion needs one 'branches' entry per input ({len(input_shapes)})")
        models = [get(b["builder"])(shape, n_classes, x, **(b.get("args") or {}))
                  for b, shape, x in zip(branches, input_shapes, x_train)]
    return [branch(m, f"branch{i}") for i, m in enumerate(models)]


@register("fusion")
def build_fusion(input_shape, n_classes, x_train, pretrained=None, branches=None, head=(64,), dropout=0.3):
    """One branch per modality, concatenated, dense head with dropout, softmax."""
    keras = _keras()
    parts = _branches(input_shape, n_classes, x_train, pretrained, branches)
    inputs = [keras.Input(shape=tuple(s), name=f"input{i}") for i, s in enumerate(input_shape)]
    feats = [b(inp) for b, inp in zip(parts, inputs)]
    joined = keras.layers.Concatenate(name="concat")(feats) if len(feats) > 1 else feats[0]
    return keras.Model(inputs, classifier_head(joined, n_classes, list(head), dropout), name="fusion")


@register("siamese")
def build_siamese(input_shape, n_classes, x_train, pretrained=None, branches=None, embedding=32, head_units=16,
                  towers=None):
    """Two face+voice samples -> the same tower -> |a - b| -> dense -> sigmoid (same person?).

    Inputs: the sample A inputs then the sample B inputs (``2 * len(input_shape)`` tensors). The tower is
    the branches, concatenated, under a Dense ``embedding`` with unit norm; or, with ``towers`` (one trained
    single-modality tower per input, e.g. face-only and voice-only siamese towers), the concatenation of
    their unit embeddings: the fused embedding then starts from what each modality learned alone, and the
    head learns how much to trust each part of the distance.
    """
    keras = _keras()
    tower_in = [keras.Input(shape=tuple(s)) for s in input_shape]
    if towers is not None:
        if len(towers) != len(input_shape):
            raise ValueError(f"siamese: {len(towers)} towers for {len(input_shape)} inputs")
        parts = [keras.Model(t.inputs, t.output, name=f"tower{i}") for i, t in enumerate(towers)]
        embs = [t(inp) for t, inp in zip(parts, tower_in)]
        emb = keras.layers.Concatenate(name="embedding")(embs) if len(embs) > 1 else embs[0]
    else:
        parts = _branches(input_shape, max(2, n_classes), x_train, pretrained, branches)
        feats = [b(inp) for b, inp in zip(parts, tower_in)]
        joined = keras.layers.Concatenate(name="concat")(feats) if len(feats) > 1 else feats[0]
        emb = keras.layers.Dense(embedding, name="embedding")(joined)
        emb = keras.layers.UnitNormalization(name="unit")(emb)
    tower = keras.Model(tower_in, emb, name="tower")
    a = [keras.Input(shape=tuple(s), name=f"a{i}") for i, s in enumerate(input_shape)]
    b = [keras.Input(shape=tuple(s), name=f"b{i}") for i, s in enumerate(input_shape)]
    ea, eb = tower(a), tower(b)
    # |ea - eb| as relu(ea - eb) + relu(eb - ea): plain layers, so the model loads in Keras safe mode
    dist = keras.layers.Add(name="l1")([keras.layers.ReLU()(keras.layers.Subtract()([ea, eb])),
                                        keras.layers.ReLU()(keras.layers.Subtract()([eb, ea]))])
    hidden = keras.layers.Dense(head_units, activation="relu", name="head")(dist)
    same = keras.layers.Dense(1, activation="sigmoid", name="same")(hidden)
    return keras.Model([*a, *b], same, name="siamese")
