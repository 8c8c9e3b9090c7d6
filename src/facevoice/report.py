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


COUNTS = ("found", "kept", "rejected", "people", "train", "val", "test", "files", "skipped")  # besides n_* columns


def _is_count(column: str) -> bool:
    return column.startswith("n_") or column in COUNTS


def _cell(column: str, v) -> str:
    """A table cell: integers (counts) as integers, other numbers to 3 decimals, intervals as [lo, hi]."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return "[{:.3f}, {:.3f}]".format(*v)
    if isinstance(v, (int, float)) and (isinstance(v, int) or (_is_count(column) and float(v).is_integer())):
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(df: pd.DataFrame) -> str:
    """An HTML table of ``df`` (escaped), cells formatted by ``_cell``; wide cells wrap (CSS) so tables fit 1,400 px."""
    if df.empty:
        return ""
    shown = pd.DataFrame({c: [_cell(str(c), v) for v in df[c].tolist()] for c in df.columns}, columns=df.columns)
    return "<div class='w'>" + shown.to_html(index=False, escape=True, border=0, classes="t") + "</div>"


def _with_ci(m: dict, key: str) -> str:
    """``0.973 [0.943, 0.995]``: a number and its 95% interval when the metrics hold one."""
    if m.get(key) is None:
        return ""
    ci = m.get(f"{key}_ci")
    return f"{m[key]:.3f}" + (" [{:.3f}, {:.3f}]".format(*ci) if ci else "")


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>" if body else ""


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
                parts.append(_details(f"The first {min(20, len(df))} rejected {m}", _table(df.head(20))))
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


NOT_MODELS = ("corpus", "pairs_compare", "lfw_pairs", "speaker_trials")


def usable(m: dict) -> bool:
    """A model whose numbers answer: trained, not predicting one class, scored on enough people."""
    return not (m.get("skipped") or m.get("degenerate") or m.get("flag")) and m.get("accuracy") is not None


def best_model(found: dict[str, dict], mod: str, task: str = "person") -> str | None:
    """The model of modality ``mod`` for ``task`` with the highest test accuracy (then the higher interval bound)."""
    names = [n for n, m in found.items() if n not in NOT_MODELS and usable(m) and not m.get("per_language")
             and m.get("task") == task and modality(m.get("feature", "")) == mod]
    return max(names, key=lambda n: (found[n]["accuracy"], (found[n].get("accuracy_ci") or [0])[0]), default=None)


def _baseline_text(name: str, found: dict[str, dict], versus: dict) -> str:
    if is_baseline(found[name]):
        return "it is the classic baseline"
    if name not in versus:
        return "no classic baseline for this modality"
    base, diff = versus[name]
    return f"classic baseline <code>{html.escape(base)}</code> {_with_ci(found[base], 'accuracy')} ({diff:+.3f})"


def _answer_rows(found: dict[str, dict]) -> list[tuple[str, str, str]]:
    """(question, answer, compared with) for the best face, voice and face+voice identification models."""
    versus = beside_baseline({k: v for k, v in found.items() if k not in NOT_MODELS})
    rows = []
    for mod, what in (("face", "Who is this? (face)"), ("voice", "Who is speaking? (voice)"),
                      ("face+voice", "Who is this? (face + voice)")):
        name = best_model(found, mod)
        if name is None:
            rows.append((what, "no usable model in this run", ""))
            continue
        m = found[name]
        answer = f"<b><code>{html.escape(name)}</code></b>: accuracy {_with_ci(m, 'accuracy')} on {m.get('n_test', '?')} test samples"
        versus_text = _baseline_text(name, found, versus)
        c = found.get("pairs_compare") or {}
        if mod == "face+voice" and c.get("best_single_model"):
            versus_text = (f"best single model on the same test pairs <code>{html.escape(c['best_single_model'])}</code> "
                           f"{c['best_single_accuracy']:.3f} (fusion gain {_with_ci(c, 'fusion_gain')})")
        rows.append((what, answer, versus_text))
    return rows


def _protocol_answer(m: dict | None, what: str) -> tuple[str, str, str]:
    """(question, best embedding's EER [CI] and minDCF, what it was measured on) or why the protocol did not run."""
    if not m:
        return what, "not run", ""
    if m.get("skipped"):
        return what, "not run: " + html.escape(m["skipped"]), ""
    scored = {k: v for k, v in (m.get("embeddings") or {}).items() if isinstance(v, dict) and v.get("eer") is not None}
    if not scored:
        return what, "no embedding scored", ""
    best = min(scored, key=lambda k: scored[k]["eer"])
    e = scored[best]
    answer = f"<b>{html.escape(best)}</b>: EER {_with_ci(e, 'eer')}" + (
        f", minDCF {e['min_dcf']:.3f}" if e.get("min_dcf") is not None else "") + (
        f", accuracy {_with_ci(e, 'accuracy')}" if e.get("accuracy") is not None else "")
    counts = ", ".join(f"{k[2:].replace('_', ' ')} {v}" for k, v in m.items() if k.startswith("n_") and isinstance(v, int))
    flag = f"; <b>{html.escape(m['flag'])}</b>" if m.get("flag") else ""
    return what, answer, html.escape(counts) + flag


def summary_section(found: dict[str, dict]) -> str:
    """The report's first screen: the best face, voice and face+voice models with their intervals and baselines, and
    the verification EERs (speaker trials, face+voice trials, LFW pairs when run)."""
    rows = _answer_rows(found)
    trials = found.get("speaker_trials") or {}
    rows += [_protocol_answer(trials, "Same speaker? (speaker trials)"),
             _protocol_answer(trials.get("face_voice") if isinstance(trials.get("face_voice"), dict) else None,
                              "Same person? (face + voice trials)"),
             _protocol_answer(found.get("lfw_pairs"), "Same face? (LFW pairs)")]
    body = "".join(f"<tr><th>{q}</th><td>{a}</td><td>{c}</td></tr>" for q, a, c in rows)
    use = [f"{mod}: <code>{html.escape(n)}</code>" for mod in ("face", "voice", "face+voice")
           if (n := best_model(found, mod))]
    advice = f"<p class='use'><b>Use</b> {'; '.join(use)} (highest test accuracy of the usable models).</p>" if use else ""
    return (f"<section id='summary'><h2>Answers for this corpus</h2>{advice}"
            f"<table class='t answers'><tr><th>question</th><th>best (95% interval)</th><th>compared with</th></tr>"
            f"{body}</table></section>")


def models_section(metrics_dir: Path, seeds: Path) -> str:
    found = read_metrics(metrics_dir)
    seed_table = pd.read_csv(seeds, keep_default_na=False, dtype=str) if seeds.exists() else pd.DataFrame()
    parts = ["<h2>Models</h2>", _models_table(found, seed_table), *_verification_tables(found),
             _compare_table(found.get("pairs_compare"))]
    parts += [protocol_section(metrics_dir / f"{name}.json", title) for name, title in PROTOCOLS.items()]
    parts += _per_language_tables(found)
    return "\n".join(part for part in parts if part)


def _drop_empty(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the columns that hold nothing (None, NaN or "") in every row."""
    empty = [c for c in df.columns if all(v is None or v == "" or (isinstance(v, float) and v != v) for v in df[c])]
    return df.drop(columns=empty)


def _seed_reported(seed_table: pd.DataFrame) -> pd.Series:
    """model -> what the seed projects reported for it (caveats in the seeds section at the end)."""
    if not len(seed_table):
        return pd.Series(dtype=str)
    reported = seed_table[(seed_table["reported"] != "") & ~seed_table["metric"].str.contains("train")]
    return reported.groupby("model")["reported"].agg("; ".join)


def _models_table(found: dict[str, dict], seed_table: pd.DataFrame) -> str:
    """One row per model: its headline numbers with intervals, its classic baseline and the difference, any flag or
    skip reason; every other number in a folded table below it."""
    models = {k: v for k, v in found.items() if k not in NOT_MODELS}
    versus = beside_baseline(models)
    rows, more = [], []
    for name, m in models.items():
        vs = versus.get(name)
        rows.append({"model": name, "task": m.get("task", "verify" if "eer" in m else ""), "feature": m.get("feature", ""),
                     "accuracy [95% CI]": _with_ci(m, "accuracy"), "macro F1": m.get("f1_macro"),
                     "ROC AUC": m.get("roc_auc"), "EER [95% CI]": _with_ci(m, "eer"), "n_test": m.get("n_test", m.get("n_test_pairs")),
                     "classic baseline (difference)": f"{vs[0]} ({vs[1]:+.3f}{' BELOW' if vs[1] < 0 else ''})" if vs else "",
                     "note": m.get("skipped") or m.get("degenerate") or m.get("flag") or ""})
        more.append({"model": name, **{k: m.get(k) for k in HEADLINE if k not in ("accuracy", "eer", "roc_auc", "f1_macro")},
                     "macro F1 [95% CI]": _with_ci(m, "f1_macro"), "ROC AUC [95% CI]": _with_ci(m, "roc_auc"),
                     "seed reported": _seed_reported(seed_table).get(name, "")})
    if not rows:
        return ""
    df, extra = (_drop_empty(pd.DataFrame(r)) for r in (rows, more))
    return _table(df) + _details("Every other number per model (precision, recall, top-5, counts, intervals)", _table(extra))


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
            f"pairing): fusion gain over the best single model {_with_ci(c, 'fusion_gain') or 'n/a'}</h3>"
            + _details(f"The {len(df)} models on those pairs", _table(df)))


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
    """A verifier variant's numbers, ROC AUC and EER with their 95% intervals when the metrics hold them."""
    return {"accuracy": m.get("accuracy"), "precision": m.get("precision"), "recall": m.get("recall"),
            "ROC AUC [95% CI]": _with_ci(m, "roc_auc"), "EER [95% CI]": _with_ci(m, "eer")}


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


def _protocol_row(name: str, e: dict) -> dict:
    """An embedding's numbers: each with its interval in one cell, the interval lists themselves dropped."""
    row = {"embedding": name}
    for k, v in e.items():
        if k.endswith("_ci"):
            continue
        row[f"{k} [95% CI]" if e.get(f"{k}_ci") else k] = _with_ci(e, k) if e.get(f"{k}_ci") else v
    return row


def _protocol_table(m: dict, title: str) -> str:
    if m.get("skipped"):
        return f"<h3>{html.escape(title)}: skipped</h3><p>{html.escape(m['skipped'])}</p>"
    df = pd.DataFrame([_protocol_row(k, v) for k, v in m.get("embeddings", {}).items() if isinstance(v, dict)])
    counts = ", ".join(f"{k} {v}" for k, v in m.items() if k.startswith("n_"))
    flag = f"; <b>{html.escape(m['flag'])}</b>" if m.get("flag") else ""
    return f"<h3>{html.escape(title)} ({html.escape(counts)}{flag})</h3>{_table(df)}"


def seeds_section(seeds: Path) -> str:
    """Last: what the seed projects reported and why none of it compares with the numbers above as it stands."""
    if not seeds.exists():
        return ""
    seed_table = pd.read_csv(seeds, keep_default_na=False, dtype=str)
    if not len(seed_table):
        return ""
    return ("<h2>What the seed projects reported</h2><p>None of these numbers is comparable with the ones above as it "
            "stands (leaky splits, validation sets used as test sets, other corpora): the caveats say why.</p>"
            + _details(f"The {len(seed_table)} reported numbers and their caveats", _table(seed_table)))


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
  // layout, for tests/test_report_page.py: where the summary ends and how far right any table reaches (folded
  // tables opened for the measurement and folded again)
  const closed = [...document.querySelectorAll('details:not([open])')];
  closed.forEach(d => d.open = true);
  const right = Math.max(0, ...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right));
  closed.forEach(d => d.open = false);
  const summary = document.getElementById('summary');
  document.body.setAttribute('data-widest-table', Math.ceil(right));
  document.body.setAttribute('data-summary-bottom', summary ? Math.ceil(summary.getBoundingClientRect().bottom) : -1);
});
</script>"""

STYLE = """body{font-family:sans-serif;font-size:14px;margin:2em;max-width:1336px}
table.t{border-collapse:collapse;margin:.6em 0}
table.t td,table.t th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top;
  max-width:340px;overflow-wrap:anywhere}
table.t td:first-child,table.t th:first-child{text-align:left}
table.answers td,table.answers th{text-align:left;max-width:560px}
.w{max-width:100%;overflow-x:auto} .g{display:flex;flex-wrap:wrap;gap:12px}
details{margin:.4em 0} summary{cursor:pointer;color:#245}
figure{margin:0} figcaption{font-size:11px;color:#555} h1{margin:0 0 .3em} h2{margin:1.2em 0 .4em}
#summary h2{margin-top:.2em} p.use{font-size:16px;margin:.3em 0}"""

TASKS = {  # task -> (intended use, out of scope), the Model Cards convention's "Intended use"
    "person": ("Identify which of the people in this corpus's training split a sample belongs to (closed set).",
               "People outside the training split: a closed-set classifier names one of its people for anyone; "
               "use `facevoice identify` with a gallery and its open-set threshold instead."),
    "gender": ("Predict the corpus's annotated gender label of a speaker, to study the features and models.",
               "Inferring anyone's gender identity, or any decision about a person."),
    "language": ("Predict which of the corpus's languages a clip is spoken in.", "Languages the corpus does not hold."),
    "verify": ("Decide whether two samples (face, voice or both) come from the same person.",
               "Decisions about people without a threshold chosen on the deployment's own data."),
    "reconstruct": ("Learn an encoder that other models start from (an autoencoder).", "Any decision about a person."),
}


def _card_metrics(meta: dict) -> list[str]:
    """The card's metrics table: each number with its 95% interval when measured, counts as integers."""
    lines = ["| metric | value | 95% interval |", "|---|---|---|"]
    for k, v in sorted(meta.items()):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or k.endswith("_threshold"):
            continue
        ci = meta.get(f"{k}_ci")
        shown = _cell(k, v) if isinstance(v, int) or _is_count(k) else f"{v:.4f}"
        lines.append(f"| {k} | {shown} | " + ("[{:.4f}, {:.4f}]".format(*ci) if ci else "") + " |")
    return lines


def _card_limits(meta: dict) -> list[str]:
    limits = [f"- **skipped**: {meta['skipped']}"] if meta.get("skipped") else []
    limits += [f"- **{meta[k]}**" for k in ("degenerate", "flag") if meta.get(k)]
    if meta.get("n_test") is not None and meta["n_test"] < 100:
        limits.append(f"- {meta['n_test']} test samples: read the interval, not the point estimate.")
    if meta.get("n_test_unseen_class"):
        limits.append(f"- {meta['n_test_unseen_class']} test samples of classes absent from training.")
    limits.append("- Measured on this run's corpus only (see the report's corpus section); numbers on another corpus, "
                  "microphone or camera will differ.")
    return limits


def model_card(meta: dict, baseline: tuple[str, dict] | None = None) -> str:
    """A markdown card in the Model Cards convention (Mitchell et al. 2019): model details, intended use, limits,
    training and evaluation data, metrics with their intervals, its classic baseline, params."""
    import yaml  # only the cards need it

    params, task = meta.get("params", {}), meta.get("task", "verify" if "eer" in meta else "")
    use, not_for = TASKS.get(task, ("See params.", "Any decision about a person."))
    lines = [f"# {meta.get('model', '?')}", "", "## Model details", "",
             f"- task: {task}",
             f"- input feature: {meta.get('feature', '') or ', '.join(meta.get('inputs', {}))}",
             f"- builder: {params.get('builder', meta.get('builder', 'siamese'))}"
             + (f", initialised from {meta['init_from']}" if meta.get("init_from") else ""),
             "", "## Intended use", "", f"- primary use: {use}", f"- out of scope: {not_for}",
             "", "## Limits", "", *_card_limits(meta),
             "", "## Training data", "",
             f"- {meta.get('n_train', meta.get('n_train_pairs', '?'))} training samples"
             + (f", {meta['n_classes']} classes" if meta.get("n_classes") else ""),
             f"- split rule: {meta.get('split_rule') or ('open-set: test people unseen in training' if meta.get('open_set') else 'see params')}"]
    if meta.get("pairing"):
        lines.append(f"- face/voice pairing: {meta['pairing']}")
    lines += ["", "## Evaluation data", "", f"- {meta.get('n_test', meta.get('n_test_pairs', '?'))} test samples "
              "of the same split (decided once in prepare, before any chunking or augmentation)",
              "", "## Metrics (test split)", "", *_card_metrics(meta), "", "## Baseline", "", _card_baseline(meta, baseline),
              "", "## Params", "", "```yaml", yaml.safe_dump(params, sort_keys=False).strip(), "```", ""]
    return "\n".join(lines)


def _card_baseline(meta: dict, baseline: tuple[str, dict] | None) -> str:
    if is_baseline({**meta, "builder": meta.get("params", {}).get("builder", meta.get("builder"))}):
        return "This model is the classic baseline of its modality and task."
    if baseline is None:
        return "No classic baseline for this modality and task in this run."
    name, b = baseline
    diff = f" ({meta['accuracy'] - b['accuracy']:+.4f})" if meta.get("accuracy") is not None else ""
    return f"`{name}` on the same split: accuracy {_with_ci(b, 'accuracy')}{diff}."


def write_model_cards(models_dir: Path, out_dir: Path, metrics_dir: Path | None = None) -> list[Path]:
    """A card per model: ``models/<name>.json`` -> ``<name>.md``; a per-language group's
    ``models/<group>/<lang>.json`` -> ``<group>_<lang>.md``, titled ``<group> / <lang>``. With ``metrics_dir``,
    each card names its classic baseline and the difference."""
    out_dir.mkdir(parents=True, exist_ok=True)
    found = read_metrics(metrics_dir) if metrics_dir is not None and Path(metrics_dir).exists() else {}
    versus = beside_baseline({k: v for k, v in found.items() if k not in NOT_MODELS})
    written = []
    for path in sorted([*models_dir.glob("*.json"), *models_dir.glob("*/*.json")]):
        meta = json.loads(path.read_text())
        if "model" not in meta:
            continue
        stem = path.stem
        if path.parent != models_dir:
            stem = f"{path.parent.name}_{path.stem}"
            meta = {**meta, "model": f"{path.parent.name} / {meta['model']}"}
        base = versus.get(stem, (None,))[0]
        card = out_dir / f"{stem}.md"
        card.write_text(model_card(meta, (base, found[base]) if base else None))
        written.append(card)
    return written


def build(out: Path, *, metrics_dir: Path, plots_dir: Path, features_dir: Path, manifests: Path, seeds: Path,
          models_dir: Path | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [
        summary_section(read_metrics(metrics_dir)),
        corpus_section(manifests, metrics_dir),
        models_section(metrics_dir, seeds),
        images_section("Sample faces with their key points", sorted((features_dir / "faces" / "samples").glob("*.png"))[:8], 260),
        images_section("Mel-spectrogram images", sorted((features_dir / "mel_chunks" / "png").rglob("*.png"))[:8], 200),
        images_section("Autoencoder reconstructions", sorted(plots_dir.glob("*/reconstructions.png"))),
        images_section("Confusion matrices (normalised)", sorted([*plots_dir.glob("*/confusion.png"),
                                                                  *plots_dir.glob("*/*/confusion.png")]), root=plots_dir),
        images_section("Verification: ROC and DET", sorted(plots_dir.glob("*/roc_det.png")), 700),
        seeds_section(seeds),
    ]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>facevoice report</title>
<style>{STYLE}</style></head>
<body><h1>facevoice report</h1>
<p>Every number was measured on the test split, decided once per person or source recording before any chunking or
augmentation; intervals are 95% bootstrap intervals over source recordings or photos.</p>
{''.join(sections)}
{CHECK}</body></html>"""
    out.write_text(page)
    if models_dir is not None and models_dir.exists():
        write_model_cards(models_dir, out.parent / "cards", metrics_dir)
    return out
