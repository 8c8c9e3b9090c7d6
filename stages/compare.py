"""Stage ``compare``: every identity model on the pairs' test samples (metrics/pairs_compare.json)."""
import json
from pathlib import Path

from facevoice.compare import compare_on_pairs
from facevoice.evaluate import write_metrics
from facevoice.stage import main


def run():
    out = compare_on_pairs(Path("models"), Path("data/features/pairs"))
    write_metrics("metrics/pairs_compare.json", out)
    print(json.dumps({k: v for k, v in out.items() if k != "models"}))


if __name__ == "__main__":
    main(run)
