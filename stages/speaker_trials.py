"""Stage ``speaker_trials``: speaker verification EER and minDCF per voice embedding (metrics/speaker_trials.json)."""
import json
from pathlib import Path

from facevoice import params
from facevoice.evaluate import write_metrics
from facevoice.protocols.trials import run as trials
from facevoice.stage import main

PLOTS = Path("plots/speaker_trials")


def run():
    out = trials(params.section("speaker_trials"), Path("data/features/mfcc"), Path("models"), PLOTS)
    PLOTS.mkdir(parents=True, exist_ok=True)
    for name, header in (("det.csv", "embedding,fpr,fnr"), ("missing.csv", "line")):
        if not (PLOTS / name).exists():  # skipped: a header-only placeholder
            (PLOTS / name).write_text(header + "\n")
    write_metrics("metrics/speaker_trials.json", out)
    print(json.dumps(out)[:2000])


if __name__ == "__main__":
    main(run)
