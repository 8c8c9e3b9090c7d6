"""Stage ``pairs``: identity-matched (face, voice) samples for fusion and verification."""
import json
from pathlib import Path

from facevoice import params
from facevoice.pairs import build, check
from facevoice.atomic import atomic_dir
from facevoice.stage import main


def run():
    p = params.checked("pairs")
    check(p.data)
    with atomic_dir(Path("data/features/pairs")) as out:  # a killed run leaves no half-written store
        summary = build(p.data, features_root=Path("data/features"), out_dir=out)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
