"""Stages ``pretrain@`` / ``train@`` / ``per_language@`` / ``finetune@`` / ``baseline@`` / ``fusion@<name>``: one
model of params.yaml, found under the section named after its stage (``python stages/train.py mfcc_ae``)."""
import json
import sys
from pathlib import Path

from facevoice import params
from facevoice.stage import main
from facevoice.train import run as train_model
from facevoice.train import run_per_language

SECTIONS = ("pretrain", "train", "per_language", "finetune", "baseline", "fusion", "optional_models")
PATHS = dict(features_root=Path("data/features"), models_dir=Path("models"), metrics_dir=Path("metrics"),
             plots_dir=Path("plots"))  # dvc.yaml's deps and outs of these stages


def run():
    name = sys.argv[1]
    everything = params.load()
    section = next((s for s in SECTIONS if name in (everything.get(s) or {})), None)
    if section is None:
        raise params.ParamsError(f"params.yaml: no model {name!r} under {', '.join(SECTIONS)}")
    spec = dict(everything[section][name])
    if section == "per_language":
        info = run_per_language(name, spec, **PATHS)
    else:
        info = train_model(name, spec, section=f"{section}.{name}", **PATHS)
    print(json.dumps({k: v for k, v in info.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main(run)
