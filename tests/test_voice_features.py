"""Voice features on generated tones: shapes and dtypes, chunks keep their recording's split, PNGs are
written from the workers, ogg decodes, and the train-only scalers see training rows only."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from facevoice.audio.features import FEATURES
from facevoice.audio.loader import load
from facevoice.features import build
from facevoice.store import load_feature
from helpers import toy_feature

SR = 22050

PARAMS = {
    "mfcc": {"kind": "mfcc", "sr": 16000, "n_mfcc": 40, "stats": ["mean", "std"], "seq_frames": 200},
    "mel_chunks": {"kind": "mel_chunks", "sr": 16000, "chunk": 1.0, "min_chunk": 0.5, "n_mels": 64, "n_fft": 512,
                   "hop": 256, "fmax": 8000, "size": [64, 64], "png_per_person": 1, "png_chunks": 2},
    "logspec": {"kind": "logspec", "sr": 16000, "duration": 3.0, "n_fft": 512, "hop": 512, "n_bins": 64, "frames": 96},
    "mel6s": {"kind": "mel6s", "sr": 16000, "duration": 6.0, "n_mels": 64, "size": [64, 64]},
    "shortterm": {"kind": "shortterm", "sr": 16000, "duration": 3.0, "frames": 68},
    "raw": {"kind": "raw", "sr": 8000, "duration": 2.0},
}
SHAPES = {  # feature -> {store: (shape, dtype)}
    "mfcc": {"x": ((80,), np.float32), "seq": ((200, 40), np.float32)},
    "mel_chunks": {"x": ((64, 64, 1), np.uint8)},
    "logspec": {"x": ((64, 96, 1), np.uint8)},
    "mel6s": {"x": ((64, 64, 1), np.uint8)},
    "shortterm": {"x": ((68, 68, 1), np.float32)},
    "raw": {"x": ((16000,), np.float32)},
}


def tone(path: Path, seconds: float, freq: float = 220.0, sr: int = SR, fmt: str | None = None) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.4 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), sr, format=fmt)
    return path


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_feature_shapes_and_dtypes_on_a_tone(tmp_path, name):
    samples = FEATURES[name](str(tone(tmp_path / "a.wav", 2.6)), PARAMS[name])
    assert samples, name
    for s in samples:
        assert set(s) == set(SHAPES[name])
        for store, (shape, dtype) in SHAPES[name].items():
            assert s[store].shape == shape and s[store].dtype == dtype, (name, store, s[store].shape, s[store].dtype)
            assert np.all(np.isfinite(s[store].astype(np.float64)))
    if SHAPES[name]["x"][1] == np.uint8:
        assert samples[0]["x"].max() > 200 and samples[0]["x"].min() < 50  # the 0..255 range is used


def test_mel_chunks_one_per_second_and_the_short_tail_is_padded_or_dropped(tmp_path):
    p = {**PARAMS["mel_chunks"], "png_per_person": 0}
    assert len(FEATURES["mel_chunks"](str(tone(tmp_path / "a.wav", 2.6)), p)) == 3   # 1 + 1 + 0.6 (padded)
    assert len(FEATURES["mel_chunks"](str(tone(tmp_path / "b.wav", 2.3)), p)) == 2   # the 0.3 s tail is dropped
    assert FEATURES["mel_chunks"](str(tone(tmp_path / "c.wav", 0.3)), p) == []


def test_low_and_high_tones_differ_where_expected(tmp_path):
    low = FEATURES["mel6s"](str(tone(tmp_path / "lo.wav", 2.0, 150)), PARAMS["mel6s"])[0]["x"][..., 0]
    high = FEATURES["mel6s"](str(tone(tmp_path / "hi.wav", 2.0, 2000)), PARAMS["mel6s"])[0]["x"][..., 0]
    rows = np.arange(low.shape[0])
    centre = lambda img: (img.mean(axis=1) * rows).sum() / img.mean(axis=1).sum()  # noqa: E731
    assert centre(high) > centre(low) + 5  # row 0 = lowest mel band


def test_ogg_decodes_through_the_loader(tmp_path):
    path = tone(tmp_path / "a.ogg", 1.5, fmt="OGG")
    y = load(path, sr=16000)
    assert abs(len(y) - 24000) < 200 and np.max(np.abs(y)) > 0.1


def corpus(tmp_path: Path) -> Path:
    """Two people, three recordings each (train / val / test), one of them broken."""
    rows = []
    for person, freq in (("ann", 250.0), ("bob", 110.0)):
        for split, seconds in (("train", 3.6), ("val", 2.2), ("test", 1.8)):
            path = tone(tmp_path / "audio" / person / f"{split}.wav", seconds, freq)
            rows.append({"path": str(path), "person": person, "gender": "female" if person == "ann" else "male",
                         "language": "en", "source_id": f"{person}/{split}", "corpus": "toy", "split": split})
    bad = tmp_path / "audio" / "bob" / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    rows.append({"path": str(bad), "person": "bob", "gender": "male", "language": "en", "source_id": "bob/broken",
                 "corpus": "toy", "split": "train"})
    manifest = tmp_path / "voices.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def test_chunks_inherit_their_recordings_split_and_pngs_come_from_the_workers(tmp_path):
    manifest = corpus(tmp_path)
    out = tmp_path / "features" / "mel_chunks"
    summary = build("mel_chunks", PARAMS["mel_chunks"], manifest, out, workers=2, progress=False)
    assert summary["clips"] == 7 and summary["clips_kept"] == 6 and summary["clips_rejected"] == 1
    index, x = load_feature(out)
    assert len(index) == len(x) == summary["samples"] == 2 * (4 + 2 + 2)  # 3.6 s -> 4 chunks (last padded), 2.2 and 1.8 -> 2
    truth = pd.read_csv(manifest).set_index("path")["split"]
    assert (index["split"].values == truth.loc[index["path"]].values).all()
    assert index.groupby("source_id")["split"].nunique().max() == 1
    assert list(index.loc[index["source_id"] == "ann/train", "chunk"]) == [0, 1, 2, 3]
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "png").rglob("*.png"))
    assert pngs == ["png/ann/train_0.png", "png/ann/train_1.png", "png/bob/train_0.png", "png/bob/train_1.png"]
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects["path"].str.endswith("broken.wav").all() and "decode" in rejects["reason"][0]


def test_minmax_norm_is_fitted_on_training_rows_only():
    from facevoice.models import get

    rng = np.random.default_rng(0)
    x_train = rng.uniform(-3, 5, size=(40, 68, 68, 1)).astype(np.float32)
    x_test = rng.uniform(-50, 50, size=(5, 68, 68, 1)).astype(np.float32)  # far wider: must not matter
    model = get("cnn_classifier")((68, 68, 1), 2, x_train, filters=[4], head=[], norm="minmax")
    norm = model.get_layer("norm")
    scaled = np.asarray(norm(x_train))
    np.testing.assert_allclose(scaled.min(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.max(axis=(0, 2, 3)), 1, atol=1e-5)
    assert np.asarray(norm(x_test)).max() > 2  # test rows are scaled with the training range, not their own


def test_train_run_fits_norm_and_baseline_scaler_on_train_rows_only(tmp_path):
    """Through train.run: a test row far outside the training range leaves the scalers unchanged."""
    import joblib
    import keras

    from facevoice.train import run

    rng = np.random.default_rng(1)
    n = 60
    y = np.arange(n) % 2
    x = (rng.normal(0, 1, size=(n, 8, 8, 1)) + y[:, None, None, None] * 2).astype(np.float32)
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    x[split == "test"] += 100.0
    toy_feature(tmp_path / "features" / "toy", x, split, gender=np.where(y == 1, "male", "female"), language="en",
                person=[f"p{i % 6}" for i in range(n)])
    dirs = dict(features_root=tmp_path / "features", models_dir=tmp_path / "models", metrics_dir=tmp_path / "m",
                plots_dir=tmp_path / "plots")
    run("svm", {"feature": "toy", "task": "gender", "builder": "linear_svm", "args": {"C": 1.0}}, **dirs)
    scaler = joblib.load(tmp_path / "models" / "svm.joblib")[0]
    train = x[split == "train"].reshape(-1, 64)
    np.testing.assert_allclose(scaler.data_max_, train.max(axis=0))
    np.testing.assert_allclose(scaler.data_min_, train.min(axis=0))
    run("cnn", {"feature": "toy", "task": "gender", "builder": "cnn_classifier",
                "args": {"filters": [4], "head": [], "norm": "minmax"},
                "fit": {"epochs": 1, "batch_size": 16, "seed": 1, "verbose": 0}}, **dirs)
    norm = keras.models.load_model(tmp_path / "models" / "cnn.keras").get_layer("norm")
    lo = x[split == "train"].min(axis=(0, 2, 3))
    np.testing.assert_allclose(np.ravel(keras.ops.convert_to_numpy(norm.mean)), lo, rtol=1e-5)


def test_undersampling_keeps_training_rows_only_and_the_language_filter():
    from facevoice.train import select_rows, undersample

    rng = np.random.default_rng(0)
    y = np.array([0] * 30 + [1] * 10 + [0] * 50)  # rows 40.. are val/test rows: never passed in
    x = rng.normal(size=(90, 4)) + y[:, None] * 3
    rows = np.arange(40)
    kept = undersample(rows, x, y, "random", seed=0)
    assert set(kept) <= set(rows) and np.bincount(y[kept]).tolist() == [10, 10]
    kept = undersample(rows, x, y, "one_sided", seed=0)
    assert set(kept) <= set(rows) and (y[kept] == 1).sum() == 10 and (y[kept] == 0).sum() <= 30
    assert list(undersample(rows, x, y, "none", seed=0)) == list(rows)
    index = pd.DataFrame({"gender": ["male", "female", "unknown", "male"], "language": ["en", "fr", "en", "de"]})
    assert list(select_rows(index, "gender", ["en", "de"])) == [True, False, False, True]
    assert list(select_rows(index, "person")) == [True] * 4


@pytest.mark.parametrize("seconds,n_fft,hop,n_mels,fmax", [(2.3, 512, 160, 128, None), (0.02, 512, 256, 64, 8000),
                                                          (6.0, 1024, 512, 64, 8000)])
def test_fast_spectrogram_kernels_equal_librosa(seconds, n_fft, hop, n_mels, fmax):
    """facevoice.audio.dsp (cached sparse filter banks, float32 FFT) gives librosa's numbers, short clips included."""
    import librosa

    from facevoice.audio import dsp

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    y = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmax=fmax)
    got = dsp.melspectrogram(y, 16000, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmax=fmax)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-6 * ref.max())
    np.testing.assert_allclose(dsp.power_to_db(got), librosa.power_to_db(S=ref), atol=0.01)
    ref_m = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=40, n_fft=n_fft, hop_length=hop)
    got_m = dsp.mfcc(y, 16000, n_mfcc=40, n_fft=n_fft, hop_length=hop)
    assert got_m.shape == ref_m.shape
    np.testing.assert_allclose(got_m, ref_m, atol=0.02 * np.abs(ref_m).max() / 100 + 0.05)


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [(16000, 512, 128, 0.0, None), (16000, 1024, 64, 0.0, 8000),
                                                     (22050, 2048, 128, 20.0, None), (8000, 256, 40, 0.0, 4000)])
def test_mel_filters_and_window_equal_librosa(sr, n_fft, n_mels, fmin, fmax):
    """The filter bank and window are built without librosa (workers never import it) and equal its own."""
    import librosa
    import scipy.signal

    from facevoice.audio import dsp

    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    got = dsp.mel_filters(sr, n_fft, n_mels, fmin, fmax)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7 * ref.max())
    np.testing.assert_allclose(dsp.hann(n_fft), scipy.signal.get_window("hann", n_fft, fftbins=True), atol=1e-7)


@pytest.mark.parametrize("n,orig,target", [(1, 22050, 16000), (777, 22050, 16000), (99225, 22050, 16000),
                                           (8000, 8000, 16000), (48000, 48000, 16000), (16000, 16000, 16000)])
def test_resample_equals_librosa_soxr_hq(n, orig, target):
    import librosa

    from facevoice.audio import dsp

    y = np.random.default_rng(n).normal(size=n).astype(np.float32) * 0.1
    ref = librosa.resample(y=y, orig_sr=orig, target_sr=target, res_type="soxr_hq")
    got = dsp.resample(y, orig, target)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_trim_keeps_librosas_boundaries():
    """dsp.trim (running sums instead of framed RMS) cuts where librosa.effects.trim cuts, on speech with
    silences, on all-silence and on clips shorter than a frame."""
    import librosa

    from facevoice.audio import dsp

    rng = np.random.default_rng(3)
    clips = [np.zeros(10, np.float32), (0.2 * rng.normal(size=300)).astype(np.float32)]
    for seed in range(20):
        r = np.random.default_rng(seed)
        lead, body, tail = (int(r.integers(0, 20000)) for _ in range(3))
        t = np.arange(body + 4000) / 16000
        voice = 0.3 * np.sin(2 * np.pi * r.uniform(90, 250) * t) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
        y = np.concatenate([1e-4 * r.normal(size=lead), voice, 1e-4 * r.normal(size=tail)]).astype(np.float32)
        clips.append(y)
    for y in clips:
        for top_db in (20, 30, 60):
            _, ref = librosa.effects.trim(y=y, top_db=top_db)
            got, (start, end) = dsp.trim(y, top_db=top_db)
            assert (start, end) == tuple(int(v) for v in ref), (len(y), top_db)
            assert np.array_equal(got, y[start:end])


def test_per_language_trains_a_model_for_each_language_and_keeps_the_one_it_cannot(tmp_path):
    """languages: all -> one model per language with a known gender; a language holding one gender only is
    listed with its reason, not dropped; each model saw its own language's rows only."""
    import json

    from facevoice.train import run_per_language

    rng = np.random.default_rng(2)
    langs = np.array(["en"] * 48 + ["fr"] * 48 + ["de"] * 24)
    n = len(langs)
    y = np.arange(n) % 2
    gender = np.where(y == 1, "male", "female")
    gender[langs == "de"] = "female"  # de: one gender only
    x = (rng.normal(0, 1, size=(n, 6)) + y[:, None] * 3).astype(np.float32)
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    toy_feature(tmp_path / "features" / "toy", x, split, gender=gender, language=langs,
                person=[f"p{i % 8}" for i in range(n)])
    spec = {"feature": "toy", "task": "gender", "languages": "all", "builder": "dense_classifier",
            "args": {"hidden": [8]}, "fit": {"epochs": 40, "batch_size": 8, "lr": 0.01, "seed": 0, "verbose": 0}}
    info = run_per_language("gpl", spec, features_root=tmp_path / "features", models_dir=tmp_path / "models",
                            metrics_dir=tmp_path / "metrics", plots_dir=tmp_path / "plots")
    assert info["languages_trained"] == ["en", "fr"] and "de" in info["languages_skipped"]
    assert "one gender only" in info["languages_skipped"]["de"]
    for lang in ("en", "fr"):
        meta = json.loads((tmp_path / f"models/gpl/{lang}.json").read_text())
        assert meta["languages"] == [lang] and meta["n_test"] == 12
        assert info["languages"][lang]["accuracy"] >= 0.9
    assert info["n_test"] == 24
    assert json.loads((tmp_path / "metrics/gpl.json").read_text())["accuracy"] == pytest.approx(info["accuracy"])


def test_a_feature_worker_never_imports_librosa_or_pandas(tmp_path):
    """The worker job (load, resample, trim, mel, MFCC) runs on NumPy/SciPy/soundfile/soxr alone: a worker
    process starts in a fraction of the second librosa's lazy imports cost, and gives librosa's numbers."""
    import subprocess
    import sys

    clip = tone(tmp_path / "a.wav", 1.5, sr=22050)
    code = ("import sys, json; from facevoice.audio.features import compute; "
            f"out, reason = compute(('mfcc', {str(clip)!r}, {{'sr': 16000, 'n_mfcc': 40, 'n_fft': 512, "
            "'hop': 160, 'trim_db': 30}));"
            "print(json.dumps([reason, out[0]['x'].tolist(), 'librosa' in sys.modules, 'pandas' in sys.modules]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    reason, x, librosa_loaded, pandas_loaded = json.loads(res.stdout.strip().splitlines()[-1])
    assert reason is None and not librosa_loaded and not pandas_loaded
    import librosa

    y, _ = librosa.load(clip, sr=16000)
    y, _ = librosa.effects.trim(y=y, top_db=30)
    ref = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=40, n_fft=512, hop_length=160).mean(axis=1)
    np.testing.assert_allclose(np.array(x)[:40], ref, atol=0.05)


def test_array_store_writes_samples_once_into_a_loadable_npy(tmp_path):
    """Samples go straight into the .npy (no side file, no copy on close); the header holds the final count."""
    from facevoice.store import ArrayStore

    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 40, 3)).astype(np.float32)
    store = ArrayStore(tmp_path / "x.npy")
    for row in x:
        store.append(row)
    with pytest.raises(ValueError, match="sample shape"):
        store.append(np.zeros((2, 2), np.float32))
    store.close()
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]
    got = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert got.shape == (7, 40, 3) and got.dtype == np.float32 and np.array_equal(got, x)
    assert (tmp_path / "x.npy").stat().st_size == ArrayStore.HEADER + x.nbytes
