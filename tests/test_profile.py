"""Params profiles (``python -m facevoice.profile``): the real-photo profile lands on params.yaml's own keys, keeps
its comments, and every model it changes still passes the params checks; a typo is a one-line error."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from facevoice import models, profile
from facevoice.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_real_photos_profile_onto_params_yaml(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    before = yaml.safe_load(params.read_text())
    assert profile.main(["real_photos", "--params", str(params)]) == 0
    after = yaml.safe_load(params.read_text())
    assert after["faces"]["color"] == "rgb" and after["faces"]["size"] == before["faces"]["size"]
    cnn = after["train"]["face_cnn"]
    assert cnn["args"]["pool"] == "gap" and cnn["fit"]["monitor"] == "val_accuracy"
    assert cnn["fit"]["seed"] == before["train"]["face_cnn"]["fit"]["seed"]          # merged, not replaced
    assert after["finetune"]["face_ae_clf"]["builder"] == "image_encoder_classifier"
    for section in ("prepare", "features", "pretrain.mfcc_ae", "train.audio_cnn", "verify"):
        a, b = before, after
        for part in section.split("."):
            a, b = a[part], b[part]
        assert a == b, section
    assert "# facevoice: the one place to change an experiment" in params.read_text()   # comments kept
    size, x = after["faces"]["size"], np.zeros((2, 32, 32, 3), dtype=np.float32)
    ae = models.get("image_ae")((size, size, 3), 0, x, **after["pretrain"]["face_ae"]["args"])
    clf = models.get("image_encoder_classifier")((size, size, 3), 4, x, pretrained=ae,
                                                 **after["finetune"]["face_ae_clf"]["args"])
    cnn = models.get("image_cnn")((size, size, 3), 4, x, **cnn["args"])
    assert clf.output_shape == cnn.output_shape == (None, 4)


def test_a_profile_naming_a_missing_model_or_file_is_a_one_line_error(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  face_cnnn: {fit: {epochs: 3}}\n")
    with pytest.raises(ParamsError, match="'train.face_cnnn' is not in params.yaml"):
        profile.apply(str(bad), params)
    with pytest.raises(ParamsError, match="profile not found .*real_photos"):
        profile.read("nope", ROOT / "profiles")
    assert params.read_text() == (ROOT / "params.yaml").read_text()
