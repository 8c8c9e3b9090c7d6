"""Face+voice fusion that never hurts: calibrated log-likelihood ratios, summed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facevoice.evaluate import eer
from facevoice.protocols.fusion import CALIBRATION_FILE, Calibration, Fusion, decide_pair, fit_fusion

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _trials(n: int, seed: int, face_gap: float, voice_gap: float):
    """Cosines of n trials (half same-person): a strong face modality and a weak voice one."""
    rng = np.random.default_rng(seed)
    same = np.arange(n) % 2
    face = rng.normal(0.3 + face_gap * same, 0.08)
    voice = rng.normal(0.5 + voice_gap * same, 0.15)
    return face, voice, same


def test_the_fused_eer_is_at_most_the_better_modalitys_where_the_mean_of_cosines_is_worse():
    train, test = _trials(4000, 0, 0.45, 0.12), _trials(4000, 1, 0.45, 0.12)
    fusion = fit_fusion(*train, source="synthetic trials")
    face_eer, voice_eer = eer(test[2], test[0])[0], eer(test[2], test[1])[0]
    fused_eer = eer(test[2], fusion.score(test[0], test[1]))[0]
    mean_eer = eer(test[2], (test[0] + test[1]) / 2)[0]
    assert face_eer < 0.01 < 0.2 < voice_eer
    assert fused_eer <= min(face_eer, voice_eer)
    assert mean_eer > 2 * face_eer  # the naive fusion the siamese stood for: a weak voice drags the face down


def test_a_calibration_reads_back_and_picks_thresholds_by_false_accept_rate(tmp_path):
    face, voice, same = _trials(2000, 2, 0.45, 0.12)
    fusion = fit_fusion(face, voice, same, source="synthetic")
    again = Calibration.from_record(fusion.face.record())
    assert again == fusion.face
    impostors = face[same == 0]
    for far in (0.001, 0.01, 0.1):
        t = again.at_far(far)[0]
        assert (impostors >= t).mean() <= far
    assert (impostors >= again.at_far(1e-9)[0]).mean() == 0  # above every impostor seen
    with pytest.raises(ValueError, match="no threshold reaches a false-accept rate of 0.01 on nowhere"):
        Calibration(1.0, 0.0, "nowhere").at_far(0.01)


def test_the_command_lines_calibrations_come_with_their_provenance():
    fusion = Fusion.from_file()
    assert "lfw_dev" in fusion.face.source and "speechocean762" in fusion.voice.source
    assert 0.85 < fusion.face.threshold < 0.97 and 0.5 < fusion.voice.threshold < 0.9  # cosines of LLR 0
    # the face says "same" strongly: a voice a little below its own threshold does not overturn it
    score, threshold, source = decide_pair(0.95, fusion.voice.threshold - 0.05)
    assert score > threshold and "face: dlib" in source and "voice: GE2E" in source
    assert decide_pair(0.5, 0.95)[0] < 0  # a different face is not rescued by a similar voice
    assert CALIBRATION_FILE.name == "calibration.json"


@pytest.mark.skipif(not (SHARED / "lfw_dev").exists() or not (SHARED / "speechocean762").exists(),
                    reason="../shared/datasets (lfw_dev, speechocean762) is not on this machine")
def test_on_chimeric_real_people_the_fusion_is_at_most_the_better_modality():
    """16 identities, each an lfw_dev person (3 photos) with a speechocean762 speaker (3 clips); the fusion is
    calibrated on 8 identities' trials and scored on the other 8's."""
    from facevoice.audio.ge2e import embed_file
    from facevoice.faces.embed import embed_paths

    faces = pd.read_csv(SHARED / "lfw_dev" / "manifest.csv")
    counts = faces.groupby("person")["path"].count()
    people = sorted(counts[counts >= 3].index)[:16]
    photos = faces[faces["person"].isin(people)].groupby("person").head(3).sort_values(["person", "path"])
    clips = pd.read_csv(SHARED / "speechocean762" / "manifest.csv", dtype={"speaker": str})
    speakers = sorted(clips["speaker"].unique())[:16]
    clips = clips[clips["speaker"].isin(speakers)].groupby("speaker").head(3).sort_values(["speaker", "path"])
    face_e = np.stack(embed_paths([str(SHARED / "lfw_dev" / p) for p in photos["path"]], flip=True, workers=2))
    voice_e = np.stack([embed_file(str(SHARED / "speechocean762" / p)) for p in clips["path"]])
    identity = np.repeat(np.arange(16), 3)

    def trials(ids):
        rows = np.flatnonzero(np.isin(identity, ids))
        i, j = np.triu_indices(len(rows), k=1)
        a, b = rows[i], rows[j]
        return (np.sum(face_e[a] * face_e[b], axis=1), np.sum(voice_e[a] * voice_e[b], axis=1),
                (identity[a] == identity[b]).astype(int))

    fusion = fit_fusion(*trials(np.arange(8)), source="8 chimeric identities")
    face, voice, same = trials(np.arange(8, 16))
    fused = eer(same, fusion.score(face, voice))[0]
    assert fused <= min(eer(same, face)[0], eer(same, voice)[0])
    assert eer(same, Fusion.from_file().score(face, voice))[0] <= min(eer(same, face)[0], eer(same, voice)[0])
