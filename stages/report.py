"""Stage ``report``: reports/index.html, one self-contained page of the corpus, the models and their plots."""
from pathlib import Path

from facevoice.report import build
from facevoice.stage import main

if __name__ == "__main__":  # the paths are dvc.yaml's deps and outs of this stage
    main(lambda: print(build(Path("reports/index.html"), metrics_dir=Path("metrics"), plots_dir=Path("plots"),
                             features_dir=Path("data/features"), manifests=Path("data/manifests"),
                             seeds=Path("docs/seed_results.csv"), models_dir=Path("models"))))
