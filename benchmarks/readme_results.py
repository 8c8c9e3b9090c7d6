"""The README's "Results" tables, printed from a run's metrics files, so that every number there comes from one
run (issue #14 item 7) and regenerating them is one command:

    .venv/bin/python benchmarks/readme_results.py [metrics_dir]     # default: metrics/ of this checkout

Prints markdown: the test-split table (each deep model beside its classic baseline, accuracy with its 95%
interval), fusion against every single model on the same test pairs, the verifiers, the face+voice trials and
the speaker trials. The prose around them in the README is written by hand from the same output.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facevoice.report import beside_baseline, read_metrics  # noqa: E402

# model -> (task, input): what the table says about each model (params.yaml has the details)
ROWS = {
    "mfcc_dense": ("speaker", "40 MFCCs (mean + std per clip)"),
    "mfcc_ae_clf": ("speaker", "same, encoder from the dense autoencoder `mfcc_ae`"),
    "audio_cnn": ("speaker", "log-frequency spectrogram"),
    "audio_crnn": ("speaker", "MFCC frames, 2 Conv1D + LSTM"),
    "mel_ae_clf": ("speaker", "1-second mel images, encoder from `mel_ae`"),
    "gender_cnn": ("gender", "6-s log2-mel"),
    "gender_transfer": ("gender", "6-s log2-mel, encoder from `mel_ae`"),
    "gender_shortterm": ("gender", "68x68 pyAudioAnalysis features, all languages"),
    "gender_per_language": ("gender", "the same CNN, one model per language"),
    "gender_svm": ("gender", "raw waveform, linear SVM (the seed's)"),
    "language_cnn": ("language (4)", "68x68 pyAudioAnalysis features"),
    "face_cnn": ("person", "32x32 grey MTCNN crops"),
    "face_ae_clf": ("person", "same, encoder from `face_ae`"),
    "face_embed_svm": ("person", "dlib's pretrained 128-d face descriptor, linear SVM"),
    "face_embed_dense": ("person", "the same descriptor, a small dense head"),
    "fusion_cnn_cnn": ("person", "face crop + log-frequency spectrogram"),
    "fusion_cnn_crnn": ("person", "face crop + MFCC frames"),
    "fusion_cnn_dense": ("person", "face crop + MFCC statistics (`mfcc_dense` as the voice branch)"),
    "fusion_embed_dense": ("person", "dlib's descriptor (`face_embed_dense`) + MFCC statistics"),
}
# what the seed projects reported for the same kind of model (docs/seed_results.csv: none of it comparable)
SEED = {"mfcc_ae_clf": "0.95", "audio_cnn": "0.79", "audio_crnn": "0.715", "mel_ae_clf": "0.00", "gender_cnn": "0.89",
        "gender_transfer": "0.84", "gender_svm": "0.59", "face_cnn": "(0.845 on VoxCeleb frames)", "face_ae_clf": "0.83",
        "fusion_cnn_cnn": "0.7325", "fusion_cnn_crnn": "0.80"}
BASELINES = {"gender_svm": "voice_mfcc_logreg_gender", "face_embed_svm": "face_pca_svm"}


def value(m: dict, key: str = "accuracy", digits: int = 2) -> str:
    ci = m.get(f"{key}_ci")
    return f"{m[key]:.{digits}f}" + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def accuracy_cell(m: dict) -> str:
    if "languages" in m:
        return ", ".join(f"{lang} {v['accuracy']:.2f}" for lang, v in sorted(m["languages"].items()))
    if "clip_accuracy" in m:
        return f"{m['accuracy']:.2f} per chunk, {value(m, 'clip_accuracy')} per clip"
    return value(m)


def baseline_cell(name: str, found: dict[str, dict], versus: dict) -> str:
    base = BASELINES.get(name) or (versus[name][0] if name in versus else None)
    if base is None or base not in found:
        return ""
    acc, mine = found[base]["accuracy"], found[name]["accuracy"]
    return f"`{base}` {acc:.2f}" + (" (**below**)" if mine < acc - 1e-9 else "")


def models_table(found: dict[str, dict]) -> str:
    versus = beside_baseline({k: v for k, v in found.items() if "accuracy" in v and "languages" not in v})
    lines = ["| model | task | input | accuracy [95% CI] | macro F1 | classic baseline on the same split | seed reported* |",
             "|---|---|---|---|---|---|---|"]
    for name, (task, what) in ROWS.items():
        m = found.get(name)
        if m is None or "accuracy" not in m:
            continue
        f1 = f"{m['f1_macro']:.2f}" if "f1_macro" in m else ""
        lines.append(f"| `{name}` | {task} | {what} | {accuracy_cell(m)} | {f1} | {baseline_cell(name, found, versus)} | {SEED.get(name, '')} |")
    return "\n".join(lines)


def compare_lines(c: dict) -> str:
    groups = {}
    for name, m in sorted(c["models"].items(), key=lambda kv: -kv[1]["accuracy"]):
        groups.setdefault(m["inputs"], []).append(f"`{name}` {m['accuracy']:.2f}")
    ci = c.get("fusion_gain_ci") or [float("nan")] * 2
    return "\n".join([f"- {kind}: {', '.join(items)};" for kind, items in groups.items()] +
                     [f"- best fused `{c['best_fusion_model']}` {c['best_fusion_accuracy']:.2f} against best single "
                      f"`{c['best_single_model']}` {c['best_single_accuracy']:.2f}: gain {c['fusion_gain']:+.3f} "
                      f"[{ci[0]:+.3f}, {ci[1]:+.3f}] ({c['n_samples']} test pairs)"])


def verify_table(found: dict[str, dict]) -> str:
    lines = ["| verifier | variant | ROC AUC | EER [95% CI] | accuracy | precision | recall |", "|---|---|---|---|---|---|---|"]
    for name in ("siamese", "siamese_embed"):
        m = found.get(name)
        if m is None or "eer" not in m:
            continue
        for variant, r in (("fused", m), ("face only", m["face_only"]), ("voice only", m["voice_only"])):
            lines.append(f"| `{name}` | {variant} | {r['roc_auc']:.3f} | {value(r, 'eer', 3)} | "
                         f"{r['accuracy']:.2f} | {r['precision']:.2f} | {r['recall']:.2f} |")
    return "\n".join(lines) + f"\n\n({m['n_test_pairs']} test pairs of {m['n_test_people']} open-set people, " \
                               f"{m['n_train_pairs']} training pairs)"


def eer_cell(m: dict) -> str:
    return f"{value(m, 'eer', 3)} / {m['min_dcf']:.2f}"


def trials_tables(t: dict) -> str:
    fv, e = t["face_voice"], t["face_voice"]["embeddings"]
    rows = [("classic: dlib's descriptor, MFCC statistics, both concatenated", "dlib", "mfcc_stats", "dlib+mfcc_stats"),
            ("`siamese` towers (crop)", "siamese_face", "siamese_voice", "siamese_fused"),
            ("`siamese_embed` towers (dlib descriptor)", "siamese_embed_face", "siamese_embed_voice", "siamese_embed_fused")]
    lines = [f"Face + voice trials ({fv['n_trials']} trials, {fv['n_target']} same-person, {fv['n_people']} people); "
             "EER [95% CI] / minDCF(0.01):", "", "| embedding | face | voice | fused |", "|---|---|---|---|"]
    for label, *names in rows:
        lines.append(f"| {label} | " + " | ".join(eer_cell(e[n]) if n in e and "eer" in e[n] else "-" for n in names) + " |")
    lines += ["", f"Speaker trials ({t['n_trials']} trials, {t['n_speakers']} speakers, {t['speakers_seen_in_training']} "
              "seen in training); EER [95% CI] / minDCF(0.01): " +
              ", ".join(f"`{n}` {eer_cell(m)}" for n, m in t["embeddings"].items() if "eer" in m)]
    return "\n".join(lines)


def main() -> None:
    found = read_metrics(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "metrics")
    parts = [models_table(found)]
    if "pairs_compare" in found:
        parts.append(compare_lines(found["pairs_compare"]))
    parts.append(verify_table(found))
    if "face_voice" in found.get("speaker_trials", {}):
        parts.append(trials_tables(found["speaker_trials"]))
    print("\n\n".join(parts))


if __name__ == "__main__":
    main()
