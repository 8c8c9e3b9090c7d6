"""Every face model on real photos: ORL (40 people x 10 grey 92x112 photos, already tight crops).

Photo-disjoint closed-set split: 7 train / 3 test photos per person (``assign_splits(by='recording',
ratios 0.7/0/0.3)``; ``train.run`` carves validation from train, whole photos at a time). The faces
stage runs with ``detector: none`` (the whole photo is the face, written in index.csv), then each face
model of params.yaml trains with its own params (only ``feature`` changed). Writes the table into
``docs/FACE_RESULTS.md`` between its ORL markers and prints it.

    python benchmarks/faces_orl.py [--root ../shared/datasets/orl_faces] [--models face_cnn face_ae_clf ...]
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ORL_FACES = {"detector": "none", "size": 32, "color": "grey", "align": False, "rule": "largest",
             "augment": {"copies": 3, "flip": True, "rotation": 8, "shift": 0.05, "zoom": 0.08, "brightness": 0.1,
                         "contrast": 0.1}, "balance": {"max_people": 0, "max_photos": 0, "min_photos": 2}, "samples": 4}
# ORL has 40 classes and 5-6 train photos each: the classifiers get more epochs than on the default corpus.
ORL_TRAIN = {"epochs": 60, "patience": 10}


def orl_manifest(root: Path, out: Path, seed: int = 42) -> Path:
    """data/manifests/faces.csv for ORL: person = subject folder, each photo its own source, 7/3 split."""
    from facevoice.sources import folder
    from facevoice.split import assign_splits
    from facevoice.tables import Rejects

    rejects = Rejects(stage="prepare")
    df = folder.list_faces(root, {"manifest": str(root / "manifest.csv")}, rejects)
    if len(rejects):
        raise AssertionError(f"ORL: {len(rejects)} listed photos missing")
    df["split"] = assign_splits(df, by="recording", ratios={"train": 0.7, "val": 0.0, "test": 0.3}, seed=seed).values
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "faces.csv", index=False)
    return out / "faces.csv"


def face_specs(params_file: Path = ROOT / "params.yaml") -> dict:
    """The face models of params.yaml, in training order (pretrain before what starts from them)."""
    import yaml

    everything = yaml.safe_load(params_file.read_text())
    specs = {}
    for group in ("pretrain", "train", "finetune", "optional_models"):
        for name, spec in (everything.get(group) or {}).items():
            if spec.get("feature") == "faces":
                specs[name] = copy.deepcopy(spec)
    return specs


def run_orl(root: Path, work: Path, names: list[str] | None = None, faces: dict | None = None,
            overrides: dict | None = None, progress: bool = False) -> dict:
    """Build ORL faces under ``work`` and train ``names``; returns {name: metrics or {'skipped': reason}}."""
    from facevoice.errors import ParamsError
    from facevoice.faces import build
    from facevoice.train import run

    manifest = orl_manifest(root, work / "manifests")
    t0 = time.perf_counter()
    summary = build(faces or ORL_FACES, manifest, work / "features" / "faces", progress=progress)
    results = {"_faces": {**summary, "seconds": round(time.perf_counter() - t0, 2)}}
    specs = face_specs()
    for name in names or list(specs):
        spec = copy.deepcopy(specs[name])
        if spec.get("task") != "reconstruct":
            spec["fit"] = {**spec.get("fit", {}), **ORL_TRAIN}
        spec.update((overrides or {}).get(name, {}))
        t = time.perf_counter()
        try:
            info = run(name, spec, features_root=work / "features", models_dir=work / "models",
                       metrics_dir=work / "metrics", plots_dir=work / "plots")
        except ParamsError as exc:
            results[name] = {"skipped": str(exc)}
            continue
        results[name] = {**{k: v for k, v in info.items() if not isinstance(v, list)},
                         "seconds": round(time.perf_counter() - t, 1)}
    return results


def table(results: dict) -> str:
    lines = ["| model | accuracy | top-5 | macro F1 | test MSE | train s |", "|---|---|---|---|---|---|"]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else "–"  # noqa: E731
    for name, r in results.items():
        if name.startswith("_"):
            continue
        if "skipped" in r:
            lines.append(f"| {name} | not run: {r['skipped']} | | | | |")
            continue
        lines.append(f"| {name} | {fmt(r.get('accuracy'))} | {fmt(r.get('top5_accuracy'))} | {fmt(r.get('f1_macro'))} "
                     f"| {fmt(r.get('test_mse'))} | {r['seconds']} |")
    return "\n".join(lines)


def write_doc(text: str, doc: Path = ROOT / "docs" / "FACE_RESULTS.md", marker: str = "ORL") -> None:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    body = doc.read_text() if doc.exists() else f"# Face branch results\n\n{start}\n{end}\n"
    if start not in body:
        body += f"\n{start}\n{end}\n"
    body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{text}\n{end}", body, flags=re.S)
    doc.write_text(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=ROOT.parent / "shared" / "datasets" / "orl_faces")
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_orl(args.root, Path(tmp), args.models, progress=True)
    faces = results["_faces"]
    text = (f"ORL, detector none, {faces['shape'][0]}x{faces['shape'][1]} grey, {faces['kept']} photos "
            f"({faces['splits']['train']} train / {faces['splits']['test']} test), {faces['augmented']} augmented "
            f"train copies; faces stage {faces['seconds']} s.\n\n" + table(results))
    print(text)
    print(json.dumps({k: v for k, v in results.items()}, indent=1, default=str)[:3000])
    if not args.no_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
