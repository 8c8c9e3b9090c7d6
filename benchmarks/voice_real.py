"""Every voice model of params.yaml on real speech: FSDD (speaker, recording-disjoint) and URDU (gender,
speaker-disjoint). Writes the table of docs/VOICE_RESULTS.md between its markers.

    .venv/bin/python benchmarks/voice_real.py [--models audio_crnn,gender_cnn] [--corpora fsdd] [--no-write]

Uses the library directly (prepare -> features.build -> train.run) in a temporary directory; the model
specs are params.yaml's, with the task set to the corpus's (person on FSDD, gender on URDU) and, where a
corpus needs it, a feature param overridden (FSDD clips are 0.14-2.3 s: shorter mel chunks are kept).
tests/test_voice_real.py imports this module for its corpus setup.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "docs" / "VOICE_RESULTS.md"
BEGIN, END = "<!-- voice_real:begin -->", "<!-- voice_real:end -->"

CORPORA = {
    # name: (split by, task, feature param overrides)
    "fsdd": ("recording", "person", {"mel_chunks": {"min_chunk": 0.25}}),
    "urdu_speech": ("person", "gender", {}),
}
VOICE_GROUPS = ("pretrain", "train", "per_language", "finetune", "baseline")


def prepare_corpus(name: str, work: Path, by: str | None = None, seed: int = 42, workers: int = 2) -> Path:
    """The corpus's voices manifest (folder adapter + its manifest.csv), split once; returns its path."""
    from facevoice.prepare import prepare

    root = DATASETS / name
    split_by = by or CORPORA[name][0]
    sources = {"voices": {"source": "folder", "root": str(root),
                          "options": {"manifest": str(root / "manifest.csv")}}}
    ratios = {"train": 0.6, "val": 0.2, "test": 0.2}
    prepare(sources, {"by": split_by, "ratios": ratios, "seed": seed}, out_dir=work / "manifests", min_duration=0.1,
            workers=workers)
    path = work / "manifests" / "voices.csv"
    if split_by == "person" and CORPORA.get(name, ("", "", {}))[1] == "gender":
        stratify_people_by_gender(path, ratios, seed)
    return path


def stratify_people_by_gender(manifest: Path, ratios: dict, seed: int) -> None:
    """Re-split speakers within each gender (still speaker-disjoint), so every split has both genders.

    URDU has 29 speakers (11 F, 18 M): an unstratified speaker split can leave val or test with one gender.
    """
    import pandas as pd

    from facevoice.split import assign_splits

    m = pd.read_csv(manifest)
    for _, sub in m.groupby("gender"):
        m.loc[sub.index, "split"] = assign_splits(sub, by="person", ratios=ratios, seed=seed).values
    m.to_csv(manifest, index=False)


def feature_params(name: str, corpus: str, params: dict) -> dict:
    return {**params["features"][name], **CORPORA[corpus][2].get(name, {})}


def build_feature(name: str, corpus: str, manifest: Path, work: Path, params: dict, workers: int = 2) -> dict:
    from facevoice.features import build

    p = feature_params(name, corpus, params)
    return build(name, p, manifest, work / "features" / name, workers=workers, progress=False)


def train(name: str, spec: dict, work: Path, task: str | None = None) -> dict:
    from facevoice.train import run

    spec = dict(spec)
    if task and spec.get("task") != "reconstruct":
        spec["task"] = task
    return run(name, spec, features_root=work / "features", models_dir=work / "models",
               metrics_dir=work / "metrics", plots_dir=work / "plots")


def voice_models(params: dict) -> dict[str, dict]:
    """Model name -> spec, for every model of params.yaml whose feature is an audio feature (pretrain first)."""
    out = {}
    for group in VOICE_GROUPS:
        for name, spec in (params.get(group) or {}).items():
            if spec.get("feature") in params["features"]:
                out[name] = {**spec, "_group": group}
    return out


def run_corpus(corpus: str, params: dict, only: list[str] | None, work: Path) -> list[dict]:
    by, task, _ = CORPORA[corpus]
    manifest = prepare_corpus(corpus, work)
    models = voice_models(params)
    wanted = [m for m in models if not only or m in only]
    for m in list(wanted):  # an init_from model is trained first even when not asked for
        parent = models[m].get("init_from")
        if parent and parent not in wanted:
            wanted.insert(0, parent)
    rows, built = [], set()
    for name in wanted:
        spec = {k: v for k, v in models[name].items() if k != "_group"}
        row = {"corpus": corpus, "model": name, "feature": spec["feature"], "split": f"by {by}",
               "task": spec["task"] if spec["task"] == "reconstruct" else task}
        if spec.get("task") == "language" or spec.get("languages"):
            rows.append({**row, "note": "n/a: one language in this corpus"})
            continue
        if spec["feature"] not in built:
            t = time.time()
            summary = build_feature(spec["feature"], corpus, manifest, work, params)
            built.add(spec["feature"])
            print(f"[{corpus}] feature {spec['feature']}: {summary['samples']} samples, "
                  f"{summary['clips_rejected']} clips rejected, {time.time() - t:.1f} s", flush=True)
        t = time.time()
        info = train(name, spec, work, task)
        row.update({k: info.get(k) for k in ("accuracy", "f1_macro", "roc_auc", "test_mse", "n_train", "n_test",
                                             "n_classes")})
        row["train_s"] = round(time.time() - t, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    def f(v):
        return "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = ["| corpus | model | feature | task | split | accuracy | F1 (macro) | ROC AUC | test MSE | train / test rows | "
             "fit s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("note"):
            lines.append(f"| {r['corpus']} | {r['model']} | {r['feature']} | {r['task']} | {r['split']} | "
                         f"{r['note']} | | | | | |")
            continue
        lines.append(f"| {r['corpus']} | {r['model']} | {r['feature']} | {r['task']} | {r['split']} | "
                     f"{f(r.get('accuracy'))} | {f(r.get('f1_macro'))} | {f(r.get('roc_auc'))} | {f(r.get('test_mse'))} | "
                     f"{r.get('n_train')} / {r.get('n_test')} | {r.get('train_s')} |")
    return "\n".join(lines)


def write_results(text: str) -> None:
    doc = RESULTS.read_text() if RESULTS.exists() else f"# Voice results\n\n{BEGIN}\n{END}\n"
    if BEGIN not in doc:
        doc += f"\n{BEGIN}\n{END}\n"
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    RESULTS.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv=None) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from facevoice import params as P

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated model names (default: every voice model)")
    ap.add_argument("--corpora", default=",".join(CORPORA))
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    a = ap.parse_args(argv)
    params = P.load(ROOT / "params.yaml")
    only = [m for m in a.models.split(",") if m] or None
    rows = []
    for corpus in a.corpora.split(","):
        if not (DATASETS / corpus / "manifest.csv").exists():
            print(f"skip {corpus}: not found at {DATASETS / corpus}")
            continue
        with tempfile.TemporaryDirectory(prefix=f"voice_{corpus}_") as tmp:
            rows += run_corpus(corpus, params, only, Path(tmp))
    text = table(rows)
    print(text)
    if not a.no_write:
        write_results(text)
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
