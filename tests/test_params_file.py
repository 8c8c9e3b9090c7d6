"""params.yaml is one file per experiment: sections named after their stages, shared blocks written once with YAML
merge keys, and ``dvc exp run -S <stage>.<model>.<key>=...`` changes that one value and nothing else."""
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
TRAINED = ("pretrain", "train", "per_language", "finetune", "fusion", "verify", "optional_models")


def flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(flat(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


@pytest.mark.parametrize("key", [f"{s}.{m}.fit.seed" for s in TRAINED for m in PARAMS[s]] +
                         [f"{s}.{m}.args.dropout" for s in ("train", "finetune", "per_language") for m in PARAMS[s]])
def test_set_param_changes_one_value_and_keeps_the_shared_blocks(tmp_path, key):
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    apply_overrides(str(path), [f"{key}=0.123"])
    before, after = flat(PARAMS), flat(yaml.safe_load(path.read_text()))
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {key}, changed
    assert "&fit " in path.read_text() and "<<: *fit" in path.read_text()  # the anchors are still there


def test_sections_are_named_after_stages_and_models_repeat_no_training_block():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for section in ("pretrain", "train", "per_language", "finetune", "baseline", "fusion", "verify"):
        assert section in stages and stages[section]["foreach"] == f"${{{section}}}"
    text = (ROOT / "params.yaml").read_text()
    assert text.count("seed: 42, verbose: 0") <= len(PARAMS["defaults"]), "a fit block repeats the shared defaults"
    assert "kind:" not in yaml.safe_dump(PARAMS["features"])  # a feature's kind is its name
