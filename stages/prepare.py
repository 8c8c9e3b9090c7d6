"""Stage ``prepare``: manifests per modality (path, labels, source id, split) and their rejects."""
import json
from pathlib import Path

from facevoice import params
from facevoice.evaluate import write_metrics
from facevoice.parallel import from_params
from facevoice.prepare import MODALITIES, SILENCE_DBFS, prepare
from facevoice.split import check_ratios
from facevoice.stage import main
from facevoice.sources import adapter

MAX_CLIP_SECONDS = 300.0  # a longer clip is cut into segments of this length, so no worker holds an hour of audio


def max_clip_seconds(p: params.Checked) -> float | None:
    """``prepare.max_clip_seconds``: longer clips become segments of this many seconds (null: no limit)."""
    if p.get("max_clip_seconds", MAX_CLIP_SECONDS) is None:
        return None
    return p.float("max_clip_seconds", MAX_CLIP_SECONDS, min=1)


def run():
    p = params.checked("prepare")
    sources = {}
    for modality in MODALITIES:
        spec = p.get(modality, None)
        if spec is None or spec.get("source") in (None, "none"):
            continue
        s = p.sub(modality)
        adapter(s.str("source"))
        sources[modality] = {"source": s.str("source"), "root": s.str("root"), "options": s.get("options", {}) or {}}
    backend = from_params(params.load().get("parallel"))  # checked before any file is read
    split = p.sub("split")
    by = split.choice("by", ["recording", "person"])
    check_ratios(split.get("ratios"))
    counts = prepare(sources, {"by": by, "ratios": split.get("ratios"), "seed": split.int("seed")},
                     out_dir=Path("data/manifests"), min_duration=p.float("min_duration", 0.2, min=0),
                     workers=p.int("workers", 2, min=0), silence_dbfs=p.float("silence_dbfs", SILENCE_DBFS, max=0),
                     backend=backend, max_seconds=max_clip_seconds(p))
    write_metrics("metrics/corpus.json", {"split_by": by, **counts})
    print(json.dumps(counts))


if __name__ == "__main__":
    main(run)
