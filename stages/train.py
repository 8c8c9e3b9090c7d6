"""Stage ``train@<name>`` / ``pretrain@`` / ``finetune@`` / ``baseline@``: one model of params.yaml (``python stages/train.py mfcc_ae``)."""
import json
import sys

from facevoice import params
from facevoice.stage import main
from facevoice.train import run as train_model
from facevoice.train import run_per_language


def run():
    name = sys.argv[1]
    everything = params.load()
    groups = ("autoencoders", "models", "finetuned", "baselines", "optional_models", "fusion", "per_language")
    for group in groups:
        if name in (everything.get(group) or {}):
            spec = dict(everything[group][name])
            break
    else:
        raise params.ParamsError(f"params.yaml: no model {name!r} under {', '.join(groups)}")
    spec.setdefault("split_rule", f"by {everything['prepare']['split']['by']} (decided once in prepare)")
    if group == "per_language":
        info = run_per_language(name, spec)
    else:
        info = train_model(name, spec, section=f"{group}.{name}")
    print(json.dumps({k: v for k, v in info.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main(run)
