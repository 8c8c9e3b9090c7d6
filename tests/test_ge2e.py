"""The GE2E speaker encoder: the torch-free checkpoint reader, the reference's preprocessing, NumPy and Keras
forward passes that agree, speakers separated on real speech, one-line errors, and no torch anywhere."""
from __future__ import annotations

import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from facevoice.audio import ge2e, torch_legacy
from facevoice.audio.loader import load
from facevoice.errors import FacevoiceError, InputError

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "datasets" / "speechocean762"
needs_speech = pytest.mark.skipif(not (SPEECH / "manifest.csv").exists(),
                                  reason="../shared/datasets/speechocean762 is not on this machine")


def _clips(per_speaker: int, speakers: int) -> pd.DataFrame:
    m = pd.read_csv(SPEECH / "manifest.csv", dtype={"speaker": str})
    keep = sorted(m["speaker"].unique())[:speakers]
    return m[m["speaker"].isin(keep)].groupby("speaker").head(per_speaker).reset_index(drop=True)


def test_the_reader_yields_the_encoders_14_tensors_with_their_shapes():
    w = ge2e.weights()
    assert len(w) == 14
    assert w["lstm.weight_ih_l0"].shape == (1024, 40)
    for i in range(3):
        assert w[f"lstm.weight_hh_l{i}"].shape == (1024, 256)
        assert w[f"lstm.bias_ih_l{i}"].shape == w[f"lstm.bias_hh_l{i}"].shape == (1024,)
    for i in (1, 2):
        assert w[f"lstm.weight_ih_l{i}"].shape == (1024, 256)
    assert w["linear.weight"].shape == (256, 256) and w["linear.bias"].shape == (256,)
    assert all(np.isfinite(a).all() and a.dtype == np.float32 for a in w.values())
    # the three layers share one storage: distinct tensors must not be the same bytes (offsets honoured)
    assert not np.array_equal(w["lstm.weight_hh_l0"], w["lstm.weight_hh_l1"])


def _legacy_file(path: Path, obj_pickle: bytes, keys: list, storages: list[bytes]) -> Path:
    with open(path, "wb") as f:
        for head in (torch_legacy.MAGIC, torch_legacy.PROTOCOL, {"little_endian": True}):
            pickle.dump(head, f, protocol=2)
        f.write(obj_pickle)
        pickle.dump(keys, f, protocol=2)
        for raw in storages:
            f.write(struct.pack("<q", len(raw) // 4))
            f.write(raw)
    return path


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text: str) -> bytes:
    return b"X" + struct.pack("<I", len(text.encode())) + text.encode()


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", i)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _tensor(key: str, numel: int, offset: int, size: tuple, stride: tuple) -> bytes:
    """torch's legacy pickle of a tensor: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, None)."""
    pid = _tuple(_str("storage"), _global("torch", "FloatStorage"), _str(key), _str("cpu"), _int(numel)) + b"Q"
    return _global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + _int(offset) + _tuple(*map(_int, size)) + \
        _tuple(*map(_int, stride)) + b"\x89Nt" + b"R"


def test_the_reader_rebuilds_strided_views_of_a_shared_storage(tmp_path):
    # one storage of 12 floats: a 2x3 tensor at offset 0 and a transposed 3x2 view at offset 6
    data = np.arange(12, dtype="<f4")
    body = (b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + _str("a") + _tensor("0", 12, 0, (2, 3), (3, 1))
            + _str("b") + _tensor("0", 12, 6, (3, 2), (1, 3)) + b"u.")
    path = _legacy_file(tmp_path / "tiny.pt", body, ["0"], [data.tobytes()])
    out = torch_legacy.load(path)
    np.testing.assert_array_equal(out["a"], data[:6].reshape(2, 3))
    np.testing.assert_array_equal(out["b"], data[6:].reshape(2, 3).T)


def test_a_checkpoint_naming_any_other_class_is_refused(tmp_path):
    body = b"\x80\x02" + _global("os", "system") + _tuple(_str("true")) + b"R."
    path = _legacy_file(tmp_path / "evil.pt", body, [], [])
    with pytest.raises(InputError, match=r"evil\.pt: checkpoint names os\.system, which is not allowed"):
        torch_legacy.load(path)


@pytest.mark.parametrize("damage", ["truncated", "zeros", "text"])
def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path, damage):
    good = ge2e.weights_path().read_bytes()
    data = {"truncated": good[: len(good) // 3], "zeros": b"\0" * 4096, "text": b"hello\n"}[damage]
    path = tmp_path / "pretrained.pt"
    path.write_bytes(data)
    with pytest.raises(InputError) as exc:
        torch_legacy.load(path, key="model_state")
    msg = str(exc.value)
    assert msg.startswith(str(path)) and "\n" not in msg


def test_a_missing_package_is_one_line_saying_how_to_install_it(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FacevoiceError, match=r"resemblyzer package, which is not installed: pip install --no-deps "
                                             r"resemblyzer==0\.1\.4"):
        ge2e.weights_path()


# ---------------------------------------------------------------- the reference's preprocessing, transcribed
def _reference_embedding(wav: np.ndarray) -> np.ndarray:
    """resemblyzer 0.1.4's preprocess_wav + embed_utterance (audio.py, voice_encoder.py), with librosa and scipy
    as it calls them; only the network is ours (forward_numpy)."""
    import librosa
    import webrtcvad
    from scipy.ndimage import binary_dilation

    rms = np.sqrt(np.mean((wav * 32767) ** 2))
    change = -30 - 20 * np.log10(rms / 32767)
    wav = wav if change < 0 else wav * (10 ** (change / 20))
    wav = wav[: len(wav) - len(wav) % 480]
    pcm = struct.pack("%dh" % len(wav), *(np.round(wav * 32767)).astype(np.int16))
    vad = webrtcvad.Vad(mode=3)
    flags = np.array([vad.is_speech(pcm[s * 2:(s + 480) * 2], sample_rate=16000) for s in range(0, len(wav), 480)])
    padded = np.concatenate((np.zeros(3), flags, np.zeros(4)))
    ret = np.cumsum(padded, dtype=float)
    ret[8:] = ret[8:] - ret[:-8]
    mask = binary_dilation(np.round(ret[7:] / 8).astype(bool), np.ones(7))
    wav = wav[np.repeat(mask, 480)]
    n_frames = int(np.ceil((len(wav) + 1) / 160))
    starts = list(range(0, max(1, n_frames - 160 + 77 + 1), 77))
    if (len(wav) - starts[-1] * 160) / (160 * 160) < 0.75 and len(starts) > 1:
        starts = starts[:-1]
    stop = (starts[-1] + 160) * 160
    if stop >= len(wav):
        wav = np.pad(wav, (0, stop - len(wav)))
    mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
    e = ge2e.forward_numpy(np.array([mel[s:s + 160] for s in starts])).mean(axis=0)
    return e / np.linalg.norm(e)


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced buzz with pauses (harmonics of a wandering pitch), loud enough for the VAD."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    y = sum(np.sin(k * phase) / k for k in range(1, 12)) * (np.sin(2 * np.pi * 1.5 * t) > -0.3)
    return (0.05 * y + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("seconds", [1.0, 3.3, 12.0])
def test_preprocessing_and_windows_are_the_references(seconds):
    wav = _speech(seconds, seed=int(seconds))
    np.testing.assert_allclose(ge2e.embed_wav(wav), _reference_embedding(wav), atol=2e-6)


@needs_speech
def test_the_numpy_and_keras_networks_agree_on_real_windows():
    clips = _clips(1, 3)
    mels = np.concatenate([next(ge2e.windows(ge2e.trim_long_silences(ge2e.normalize_volume(
        load(str(SPEECH / p), sr=16000))))) for p in clips["path"]])
    keras_out = np.asarray(ge2e.build_keras()(mels, training=False))
    np.testing.assert_allclose(ge2e.forward_numpy(mels), keras_out, atol=1e-5)
    assert keras_out.shape == (len(mels), 256)


def test_a_long_clip_streams_its_windows_in_batches():
    wav = _speech(ge2e.BATCH * 0.77 * 2.5)  # more than two batches of windows
    batches = list(ge2e.windows(ge2e.trim_long_silences(ge2e.normalize_volume(wav))))
    assert len(batches) >= 3 and all(len(b) <= ge2e.BATCH for b in batches)
    assert all(b.shape[1:] == (160, 40) for b in batches)


@needs_speech
def test_the_embedding_separates_real_speakers():
    """12 speakers x 4 read sentences of speechocean762, every pair of clips: EER well below MFCC statistics'
    (0.072 on the whole corpus)."""
    from facevoice.evaluate import eer

    clips = _clips(4, 12)
    e = np.stack([ge2e.embed_file(str(SPEECH / p)) for p in clips["path"]])
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    i, j = np.triu_indices(len(e), k=1)
    same = (clips["speaker"].values[i] == clips["speaker"].values[j]).astype(int)
    rate = eer(same, np.sum(e[i] * e[j], axis=1))[0]
    assert rate <= 0.06, rate


def test_a_clip_with_no_speech_is_one_line_naming_it(tmp_path):
    import soundfile as sf

    path = tmp_path / "hiss.wav"
    sf.write(path, (0.02 * np.random.default_rng(0).standard_normal(16000 * 2)).astype(np.float32), 16000)
    with pytest.raises(InputError, match=r"hiss\.wav: no speech found"):
        ge2e.embed_file(str(path))


def test_embedding_a_clip_never_imports_torch_and_no_requirement_pulls_it_in(tmp_path):
    import soundfile as sf

    path = tmp_path / "a.wav"
    sf.write(path, _speech(3.0), 16000)
    code = ("import sys; from facevoice.audio.ge2e import embed_file; e = embed_file(sys.argv[1]); "
            "assert e.shape == (256,); print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'resemblyzer', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import importlib.util

    assert importlib.util.find_spec("torch") is None, "torch is installed in this environment"
    reqs = (ROOT / "requirements.txt").read_text().lower()
    assert "torch" not in reqs and "resemblyzer" not in reqs  # resemblyzer only with --no-deps
    nodeps = (ROOT / "requirements-nodeps.txt").read_text()
    assert "resemblyzer==0.1.4" in nodeps
    assert "--no-deps -r requirements-nodeps.txt" in (ROOT / "Makefile").read_text()


def test_a_clip_longer_than_a_block_is_embedded_block_by_block_from_the_stream(tmp_path, monkeypatch):
    import soundfile as sf

    path = tmp_path / "long.flac"
    wav = _speech(25.0, seed=3)
    sf.write(path, wav, 16000)
    monkeypatch.setattr(ge2e, "BLOCK_SECONDS", 10.0)
    from facevoice.audio.loader import stream

    blocks = list(stream(str(path), sr=16000, block_seconds=10.0))
    assert len(blocks) >= 3 and max(len(b) for b in blocks) <= 11 * 16000
    expected = sum(ge2e.window_sum(b)[0] for b in blocks)
    got = ge2e.embed_file(str(path))
    np.testing.assert_allclose(got, expected / np.linalg.norm(expected), atol=1e-5)
    assert float(got @ ge2e.embed_wav(wav)) > 0.99  # the blocks' mean is the whole clip's, near enough


@pytest.mark.parametrize("level", [0.0, 0.3])
def test_a_silent_or_constant_clip_is_one_line_saying_so(tmp_path, level):
    import soundfile as sf

    path = tmp_path / "quiet.wav"
    sf.write(path, np.full(16000, level, dtype=np.float32), 16000)
    with pytest.raises(InputError, match=r"quiet\.wav: silent clip"):
        ge2e.embed_file(str(path))
