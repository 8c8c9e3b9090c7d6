"""Stage ``synthesize``: the embedded synthetic corpus (faces like LFW, voices like Common Voice)."""
import json
import shutil
from pathlib import Path

from facevoice import params
from facevoice.sources.synthetic import LANGUAGES, generate
from facevoice.stage import main

OUT = Path("data/raw/synthetic")


def run():
    p = params.checked("synthesize")
    profile = p.str("profile")
    prof = p.sub("profiles").sub(profile)
    languages = prof.list("languages")
    for lang in languages:
        if lang not in LANGUAGES:
            raise params.ParamsError(f"params.yaml: 'synthesize.profiles.{profile}.languages' has {lang!r}; "
                                     f"choose from {', '.join(LANGUAGES)}")
    shutil.rmtree(OUT, ignore_errors=True)
    counts = generate(OUT, people=prof.int("people", min=2), photos=prof.int("photos", min=1),
                      utterances=prof.int("utterances", min=1), languages=languages, seed=p.int("seed"),
                      bystander_rate=prof.float("bystander_rate", 0.2, min=0, max=1))
    print(json.dumps(counts))


if __name__ == "__main__":
    main(run)
