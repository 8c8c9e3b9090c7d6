"""Stage ``pairs``: identity-matched (face, voice) samples for fusion and verification."""
import json
from pathlib import Path

from facevoice import params
from facevoice.pairs import build
from facevoice.stage import main


def run():
    p = params.checked("pairs")
    p.choice("pairing", ["identity", "chimeric"])
    for split, n in (p.get("per_person") or {}).items():
        p.sub("per_person").int(split, min=0)
    summary = build(p.data, features_root=Path("data/features"), out_dir=Path("data/features/pairs"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
