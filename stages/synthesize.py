"""Stage ``synthesize``: the embedded synthetic corpus (faces like LFW, voices like Common Voice)."""
import json
import shutil
from pathlib import Path

from facevoice import params
from facevoice.sources.synthetic import LANGUAGES, generate
from facevoice.stage import main

OUT = Path("data/raw/synthetic")


def wanted() -> bool:
    """Whether prepare reads the synthetic corpus at all (a real-corpus run does not need it generated)."""
    prepare = params.section("prepare")
    return any((prepare.get(m) or {}).get("source") == "synthetic" for m in ("faces", "voices"))


def run():
    p = params.checked("synthesize")
    if not wanted():
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        (OUT / "NOT_GENERATED.txt").write_text("prepare.faces and prepare.voices use no synthetic source\n")
        print("synthesize: not needed (prepare uses no synthetic source)")
        return
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
