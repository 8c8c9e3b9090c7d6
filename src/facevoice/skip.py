"""A model (or pairs, or a protocol) that the corpus cannot serve: its stage still succeeds and says why.

A stage that raises ``Skip`` writes ``{"skipped": "<one-line reason>", ...}`` as its metrics file and model
metadata, and the placeholder outputs DVC declared for it (a model file holding the reason, a header-only
CSV, an empty plots folder, a PNG showing the reason), so ``dvc repro`` goes on and everything downstream
reads the reason instead of breaking. ``reason_of`` is how consumers ask whether an input was skipped.
"""
from __future__ import annotations

import json
from pathlib import Path


class Skip(Exception):
    """The corpus cannot serve this model: a one-line reason (not an error: the stage succeeds)."""


def reason_of(path: str | Path) -> str | None:
    """The skip reason stored in a metadata/metrics/summary JSON file, or None (also when it is absent)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    return data.get("skipped") if isinstance(data, dict) else None


def _png(path: Path, reason: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 1.2))
    fig.text(0.02, 0.5, f"skipped: {reason}", fontsize=7, va="center", wrap=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_placeholders(reason: str, files: dict[str | Path, str | None] = None, dirs: list[str | Path] = ()) -> None:
    """``files``: path -> content (a CSV header, say); None writes the reason itself (a PNG for .png)."""
    for d in dirs:
        Path(d).mkdir(parents=True, exist_ok=True)
    for path, content in (files or {}).items():
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None and path.suffix == ".png":
            _png(path, reason)
        else:
            path.write_text(content if content is not None else f"skipped: {reason}\n")


def write_skipped(reason: str, info: dict, metrics_path: str | Path, meta_path: str | Path | None = None,
                  meta: dict | None = None) -> dict:
    """The metrics file (and the model's metadata) of a skipped model; returns the metrics written."""
    from .evaluate import write_metrics

    out = {**info, "skipped": reason}
    write_metrics(metrics_path, out)
    if meta_path is not None:
        Path(meta_path).parent.mkdir(parents=True, exist_ok=True)
        Path(meta_path).write_text(json.dumps({**out, **(meta or {})}, indent=2) + "\n")
    print(f"skipped: {reason}")
    return out
