"""Image builders: shapes and conventions (norm + encoder), the AE encoder under a classifier, transfer weights."""
import numpy as np
import pytest

from facevoice import models
from facevoice.errors import ParamsError


def test_conv_ae_reconstructs_norm_and_its_encoder_feeds_a_classifier():
    x = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 1)).astype(np.float32)
    ae = models.get("image_ae")((32, 32, 1), 0, x, filters=[8, 4])
    assert ae.layers[1].name == "norm" and ae.get_layer("encoder").output.shape[1:] == (8, 8, 4)
    out = ae.predict(x, verbose=0)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    clf = models.get("encoder_classifier")((32, 32, 1), 5, x, pretrained=ae, head=[16])
    assert clf.predict(x, verbose=0).shape == (8, 5)
    for a, b in zip(clf.get_layer("encoder").get_weights(), ae.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_image_cnn_shapes_and_l2():
    x = np.zeros((4, 32, 32, 3), dtype=np.float32)
    cnn = models.get("image_cnn")((32, 32, 3), 7, x)
    assert cnn.layers[1].name == "norm" and cnn.predict(x, verbose=0).shape == (4, 7)
    convs = [layer for layer in cnn.get_layer("encoder").layers if "conv" in layer.name and "pool" not in layer.name]
    assert len(convs) == 2 and all(c.kernel_regularizer is not None for c in convs)


def test_image_builders_reject_vectors_and_transfer_needs_weights(tmp_path):
    with pytest.raises(ParamsError, match="image features"):
        models.get("image_cnn")((40,), 3, np.zeros((2, 40)))
    with pytest.raises(ParamsError, match="not found.*left out"):
        models.get("transfer")((32, 32, 1), 3, None, weights=str(tmp_path / "none.h5"))
    with pytest.raises(ParamsError, match="no weights"):
        models.get("transfer")((32, 32, 1), 3, None, weights=None)


def test_image_cnn_for_real_photos_batchnorm_gap_and_augmentation_only_while_training():
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).integers(0, 256, size=(6, 32, 32, 3)).astype(np.float32)
    cnn = models.get("image_cnn")((32, 32, 3), 5, x, filters=[8, 16], head=[], dropout=0.5, batchnorm=True,
                                  pool="gap", augment={"flip": True, "shift": 0.1})
    names = [layer.name for layer in cnn.get_layer("encoder").layers]
    assert {"conv_bn0", "conv_bn1", "gap", "gap_drop"} <= set(names) and "flat" not in names
    assert {"aug_flip", "aug_shift"} <= {layer.name for layer in cnn.layers}
    np.testing.assert_array_equal(cnn.predict(x, verbose=0), cnn.predict(x, verbose=0))   # no randomness at prediction
    assert not np.allclose(cnn(x, training=True), cnn(x, training=True))                   # a new draw each batch
    plain = models.get("image_cnn")((32, 32, 3), 5, x, filters=[8, 16], head=[])
    assert cnn.count_params() < plain.count_params()                                       # gap: far fewer weights
    with pytest.raises(ParamsError, match="unknown key.*zoom"):
        models.get("image_cnn")((32, 32, 3), 5, x, augment={"zoom": 0.1})
    with pytest.raises(ParamsError, match="'pool' must be time, gap, flatten"):
        models.get("image_cnn")((32, 32, 3), 5, x, pool="max")


def test_batchnorm_autoencoder_encoder_under_image_top_with_augmentation():
    """face_ae_clf for real photos: the AE's BatchNorm encoder (weights kept) under GAP, dropout and softmax."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).integers(0, 256, size=(6, 32, 32, 3)).astype(np.float32)
    ae = models.get("image_ae")((32, 32, 3), 0, x, filters=[8, 16], batchnorm=True)
    assert {"encoder_bn0", "encoder_bn1"} <= {layer.name for layer in ae.get_layer("encoder").layers}
    assert ae.predict(x, verbose=0).shape == x.shape
    clf = models.get("image_encoder_classifier")((32, 32, 3), 4, x, pretrained=ae, pool="gap", head=[],
                                                 dropout=0.5, augment={"flip": True, "shift": 0.1})
    names = {layer.name for layer in clf.layers}
    assert {"aug_flip", "aug_shift", "gap", "gap_drop", "encoder"} <= names and "flat" not in names
    for a, b in zip(clf.get_layer("encoder").get_weights(), ae.get_layer("encoder").get_weights()):
        np.testing.assert_array_equal(a, b)
    probs = clf.predict(x, verbose=0)
    assert probs.shape == (6, 4) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(probs, clf.predict(x, verbose=0))
    with pytest.raises(ParamsError, match="needs 'init_from'"):
        models.get("image_encoder_classifier")((32, 32, 3), 4, x)
    with pytest.raises(ParamsError, match="'pool' must be time, gap, flatten"):
        models.get("image_encoder_classifier")((32, 32, 3), 4, x, pretrained=ae, pool="max")
