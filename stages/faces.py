"""Stage ``faces``: detect, choose, crop and augment the labelled person's face in every manifest photo.

Reads ``data/manifests/faces.csv`` and params ``faces``; writes ``data/features/faces/`` (index.csv,
x.npy uint8 crops, rejects.csv, summary.json, samples/*.png), which ``train.run`` reads as ``feature: faces``.
"""
import json
from pathlib import Path

from facevoice import params
from facevoice.faces import build
from facevoice.parallel import from_params
from facevoice.stage import main


def run():
    summary = build(params.section("faces"), manifest=Path("data/manifests/faces.csv"),
                    out_dir=Path("data/features/faces"), backend=from_params(params.load().get("parallel")))
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
