"""Stage ``features@<name>``: one audio feature over the voices manifest (``python stages/features.py mfcc``)."""
import json
import sys
from pathlib import Path

from facevoice import params
from facevoice.features import build
from facevoice.parallel import from_params
from facevoice.stage import main


def run():
    name = sys.argv[1]
    p = params.checked(f"features.{name}")
    summary = build(name, p.data, manifest=Path("data/manifests/voices.csv"), out_dir=Path("data/features") / name,
                    workers=p.int("workers", 2, min=0), backend=from_params(params.load().get("parallel")))
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
