"""Stage ``face_embed``: dlib's pretrained 128-d descriptor of every kept face (``data/features/face_embed``)."""
import json
from pathlib import Path

from facevoice import params
from facevoice.faces.embedded import build
from facevoice.stage import main


def run():
    summary = build(params.section("face_embed"), faces_dir=Path("data/features/faces"),
                    out_dir=Path("data/features/face_embed"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
