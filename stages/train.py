"""Stage ``train@<name>`` / ``pretrain@`` / ``finetune@`` / ``baseline@``: one model of params.yaml (``python stages/train.py mfcc_ae``)."""
import json
import sys

from facevoice import params
from facevoice.stage import main
from facevoice.train import run as train_model


def run():
    name = sys.argv[1]
    everything = params.load()
    for group in ("autoencoders", "models", "finetuned", "baselines", "optional_models", "fusion"):
        if name in (everything.get(group) or {}):
            spec = dict(everything[group][name])
            break
    else:
        raise params.ParamsError(f"params.yaml: no model {name!r} under autoencoders, models, finetuned or baselines")
    spec.setdefault("split_rule", f"by {everything['prepare']['split']['by']} (decided once in prepare)")
    info = train_model(name, spec)
    print(json.dumps({k: v for k, v in info.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main(run)
