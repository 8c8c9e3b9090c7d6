"""The DVC graph is complete: every module of src/facevoice that a stage's script imports (its import closure,
read from the source with ast, nothing executed) is covered by the stage's deps, so a change to it reruns the
stage. Without this, changing how a metric or the split is computed would leave every metrics file stale. And no
module the script does not import is a dependency: `faces` depended on features.py and `verify` on compare.py and
split.py, so changing them reran MTCNN and both verifiers for nothing. A folder is a dependency only where the
stage imports every module in it, or picks one by name at run time (``prepare``: ``sources`` by
``prepare.faces.source``)."""
import ast
import re
from pathlib import Path

import pytest
import yaml
from helpers import uncovered

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def module_file(name: str) -> Path | None:
    p = SRC / Path(*name.split("."))
    for candidate in (p.with_suffix(".py"), p / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """facevoice modules a file imports (absolute or relative, at any depth of the file)."""
    rel = path.relative_to(SRC).with_suffix("").parts if path.is_relative_to(SRC) else ()
    package = list(rel[:-1]) if path.name != "__init__.py" else list(rel[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out |= {mod, *(f"{mod}.{a.name}" for a in node.names)}
    return {m for m in out if m.startswith("facevoice")}


def closure(script: Path) -> set[Path]:
    """Every facevoice source file the script loads, packages' __init__ files included."""
    files, todo = set(), [script]
    while todo:
        for mod in imported(todo.pop()):
            parts = mod.split(".")
            for k in range(1, len(parts) + 1):
                f = module_file(".".join(parts[:k]))
                if f is not None and f not in files:
                    files.add(f)
                    todo.append(f)
    return files


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_module_is_a_dependency_and_no_other(name):
    body = STAGES[name].get("do", STAGES[name])
    script = re.search(r"python\s+(stages/\S+\.py)", body["cmd"]).group(1)
    deps = [re.sub(r"\$\{[^}]*\}", "*", d if isinstance(d, str) else next(iter(d))) for d in body["deps"]]
    assert script in deps, f"{name}: its own script {script} is not a dependency"
    loaded = [f.relative_to(ROOT).as_posix() for f in closure(ROOT / script)]
    missing = uncovered(loaded, deps)
    assert not missing, f"{name}: dvc.yaml deps miss {missing}"
    unused = [d for d in deps if d.startswith("src/") and not any(f == d or f.startswith(d + "/") for f in loaded)]
    assert not unused, f"{name}: depends on {unused}, which its script never imports (a change there reruns it)"
    for d in (d for d in deps if (ROOT / d).is_dir() and d.startswith("src/")):
        inside = {f.relative_to(ROOT).as_posix() for f in (ROOT / d).rglob("*.py")}
        dynamic = any("import_module(" in (ROOT / f).read_text() for f in inside & set(loaded))
        used = sorted(inside & set(loaded))
        assert dynamic or inside <= set(loaded), f"{name}: depends on all of {d}, imports only {used}"


def test_the_closure_follows_relative_imports():
    files = {f.relative_to(SRC).as_posix() for f in closure(ROOT / "stages/train.py")}
    assert {"facevoice/train.py", "facevoice/evaluate.py", "facevoice/split.py", "facevoice/store.py",
            "facevoice/skip.py", "facevoice/models/dense.py"} <= files


def sections_read(script: Path) -> set[str]:
    """Top-level params.yaml sections a stage script reads: ``params.section/checked("x...")`` and
    ``params.load().get("x")``; stages/train.py reads ``<section>.<name>`` for its SECTIONS."""
    src = script.read_text()
    found = set(re.findall(r'params\.(?:section|checked)\(f?"([a-z_]+)', src))
    found |= set(re.findall(r'params\.load\(\)\.get\("([a-z_]+)"\)', src))
    return found


@pytest.mark.parametrize("name", sorted(STAGES))
def test_each_stage_declares_exactly_the_params_it_reads(name):
    """No param a stage does not read (a training stage used to list prepare.split.by only to write it as a
    label, so changing the split rule's name reran every model twice), none it reads missing."""
    body = STAGES[name].get("do", STAGES[name])
    script = ROOT / re.search(r"python\s+(stages/\S+\.py)", body["cmd"]).group(1)
    declared = {str(p).split(".")[0] for p in body.get("params", [])}
    if script.name == "train.py":  # one entry: the model's own block in the section named after the stage
        assert [str(p) for p in body["params"]] == [f"{name}.${{key}}"], body["params"]
        assert f'"{name}"' in script.read_text(), f"stages/train.py does not look models up under {name}"
        return
    assert declared == sections_read(script), f"{name}: declares {sorted(declared)}, reads {sorted(sections_read(script))}"


def test_feature_stages_depend_on_their_own_manifest_only():
    """New photos rerun no voice feature, new clips no face stage: each reads one manifest, whose md5 column
    covers the bytes of every file it lists."""
    deps = {name: [d for d in STAGES[name].get("do", STAGES[name])["deps"] if str(d).startswith("data/")]
            for name in ("features", "faces")}
    assert deps == {"features": ["data/manifests/voices.csv"], "faces": ["data/manifests/faces.csv"]}


def test_the_committed_lock_holds_only_stages_of_this_pipeline():
    """DVC never prunes dvc.lock: a model dropped from params.yaml (gender_shortterm_en) kept its entry from commit
    5eaaed7 on, so the lock described a stage no `dvc repro` could run."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        names = {s.addressing for s in repo.index.stages}
    locked = set(yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"])
    assert locked - names == set(), f"dvc.lock has entries for no stage: {sorted(locked - names)}"
