"""``report``: one self-contained HTML page (images inlined) of the corpus, every model and its plots."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from .evaluate import read_details

HEADLINE = ["accuracy", "clip_accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "top5_accuracy", "eer",
            "test_mse", "n_train", "n_test", "n_classes"]


def _img(path: Path, alt: str, width: int | None = None) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    style = f' style="max-width:{width}px"' if width else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"{style}><figcaption>{html.escape(alt)}</figcaption></figure>'


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.3f}", border=0,
                      classes="t")


def corpus_section(manifests: Path, metrics_dir: Path) -> str:
    parts = ["<h2>Corpus</h2>"]
    corpus = metrics_dir / "corpus.json"
    if corpus.exists():
        c = read_details(corpus)
        rows = [{"modality": m, **{k: v for k, v in c[m].items()}} for m in ("faces", "voices") if m in c]
        parts.append(f"<p>Split by <b>{html.escape(str(c.get('split_by')))}</b>, decided once in prepare.</p>")
        parts.append(_table(pd.DataFrame(rows)))
    for m in ("faces", "voices"):
        rej = manifests / f"{m}_rejects.csv"
        if rej.exists():
            df = pd.read_csv(rej)
            if len(df):
                parts.append(f"<h3>Rejected {m} ({len(df)})</h3>")
                parts.append(_table(df.groupby("reason").size().rename("files").reset_index()))
                parts.append(_table(df.head(20)))
    return "\n".join(parts)


CLASSIC = ("pca_svm", "logreg")  # the builders of the classic baselines every deep model is read beside
FACE_FEATURES = ("faces", "face_embed")
PRETRAINED = ("face_embed", "voice_embed")  # a classic builder on a pretrained embedding is a model, not the baseline


def modality(feature: str) -> str:
    return "face" if feature in FACE_FEATURES else "face+voice" if feature == "pairs" else "voice"


def is_baseline(m: dict) -> bool:
    return m.get("builder") in CLASSIC and m.get("feature") not in PRETRAINED


def beside_baseline(metrics: dict[str, dict]) -> dict[str, tuple[str, float]]:
    """model -> (its classic baseline, accuracy difference) for models whose modality and task have one."""
    base = {(modality(m.get("feature", "")), m.get("task")): (name, m["accuracy"]) for name, m in metrics.items()
            if is_baseline(m) and m.get("accuracy") is not None}
    out = {}
    for name, m in metrics.items():
        key = (modality(m.get("feature", "")), m.get("task"))
        if key in base and not is_baseline(m) and m.get("accuracy") is not None:
            out[name] = (base[key][0], m["accuracy"] - base[key][1])
    return out


def read_metrics(metrics_dir: Path) -> dict[str, dict]:
    """Everything each stage wrote through ``evaluate.write_metrics``, by name (``metrics/<name>.json``, read from its
    details file ``metrics/details/<name>.json``: the metrics file holds the headline numbers only), in name order."""
    return {p.stem: read_details(p) for p in sorted(Path(metrics_dir).glob("*.json"))}


def models_section(metrics_dir: Path, seeds: Path) -> str:
    found = read_metrics(metrics_dir)
    seed_table = pd.read_csv(seeds, keep_default_na=False, dtype=str) if seeds.exists() else pd.DataFrame()
    parts = ["<h2>Models</h2>", _models_table(found, seed_table), *_verification_tables(found),
             _compare_table(found.get("pairs_compare"))]
    parts = [part for part in parts if part]
    parts += [protocol_section(metrics_dir / f"{name}.json", title) for name, title in PROTOCOLS.items()]
    parts += _per_language_tables(found)
    if len(seed_table):
        parts.append("<h3>What the seed projects reported, and why the numbers are not comparable as they stand</h3>")
        parts.append(_table(seed_table))
    return "\n".join(parts)


def _models_table(found: dict[str, dict], seed_table: pd.DataFrame) -> str:
    """One row per model: headline metrics, interval, its classic baseline and the difference, skip reason."""
    models = {k: v for k, v in found.items() if k not in ("corpus", "pairs_compare", *PROTOCOLS)}
    versus = beside_baseline(models)
    rows = []
    for name, m in models.items():
        vs = versus.get(name)
        rows.append({"model": name, "task": m.get("task", "verify" if "eer" in m else ""),
                     "feature": m.get("feature", ""), **{k: m.get(k) for k in HEADLINE},
                     "accuracy 95% CI": "[{:.3f}, {:.3f}]".format(*m["accuracy_ci"]) if m.get("accuracy_ci") else "",
                     "baseline": vs[0] if vs else "",
                     "vs baseline": (f"{vs[1]:+.3f}" + (" BELOW" if vs[1] < 0 else "")) if vs else "",
                     "flag": m.get("degenerate", ""), "skipped": m.get("skipped", "")})
    if not rows:
        return ""
    df = pd.DataFrame(rows).dropna(axis=1, how="all")
    df = df.drop(columns=[c for c in ("flag", "skipped") if not df[c].astype(bool).any()])
    if len(seed_table):  # what the seed projects reported, beside our numbers (caveats in the table below)
        reported = seed_table[(seed_table["reported"] != "") & ~seed_table["metric"].str.contains("train")].groupby("model")["reported"].agg("; ".join)
        df["seed reported"] = df["model"].map(reported).fillna("")
    return _table(df)


def _verification_tables(found: dict[str, dict]) -> list[str]:
    """A table per verifier (fused, face-only and voice-only rows)."""
    parts = []
    for name, m in found.items():
        if "face_only" not in m:
            continue
        v = pd.DataFrame([{"variant": k, **_verification_row(m if k == "fused" else m[k])}
                          for k in ("fused", "face_only", "voice_only")])
        flag = f"; <b>{html.escape(m['flag'])}</b>" if m.get("flag") else ""
        parts.append(f"<h3>Verification: {html.escape(name)} (open-set: {m.get('open_set')}, pairing: "
                     f"{html.escape(str(m.get('pairing')))}{flag})</h3>{_table(v)}")
    return parts


def _compare_table(c: dict | None) -> str:
    """Every identity model on the same test pairs, best first, and the fusion gain (or why it was skipped)."""
    if c is None:
        return ""
    if c.get("skipped"):
        return f"<h3>Identity models on the same test pairs: skipped</h3><p>{html.escape(c['skipped'])}</p>"
    df = pd.DataFrame([{"model": k, **v} for k, v in c["models"].items()])
    if len(df):
        df = df.sort_values("accuracy", ascending=False)
    return (f"<h3>Every identity model on the same {c['n_samples']} test pairs ({html.escape(c['pairing'])} "
            f"pairing): fusion gain over the best single model {c.get('fusion_gain', float('nan')):+.3f}</h3>"
            f"{_table(df)}")


def _per_language_tables(found: dict[str, dict]) -> list[str]:
    """A table per per-language model group, with the languages it could not train."""
    parts = []
    for name, m in found.items():
        if not m.get("per_language"):
            continue
        langs = pd.DataFrame([{"language": lang, **{k: b.get(k) for k in HEADLINE}}
                              for lang, b in m.get("languages", {}).items()]).dropna(axis=1, how="all")
        skipped = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in m.get("languages_skipped", {}).items())
        parts.append(f"<h3>Per language: {html.escape(name)} ({html.escape(str(m.get('task')))})</h3>{_table(langs)}"
                     + (f"<p>Not trained:</p><ul>{skipped}</ul>" if skipped else ""))
    return parts


def _verification_row(m: dict) -> dict:
    """A verifier variant's numbers, with the 95% intervals of ROC AUC and EER when the metrics hold them."""
    row = {k: m[k] for k in ("accuracy", "precision", "recall", "roc_auc", "eer")}
    for k in ("roc_auc", "eer"):
        if m.get(f"{k}_ci"):
            row[f"{k} 95% CI"] = "[{:.3f}, {:.3f}]".format(*m[f"{k}_ci"])
    return row


PROTOCOLS = {"lfw_pairs": "LFW pairs protocol (faces; 10 folds, threshold from 9)",
             "speaker_trials": "Speaker verification trials (voices; EER, minDCF at p_target 0.01)"}


def protocol_section(path: Path, title: str) -> str:
    """A verification protocol's table, one row per embedding (or why the protocol was skipped)."""
    if not path.exists():
        return ""
    m = read_details(path)
    out = _protocol_table(m, title)
    if isinstance(m.get("face_voice"), dict):  # speaker_trials: the face+voice trials block
        out += _protocol_table(m["face_voice"], "Face + voice trials (fused embeddings beside each modality alone)")
    return out


def _protocol_table(m: dict, title: str) -> str:
    if m.get("skipped"):
        return f"<h3>{html.escape(title)}: skipped</h3><p>{html.escape(m['skipped'])}</p>"
    df = pd.DataFrame([{"embedding": k, **v} for k, v in m.get("embeddings", {}).items()])
    counts = ", ".join(f"{k} {v}" for k, v in m.items() if k.startswith("n_"))
    flag = f"; <b>{html.escape(m['flag'])}</b>" if m.get("flag") else ""
    return f"<h3>{html.escape(title)} ({html.escape(counts)}{flag})</h3>{_table(df)}"


def images_section(title: str, paths: list[Path], width: int = 420, root: Path | None = None) -> str:
    """A gallery; captions are the paths under ``root`` (or folder/file without it)."""
    if not paths:
        return ""
    figs = "".join(_img(p, str(p.relative_to(root)) if root else f"{p.parent.name}/{p.name}", width) for p in paths)
    return f"<h2>{html.escape(title)}</h2><div class='g'>{figs}</div>"


CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-broken-images', broken);
});
</script>"""


def model_card(meta: dict) -> str:
    """A short markdown card: what the model is, its data and split rule, its params and its metrics."""
    import yaml

    params = meta.get("params", {})
    metrics = {k: v for k, v in meta.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    lines = [f"# {meta.get('model', '?')}", "",
             f"- task: {meta.get('task', '')}",
             f"- input feature: {meta.get('feature', '') or ', '.join(meta.get('inputs', {}))}",
             f"- builder: {params.get('builder', meta.get('builder', 'siamese'))}"
             + (f", initialised from {meta['init_from']}" if meta.get("init_from") else ""),
             f"- data: {meta.get('n_train', meta.get('n_train_pairs', '?'))} training and "
             f"{meta.get('n_test', meta.get('n_test_pairs', '?'))} test samples"
             + (f", {meta['n_classes']} classes" if meta.get("n_classes") else ""),
             f"- split rule: {meta.get('split_rule') or ('open-set: test people unseen in training' if meta.get('open_set') else 'see params')}",
             ]
    if meta.get("pairing"):
        lines.append(f"- face/voice pairing: {meta['pairing']}")
    if meta.get("skipped"):
        lines.append(f"- **skipped**: {meta['skipped']}")
    lines += ["", "## Metrics (test split)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in sorted(metrics.items())]
    lines += ["", "## Params", "", "```yaml", yaml.safe_dump(params, sort_keys=False).strip(), "```", ""]
    return "\n".join(lines)


def write_model_cards(models_dir: Path, out_dir: Path) -> list[Path]:
    """A card per model: ``models/<name>.json`` -> ``<name>.md``; a per-language group's
    ``models/<group>/<lang>.json`` -> ``<group>_<lang>.md``, titled ``<group> / <lang>``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted([*models_dir.glob("*.json"), *models_dir.glob("*/*.json")]):
        meta = json.loads(path.read_text())
        if "model" not in meta:
            continue
        stem = path.stem
        if path.parent != models_dir:
            stem = f"{path.parent.name}_{path.stem}"
            meta = {**meta, "model": f"{path.parent.name} / {meta['model']}"}
        card = out_dir / f"{stem}.md"
        card.write_text(model_card(meta))
        written.append(card)
    return written


def build(out: Path, *, metrics_dir: Path, plots_dir: Path, features_dir: Path, manifests: Path, seeds: Path,
          models_dir: Path | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [
        corpus_section(manifests, metrics_dir),
        models_section(metrics_dir, seeds),
        images_section("Sample faces with their key points", sorted((features_dir / "faces" / "samples").glob("*.png"))[:8], 260),
        images_section("Mel-spectrogram images", sorted((features_dir / "mel_chunks" / "png").rglob("*.png"))[:8], 200),
        images_section("Autoencoder reconstructions", sorted(plots_dir.glob("*/reconstructions.png"))),
        images_section("Confusion matrices (normalised)", sorted([*plots_dir.glob("*/confusion.png"),
                                                                  *plots_dir.glob("*/*/confusion.png")]), root=plots_dir),
        images_section("Verification: ROC and DET", sorted(plots_dir.glob("*/roc_det.png")), 700),
    ]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>facevoice report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} table.t{{border-collapse:collapse;margin:1em 0}}
table.t td,table.t th{{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}} .g{{display:flex;flex-wrap:wrap;gap:12px}}
figure{{margin:0}} figcaption{{font-size:11px;color:#555}}</style></head>
<body><h1>facevoice report</h1>
<p>Every number below was measured on the test split, which was decided once per person or source recording
before any chunking or augmentation.</p>
{''.join(sections)}
{CHECK}</body></html>"""
    out.write_text(page)
    if models_dir is not None and models_dir.exists():
        write_model_cards(models_dir, out.parent / "cards")
    return out
