"""Small builders shared by the tests (imported as ``helpers``: pytest puts tests/ on sys.path)."""
from pathlib import Path

import numpy as np
import pandas as pd


def toy_feature(d: Path, x: np.ndarray, split: np.ndarray, **labels) -> None:
    """A built feature (x.npy + index.csv, one clip a row) from arrays, for train.run on toy problems."""
    from facevoice.store import ArrayStore

    d.mkdir(parents=True)
    store = ArrayStore(d / "x.npy")
    for row in x:
        store.append(row)
    store.close()
    n = len(x)
    pd.DataFrame({"path": [f"c{i}.wav" for i in range(n)], **labels, "source_id": [f"s{i}" for i in range(n)],
                  "split": split, "chunk": 0}).to_csv(d / "index.csv", index=False)


ROOT = Path(__file__).resolve().parents[1]


def sh(cmd: str, cwd: Path, check: bool = True, timeout: int = 1500):
    """A shell command in ``cwd`` with the venv's tools first on PATH and a git identity (DVC experiments)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    result = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def copy_repo(d: Path, site: Path, params: dict | None = None) -> Path:
    """The repository's tracked files in ``d`` as a fresh git repo (DVC site cache in ``site``), with
    ``params`` (a whole params mapping) written over params.yaml when given."""
    import shutil
    import subprocess

    import yaml

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, d / f)
    if params is not None:
        (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(f"git init -q && git add -A && git commit -qm init && dvc config core.site_cache_dir {site}", d)
    sh("git commit -qam 'site cache' || true", d)
    return d


def ran(output: str) -> set[str]:
    """The stages a ``dvc repro`` (or ``python -m facevoice.repro``: "[k/n] stage: ran in") output says it ran."""
    lines = output.splitlines()
    return ({line.split("'")[1] for line in lines if line.startswith("Running stage")}
            | {line.split("] ", 1)[1].split(": ran in")[0] for line in lines if ": ran in " in line})


def uncovered(paths, roots) -> list[str]:
    """The ``paths`` (posix, relative) that are neither one of ``roots`` nor inside one of them, in order."""
    roots = [r.rstrip("/") for r in roots]
    return sorted(p for p in paths if not any(p == r or p.startswith(r + "/") for r in roots))


def declared(section: str, name: str) -> set[str]:
    """The outputs, metrics and plots dvc.yaml declares for ``<section>@<name>`` (paths as in dvc.yaml)."""
    import yaml

    body = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][section]["do"]
    return {str(e if isinstance(e, str) else next(iter(e))).replace("${key}", name)
            for kind in ("outs", "metrics", "plots") for e in body.get(kind, [])}


def assert_outputs_are_declared(section: str, name: str, d: dict) -> None:
    """Every output dvc.yaml declares exists, and every file the model wrote is inside a declared output: an
    undeclared one is neither restored from DVC's run cache nor rewritten when it is used (the report)."""
    root, paths = d["models"].parent, declared(section, name)
    missing = sorted(p for p in paths if not (root / p).exists())
    assert not missing, f"{section}@{name} did not write outputs dvc.yaml declares: {missing}"
    written = {f.relative_to(root).as_posix() for k in ("models", "metrics", "plots") for f in d[k].rglob("*")
               if f.is_file() and (f.stem == name or f.relative_to(d[k]).parts[0] == name)}
    undeclared = uncovered(written, paths)
    assert not undeclared, f"{section}@{name} wrote files dvc.yaml does not declare: {undeclared}"
