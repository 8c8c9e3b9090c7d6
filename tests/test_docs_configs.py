"""Every ``prepare``/``download`` configuration that README.md and docs/CORPORA.md show is executed: applied to
params.yaml in a temporary copy of the repository, DVC must parse the pipeline with it, and each source it
names must be a real adapter with the modality it is given for."""
import re
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, copy_repo

DOCS = (ROOT / "README.md", ROOT / "docs" / "CORPORA.md")


def blocks(path: Path) -> list[tuple[str, dict]]:
    """(where, {section: {...}}) for every configuration the document shows: fenced yaml blocks with a
    top-level download:/prepare: key, indented ones under a 'download params' bullet, and the inline
    '**prepare params:** `...`' snippets."""
    text = path.read_text()
    found = []
    for m in re.finditer(r"(?P<lead>[^\n]*)\n(?P<indent>[ ]*)```yaml\n(?P<body>.*?)\n[ ]*```", text, re.S):
        body = "\n".join(line[len(m["indent"]):] for line in m["body"].splitlines())
        data = yaml.safe_load(body)
        line = text[:m.start("body")].count("\n")
        if not isinstance(data, dict):
            continue
        if set(data) & {"download", "prepare"}:
            found.append((f"{path.name}:{line}", {k: v for k, v in data.items() if k in ("download", "prepare")}))
        elif set(data) <= {"faces", "voices"} and "download params" in m["lead"]:
            found.append((f"{path.name}:{line}", {"download": data}))
    for m in re.finditer(r"\*\*prepare params:\*\* `([^`]+)`", text):
        line = text[:m.start()].count("\n") + 1
        found.append((f"{path.name}:{line}", {"prepare": yaml.safe_load(m.group(1))}))
    return found


CONFIGS = [c for doc in DOCS for c in blocks(doc)]


def test_the_documents_show_configurations():
    where = {w.split(":")[0] for w, _ in CONFIGS}
    assert where == {"README.md", "CORPORA.md"} and len(CONFIGS) >= 10, CONFIGS
    fsdd = [c for _, c in CONFIGS if "fsdd" in str(c.get("prepare", {}).get("voices"))]
    assert fsdd and fsdd[0]["prepare"]["faces"] is None  # the README's one-modality example


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("site"))


@pytest.mark.parametrize("where,config", CONFIGS, ids=[w for w, _ in CONFIGS])
def test_a_documented_configuration_parses(repo, where, config):
    from dvc.repo import Repo

    from facevoice.sources import adapter

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, values in config.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with Repo(str(repo)) as dvc:
        stages = {s.name for s in dvc.index.stages}  # parses dvc.yaml with these params
    assert {"prepare", "synthesize", "download", "report"} <= stages, (where, stages)
    for section, values in config.items():
        for modality, spec in values.items():
            if modality not in ("faces", "voices") or spec is None:
                continue
            module = adapter(spec["source"])
            assert hasattr(module, f"list_{modality}"), (where, spec)
            if section == "prepare":
                assert isinstance(spec.get("root"), str), (where, spec)
