"""The embedded synthetic corpus: rendered faces and espeak-ng voices, no network needed.

``generate`` writes it in the layouts of the real corpora so that the real adapters read it:
faces like LFW (``lfw/<Name>/<Name>_0001.jpg``, 250x250) and voices like Mozilla Common Voice
(``commonvoice/<locale>/clips/*.mp3`` + ``validated.tsv``), plus ``people.csv`` (name, gender,
language, voice settings) and ``faces_truth.csv`` (the drawn box and 5 key points of every photo).
"""
from __future__ import annotations

import json
import os
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

from ...tables import Rejects
from .. import commonvoice, lfw
from .people import LANGUAGES  # noqa: F401  (re-exported for the stage)


def list_faces(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return lfw.list_faces(root / "lfw", {"people": str(root / "people.csv"), **opts}, rejects)


def list_voices(root: Path, opts: dict, rejects: Rejects) -> pd.DataFrame:
    return commonvoice.list_voices(root / "commonvoice", opts, rejects)


def generate(out: str | Path, people: int, photos: int, utterances: int, languages: list[str], seed: int,
             bystander_rate: float = 0.2, min_seconds: float = 1.0, max_seconds: float = 8.0,
             progress: bool = True) -> dict:
    """Write the corpus under ``out``; returns counts. Deterministic from the arguments."""
    from .faces import make_identity
    from .people import make_people

    out = Path(out)
    folks = make_people(people, languages, np.random.default_rng(seed))
    identities = {p["name"]: make_identity(np.random.default_rng([seed, i, 1]), p["gender"]) for i, p in enumerate(folks)}
    truth = _photos(out, folks, identities, photos, seed, bystander_rate, progress)
    tables = _clips(out, folks, utterances, seed, (min_seconds, max_seconds), progress)
    for lang, rows in tables.items():
        pd.DataFrame(rows).to_csv(out / "commonvoice" / lang / "validated.tsv", sep="\t", index=False)
    pd.DataFrame(folks).to_csv(out / "people.csv", index=False)
    pd.DataFrame(truth).to_csv(out / "faces_truth.csv", index=False)
    return {"people": len(folks), "photos": len(truth), "clips": sum(len(r) for r in tables.values())}


def _photos(out: Path, folks: list[dict], identities: dict, photos: int, seed: int, bystander_rate: float,
            progress: bool) -> list[dict]:
    """Each person's photos (LFW's layout), a bystander in some; the drawn box and key points of each."""
    import cv2
    from tqdm import tqdm

    from .faces import render_photo

    truth = []
    for i, person in enumerate(tqdm(folks, desc="synthesize faces", disable=not progress)):
        prng = np.random.default_rng([seed, i, 2])
        others = [n for n in identities if n != person["name"]]
        for k in range(1, photos + 1):
            bystander = identities[others[int(prng.integers(len(others)))]] if others and prng.random() < bystander_rate else None
            img, info = render_photo(identities[person["name"]], prng, size=250, bystander=bystander)
            path = out / "lfw" / person["name"] / f"{person['name']}_{k:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
            truth.append({"path": str(path.relative_to(out)), "person": person["name"],
                          **{key: json.dumps(val) for key, val in info.items()}})
    return truth


def _clips(out: Path, folks: list[dict], utterances: int, seed: int, seconds: tuple[float, float],
           progress: bool) -> dict[str, list]:
    """Each person's clips (Common Voice's layout), said one after another by one espeak-ng: it carries state
    from one utterance to the next, so the order is part of the corpus. Saying a clip takes ~8 ms, encoding its
    mp3 (an ffmpeg process) ~60 ms: the encoders run on threads while the next clips are said, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from ...audio.loader import write_mp3
    from .speech import Espeak

    engine, tables, encoding = Espeak.get(), {}, deque()
    encoders = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=encoders) as pool:
        for i, person in enumerate(tqdm(folks, desc="synthesize voices", disable=not progress)):
            prng, lang = np.random.default_rng([seed, i, 3]), person["language"]
            for k in range(utterances):
                text, y = _say(engine, person, prng, seconds, np.random.default_rng([seed, i, k, 4]))
                clip = f"common_voice_{lang}_{i:03d}{k:03d}.mp3"
                path = out / "commonvoice" / lang / "clips" / clip
                encoding.append(pool.submit(write_mp3, path, y, engine.sample_rate))
                while len(encoding) > 2 * encoders:
                    encoding.popleft().result()  # an encoder's error is raised here
                tables.setdefault(lang, []).append({
                    "client_id": person["name"], "path": clip, "sentence": text, "up_votes": 2, "down_votes": 0,
                    "age": "", "gender": person["gender"], "accents": "", "locale": lang, "segment": "",
                })
        while encoding:
            encoding.popleft().result()
    return tables


def _say(engine, person: dict, prng: np.random.Generator, seconds: tuple[float, float],
         noise_rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """(text, float32 samples) of one utterance; every random choice is drawn before synthesis, so the corpus
    never depends on audio lengths."""
    from .people import utterance_text

    text = utterance_text(person["language"], prng)
    rate = person["rate"] * float(prng.uniform(0.93, 1.07))
    pitch = person["pitch"] + int(prng.integers(-2, 3))
    gain = float(prng.uniform(0.5, 0.95))
    y = engine.say(text, person["voice"], rate=rate, pitch=pitch, pitch_range=person["range"])
    if len(y) < seconds[0] * engine.sample_rate:  # a very short sentence: say it twice
        y = np.concatenate([y, engine.say(text, person["voice"], rate=rate, pitch=pitch, pitch_range=person["range"])])
    y = y[: int(seconds[1] * engine.sample_rate)]
    y = y * gain / max(1e-6, float(np.abs(y).max()))
    noise = noise_rng.normal(0, 0.002, size=y.shape)  # a little room noise
    return text, (y + noise).astype(np.float32)
