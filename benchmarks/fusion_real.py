"""Face, voice and face+voice verification on real people, and the calibrations the command line uses.

    python benchmarks/fusion_real.py            # print the numbers
    python benchmarks/fusion_real.py --write    # also write src/facevoice/protocols/calibration.json

- Voice: every clip of speechocean762 (60 speakers x 10 read sentences) embedded by GE2E, every pair of clips a
  trial: EER and the logistic calibration of the cosine (``protocols.fusion.fit_calibration``).
- Face: the lfw_dev photos of the first ``--per-fold`` pairs of each of LFW's 10 folds, embedded by dlib
  (flip-averaged), every pair of those photos a trial (so the false-accept rates reach 1e-5): EER and calibration.
- Face+voice (chimeric): each lfw_dev person with >= 2 of those photos is paired with a speechocean762 speaker
  (seeded); a sample is (a photo, a clip) of one identity; the identities are split in half by person. The
  fusion is fitted on the first half's trials and scored on the second's, beside each modality alone, the mean of
  the two cosines, and the fusion with the calibration file's (real-data) calibrations.
Needs ../shared/datasets. Takes ~10 minutes on 2 cores (the dlib descriptors).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import facevoice  # noqa: E402,F401 (first: the CPU pins)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from facevoice.evaluate import eer  # noqa: E402
from facevoice.protocols.fusion import CALIBRATION_FILE, Fusion, fit_calibration, fit_fusion  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"


def voice_trials() -> tuple[np.ndarray, pd.DataFrame]:
    from tqdm import tqdm

    from facevoice.audio.ge2e import embed_file

    m = pd.read_csv(SHARED / "speechocean762" / "manifest.csv", dtype={"speaker": str})
    e = np.stack([embed_file(str(SHARED / "speechocean762" / p)) for p in tqdm(m["path"], desc="GE2E", mininterval=2)])
    return e, m.rename(columns={"speaker": "person"})


def face_trials(per_fold: int) -> tuple[np.ndarray, pd.DataFrame]:
    from facevoice.faces.embed import embed_paths
    from facevoice.protocols.lfw_pairs import first_per_fold, read_pairs

    root = SHARED / "lfw_dev" / "lfw-deepfunneled"
    pairs, _ = read_pairs(SHARED / "lfw_dev" / "pairs.txt", root)
    pairs = first_per_fold(pairs, per_fold)
    photos = sorted(set(pairs["left"].astype(str)) | set(pairs["right"].astype(str)))
    e = np.stack(embed_paths(photos, flip=True, workers=2))
    return e, pd.DataFrame({"path": photos, "person": [Path(p).parent.name for p in photos]})


def all_pairs(e: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(e), k=1)
    return np.sum(e[i] * e[j], axis=1), (people[i] == people[j]).astype(int)


def calibrate(name: str, e: np.ndarray, table: pd.DataFrame, source: str) -> tuple[dict, object]:
    cos, same = all_pairs(e, table["person"].values)
    cal = fit_calibration(cos, same, source)
    rate, threshold = eer(same, cos)[:2]
    print(f"{name}: {len(table)} files, {table['person'].nunique()} people, {len(cos)} trials "
          f"({same.sum()} same): EER {rate:.4f} at cosine {threshold:.3f}; llr = {cal.scale:.2f} cos + {cal.offset:.2f} "
          f"(LLR 0 at cosine {cal.threshold:.3f})")
    return {"eer": rate, "eer_threshold": threshold, "n_trials": int(len(cos)), "n_people": int(table['person'].nunique())}, cal


def chimeric(face_e, faces, voice_e, voices, seed: int = 0) -> dict:
    """EERs on the second half's identities; the fusion fitted on the first half's."""
    rng = np.random.default_rng(seed)
    counts = faces["person"].value_counts()
    face_people = sorted(counts[counts >= 2].index)
    speakers = sorted(voices["person"].unique())
    rng.shuffle(face_people)
    ids = list(zip(face_people[:len(speakers)], speakers))
    samples = []
    for k, (fp, sp) in enumerate(ids):
        photos = np.flatnonzero(faces["person"].values == fp)
        clips = np.flatnonzero(voices["person"].values == sp)
        for n in range(min(len(photos), len(clips), 4)):
            samples.append((k, photos[n], clips[n]))
    s = pd.DataFrame(samples, columns=["id", "photo", "clip"])
    half = s["id"] < len(ids) // 2

    def trials(rows):
        i, j = np.triu_indices(len(rows), k=1)
        r = rows.reset_index(drop=True)
        fc = np.sum(face_e[r["photo"].values[i]] * face_e[r["photo"].values[j]], axis=1)
        vc = np.sum(voice_e[r["clip"].values[i]] * voice_e[r["clip"].values[j]], axis=1)
        return fc, vc, (r["id"].values[i] == r["id"].values[j]).astype(int)

    ftr, vtr, ytr = trials(s[half])
    fte, vte, yte = trials(s[~half])
    fitted = fit_fusion(ftr, vtr, ytr, "the first half's identities")
    scores = {"face (dlib)": fte, "voice (GE2E)": vte, "mean of the cosines": (fte + vte) / 2,
              "llr fusion, fitted on the first half": fitted.score(fte, vte)}
    if CALIBRATION_FILE.exists():
        scores["llr fusion, calibration file"] = Fusion.from_file().score(fte, vte)
    out = {"n_identities_test": int(len(ids) - len(ids) // 2), "n_trials_test": int(len(yte))}
    for name, sc in scores.items():
        out[name] = eer(yte, sc)[0]
        print(f"chimeric, {name}: EER {out[name]:.4f} ({out['n_trials_test']} trials, {yte.sum()} same)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-fold", type=int, default=60, help="LFW pairs per fold whose photos are embedded")
    ap.add_argument("--write", action="store_true", help=f"write {CALIBRATION_FILE.relative_to(ROOT)}")
    args = ap.parse_args()
    t = time.time()
    voice_e, voices = voice_trials()
    voice, vcal = calibrate("voice", voice_e, voices, "GE2E on every pair of speechocean762's 600 clips (60 speakers)")
    face_e, faces = face_trials(args.per_fold)
    face, fcal = calibrate("face", face_e, faces, f"dlib on every pair of the {len(faces)} lfw_dev photos in LFW's "
                                                  f"pairs (first {args.per_fold} of each fold)")
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps({"face": fcal.record(), "voice": vcal.record()}, indent=1) + "\n")
        print(f"wrote {CALIBRATION_FILE}")
    chimeric(face_e, faces, voice_e, voices)
    print(f"wall time {time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
