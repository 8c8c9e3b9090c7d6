"""Real-data numbers: ``dvc repro`` on corpora from ../shared/datasets in a temporary copy of the repository,
then every model's test accuracy with its 95% interval beside its classic baseline, and the protocols.

    python benchmarks/real_corpora.py lfw      # lfw_dev: the 452 people with 4-9 photos, photo-disjoint split,
                                               # plus LFW's 10-fold pairs protocol on every usable pair
    python benchmarks/real_corpora.py urdu     # urdu_speech, split by recording (speaker and gender)
    python benchmarks/real_corpora.py urdu_person   # urdu_speech split by speaker (gender, open-set trials)
    python benchmarks/real_corpora.py fsdd     # fsdd, 6 speakers
    python benchmarks/real_corpora.py speechocean          # speechocean762 split by recording (speaker, gender)
    python benchmarks/real_corpora.py speechocean_person   # speechocean762 split by speaker (gender, open-set trials)

Options: ``--keep DIR`` keeps the run there; ``--per-fold N`` limits the pairs protocol (0 = every pair);
``--profile NAME`` applies ``profiles/NAME.yaml`` first (``lfw --profile real_photos``: the real-photo
face models).
Prints a markdown table (the README's real-data rows and docs/*_RESULTS.md come from it) and the wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def folder(name: str, manifest: Path | None = None) -> dict:
    root = SHARED / name
    return {"source": "folder", "root": str(root), "options": {"manifest": str(manifest or root / "manifest.csv")}}


def lfw_identification(tmp: Path) -> Path:
    """lfw_dev's people with 4 to 9 photos (the closed-set identification subset)."""
    m = pd.read_csv(SHARED / "lfw_dev" / "manifest.csv")
    counts = m.groupby("person")["path"].count()
    out = tmp / "lfw_4to9.csv"
    m[m["person"].isin(counts[(counts >= 4) & (counts <= 9)].index)].to_csv(out, index=False)
    return out


def configure(scenario: str, params: dict, tmp: Path, per_fold: int) -> dict:
    prep = params["prepare"]
    if scenario == "lfw":
        prep.update(faces=folder("lfw_dev", lfw_identification(tmp)), voices=None)
        params["lfw_pairs"].update(pairs=str(SHARED / "lfw_dev" / "pairs.txt"), embeddings=["dlib", "face_ae"],
                                   root=str(SHARED / "lfw_dev" / "lfw-deepfunneled"), per_fold=per_fold)
        params["faces"]["balance"]["min_photos"] = 2
    elif scenario in ("urdu", "urdu_person"):
        prep.update(faces=None, voices=folder("urdu_speech"))
        prep["split"]["by"] = "person" if scenario == "urdu_person" else "recording"
    elif scenario in ("speechocean", "speechocean_person"):
        prep.update(faces=None, voices=folder("speechocean762"))
        prep["split"]["by"] = "person" if scenario == "speechocean_person" else "recording"
    elif scenario == "fsdd":
        prep.update(faces=None, voices=folder("fsdd"))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    return params


def table(d: Path) -> str:
    """Markdown: every model with numbers (or its skip reason), beside its classic baseline."""
    sys.path.insert(0, str(ROOT / "src"))
    from facevoice.report import beside_baseline, read_metrics

    found = read_metrics(d / "metrics")
    models = {k: v for k, v in found.items() if "task" in v and not v.get("per_language")}
    versus = beside_baseline(models)
    lines = ["| model | task | feature | accuracy [95% CI] | macro F1 | vs classic baseline |", "|---|---|---|---|---|---|"]
    for name, m in models.items():
        if m.get("skipped"):
            lines.append(f"| `{name}` | {m.get('task')} | {m.get('feature')} | skipped: {m['skipped']} | | |")
            continue
        if "accuracy" not in m:
            continue
        ci = "[{:.3f}, {:.3f}]".format(*m["accuracy_ci"]) if m.get("accuracy_ci") else ""
        vs = versus.get(name)
        lines.append(f"| `{name}` | {m['task']} | {m['feature']} | {m['accuracy']:.3f} {ci} | {m['f1_macro']:.3f} | "
                     + (f"{vs[1]:+.3f} vs `{vs[0]}`" if vs else "") + " |")
    lines.append(trials_table(found.get("speaker_trials", {})))
    for proto in ("lfw_pairs", "siamese"):
        if proto in found:
            lines.append(f"\n{proto}: " + json.dumps({k: v for k, v in found[proto].items()
                                                     if k not in ("face_only", "voice_only")}, default=str)[:1500])
    return "\n".join(lines)


def trials_table(m: dict) -> str:
    """Markdown: the speaker trials' EER [95% CI] and minDCF per voice embedding, or why they were skipped."""
    if not m or m.get("skipped"):
        return f"\nspeaker trials: skipped ({m.get('skipped', 'not run')})" if m else ""
    lines = [f"\nspeaker trials ({m['trials']}: {m['n_trials']} trials, {m['n_speakers']} speakers"
             + (f"; {m['flag']}" if m.get("flag") else "") + ")\n",
             "| embedding | EER [95% CI] | minDCF | ROC AUC |", "|---|---|---|---|"]
    for name, e in m.get("embeddings", {}).items():
        if "eer" not in e:
            lines.append(f"| {name} | skipped: {e.get('skipped', '')} | | |")
            continue
        ci = "[{:.3f}, {:.3f}]".format(*e["eer_ci"]) if e.get("eer_ci") else ""
        lines.append(f"| {name} | {e['eer']:.3f} {ci} | {e['min_dcf']:.3f} | {e['roc_auc']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", choices=["lfw", "urdu", "urdu_person", "fsdd", "speechocean", "speechocean_person"])
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--per-fold", type=int, default=0)
    ap.add_argument("--profile", default=None, help="a profiles/ name applied to params.yaml (real_photos)")
    args = ap.parse_args()
    if not (SHARED / "lfw_dev").exists():
        raise SystemExit(f"{SHARED} not found: the real datasets live beside the project")
    d = args.keep or Path(tempfile.mkdtemp(prefix=f"facevoice-{args.scenario}-"))
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, d / f)
    params = configure(args.scenario, yaml.safe_load((d / "params.yaml").read_text()), d, args.per_fold)
    if args.profile:
        sys.path.insert(0, str(ROOT / "src"))
        from facevoice import profile

        print(f"profile {args.profile}: " + ", ".join(profile.merge(params, profile.read(args.profile, ROOT / "profiles"))))
    (d / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    subprocess.run("git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm init", cwd=d,
                   shell=True, check=True, env=env)
    t0 = time.time()
    subprocess.run("dvc repro", cwd=d, shell=True, check=True, env=env)
    print(f"\n## {args.scenario}: dvc repro {time.time() - t0:.0f} s on {os.cpu_count()} cores ({d})\n")
    print(table(d))


if __name__ == "__main__":
    main()
