"""Stage ``lfw_pairs``: LFW's 10-fold pairs protocol for every face embedding (metrics/lfw_pairs.json)."""
import json
from pathlib import Path

from facevoice import params
from facevoice.evaluate import write_metrics
from facevoice.protocols.lfw_stage import run as protocol
from facevoice.stage import main


def run():
    faces = json.loads(Path("data/features/faces/params.json").read_text())
    out = protocol(params.section("lfw_pairs"), Path("models"), faces, Path("plots/lfw_pairs"))
    Path("plots/lfw_pairs").mkdir(parents=True, exist_ok=True)
    for name, header in (("roc.csv", "embedding,fpr,tpr"), ("missing.csv", "fold,left,right,same")):
        if not Path("plots/lfw_pairs", name).exists():  # skipped: a header-only placeholder
            Path("plots/lfw_pairs", name).write_text(header + "\n")
    write_metrics("metrics/lfw_pairs.json", out)
    print(json.dumps(out)[:2000])


if __name__ == "__main__":
    main(run)
