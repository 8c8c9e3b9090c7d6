"""Stage ``speaker_trials``: speaker verification EER and minDCF per voice embedding, and face+voice trials with
the fused embeddings beside each modality alone (metrics/speaker_trials.json)."""
import json
from pathlib import Path

from facevoice import params  # first: the package pins NumPy's kernels before NumPy loads (facevoice/__init__)
from facevoice.evaluate import write_metrics
from facevoice.protocols import face_voice_trials
from facevoice.protocols.trials import run as trials
from facevoice.stage import main

import pandas as pd  # noqa: E402 (after facevoice, above)

PLOTS = Path("plots/speaker_trials")


def run():
    spec = params.checked("speaker_trials")
    p = spec.sub("face_voice")
    out = trials({k: v for k, v in spec.data.items() if k != "face_voice"}, Path("data/features/mfcc"), Path("models"),
                 PLOTS)
    out["face_voice"], curves = face_voice_trials.run(p.list("verifiers", ["siamese"]), p.int("max_trials", 4000, min=10),
                                                      p.int("seed", 0), Path("data/features/pairs"), Path("models"))
    PLOTS.mkdir(parents=True, exist_ok=True)
    for name, header in (("det.csv", "embedding,fpr,fnr"), ("missing.csv", "line")):
        if not (PLOTS / name).exists():  # skipped: a header-only placeholder
            (PLOTS / name).write_text(header + "\n")
    if curves:
        pd.concat([pd.read_csv(PLOTS / "det.csv"), *curves]).to_csv(PLOTS / "det.csv", index=False)
    write_metrics("metrics/speaker_trials.json", out)
    print(json.dumps(out)[:2000])


if __name__ == "__main__":
    main(run)
