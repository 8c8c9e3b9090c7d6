"""Real synthesized speech from libespeak-ng, bundled by the ``espeakng-loader`` wheel (no network).

A small ctypes binding: synchronous output, a synth callback collecting int16 chunks, 22.05 kHz.
"""
from __future__ import annotations

import ctypes
import zlib
import threading

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000
POS_CHARACTER = 1
CHARS_UTF8 = 1
ENDPAUSE = 0x1000
RATE, VOLUME, PITCH, RANGE = 1, 2, 3, 4

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Espeak:
    """One process-wide engine (libespeak-ng keeps global state); use ``Espeak.get()``.

    libespeak-ng also carries synthesis state from one utterance to the next in static variables (a repeated
    request differs by a few samples; ``espeak_Terminate`` + ``espeak_Initialize`` does not reset them): a clip
    depends on the clips synthesised before it in the process. The synthesize stage runs in a fresh process,
    so the corpus is the same bytes every time (tests/test_synthetic_corpus.py)."""

    _instance = None
    _lock = threading.Lock()

    def __init__(self):
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, ESPEAK_INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise")
        self._chunks: list[np.ndarray] = []

        def collect(wav, n, _events):
            if n > 0 and wav:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = _CALLBACK(collect)  # keep a reference: ctypes callbacks must outlive their use
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> "Espeak":
        with cls._lock:
            if cls._instance is None:
                cls._instance = Espeak()
            return cls._instance

    def say(self, text: str, voice: str, rate: int = 160, pitch: int = 50, pitch_range: int = 50) -> np.ndarray:
        """Float32 samples in [-1, 1] at ``self.sample_rate`` for ``text`` spoken by ``voice`` (e.g. ``fr+f3``)."""
        with self._lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self.lib.espeak_SetParameter(RATE, int(rate), 0)
            self.lib.espeak_SetParameter(PITCH, int(pitch), 0)
            self.lib.espeak_SetParameter(RANGE, int(pitch_range), 0)
            self.lib.espeak_SetParameter(VOLUME, 100, 0)
            self._chunks = []
            # voices with breath or Klatt noise (fr+f2, whisper, ...) draw from espeak-ng's random generator:
            # seeding it from the request itself makes every clip the same in any process
            self.lib.espeak_ng_SetRandSeed(ctypes.c_long(zlib.crc32(f"{voice}|{rate}|{pitch}|{text}".encode())))
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            self.lib.espeak_Synth(buf, len(buf), 0, POS_CHARACTER, 0, CHARS_UTF8 | ENDPAUSE, None, None)
            self.lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return (np.concatenate(chunks).astype(np.float32) / 32768.0)
