"""Stage ``verify@<name>``: a siamese verifier (fused, face-only, voice-only) on ``data/features/pairs``."""
import json
import sys
from pathlib import Path

from facevoice import params
from facevoice.stage import main
from facevoice.verify import run as verify


def run():
    name = sys.argv[1]
    info = verify(name, params.section(f"verify.{name}"), pairs_dir=Path("data/features/pairs"),
                  models_dir=Path("models"), metrics_dir=Path("metrics"), plots_dir=Path("plots"))
    print(json.dumps({k: v for k, v in info.items() if not isinstance(v, dict)}))


if __name__ == "__main__":
    main(run)
