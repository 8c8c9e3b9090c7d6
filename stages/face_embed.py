"""Stage ``face_embed``: dlib's pretrained 128-d descriptor of every kept face (``data/features/face_embed``)."""
import json
from pathlib import Path

from facevoice import params
from facevoice.faces.embedded import build
from facevoice.parallel import from_params
from facevoice.atomic import atomic_dir
from facevoice.stage import main


def run():
    backend = from_params(params.load().get("parallel"))
    with atomic_dir(Path("data/features/face_embed")) as out:  # a killed run leaves no half-written store
        summary = build(params.section("face_embed"), faces_dir=Path("data/features/faces"), out_dir=out,
                        backend=backend)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(run)
