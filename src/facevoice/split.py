"""The one split function: by person or by source recording/photo, decided once in ``prepare``.

Chunks, windows and augmented copies made later inherit their source's split, so nothing leaks. Exact
duplicates (rows with one ``md5``) are one group too: a copy of a photo or clip lands beside its original.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ParamsError

SPLITS = ("train", "val", "test")


def _allocate(n: int, ratios: dict[str, float]) -> list[str]:
    """Split names for ``n`` shuffled groups, each ratio's share rounded, test and val at least one when n allows."""
    counts = {name: int(round(n * ratios.get(name, 0.0))) for name in SPLITS}
    for name in ("test", "val"):
        if ratios.get(name, 0) > 0 and counts[name] == 0 and n - sum(counts.values()) > 1:
            counts[name] = 1
    counts["train"] = n - counts["val"] - counts["test"]
    if counts["train"] < 1 and n > 0:
        counts["train"] = 1
        for name in ("val", "test"):
            while counts["train"] + counts["val"] + counts["test"] > n and counts[name] > 0:
                counts[name] -= 1
    return ["train"] * counts["train"] + ["val"] * counts["val"] + ["test"] * counts["test"]


def check_ratios(ratios: dict) -> dict[str, float]:
    if not isinstance(ratios, dict) or set(ratios) - set(SPLITS):
        raise ParamsError(f"params.yaml: 'prepare.split.ratios' must map train/val/test to fractions, got {ratios!r}")
    vals = {k: float(ratios.get(k, 0.0)) for k in SPLITS}
    if any(v < 0 for v in vals.values()) or abs(sum(vals.values()) - 1.0) > 1e-6:
        raise ParamsError(f"params.yaml: 'prepare.split.ratios' must be >= 0 and sum to 1, got {ratios!r}")
    return vals


def merge_sources(sources: pd.Series, links: pd.Series) -> pd.Series:
    """Each row's split group: its source id, or, when rows share a ``links`` value (a content digest), the
    smallest source id of all sources joined through shared values. Empty or missing links join nothing, so
    without shared values the groups are the source ids themselves."""
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    frame = pd.DataFrame({"source": sources.astype(str).values, "link": links.values})
    frame = frame[frame["link"].notna() & (frame["link"].astype(str) != "")]
    for group in frame.groupby("link", sort=True)["source"]:
        roots = sorted({find(s) for s in group[1]})
        for other in roots[1:]:
            parent[other] = roots[0]
    return pd.Series([find(s) for s in sources.astype(str)], index=sources.index, dtype=object)


def assign_splits(df: pd.DataFrame, by: str, ratios: dict, seed: int, stratify: str | None = "person") -> pd.Series:
    """A ``split`` value per row; all rows of one group (a person, or a source id) share it.

    ``by='person'``: people are divided between splits (open-set). ``by='recording'``: each person's
    source recordings/photos are divided between splits (closed-set), stratified per ``stratify`` column
    so that every person appears in train and, when they have enough sources, in test. With an ``md5``
    column, sources holding the same bytes are one group (``merge_sources``).
    """
    ratios = check_ratios(ratios)
    if by not in ("person", "recording"):
        raise ParamsError(f"params.yaml: 'prepare.split.by' must be person or recording, got {by!r}")
    rng = np.random.default_rng(seed)
    out = pd.Series("train", index=df.index, dtype=object)
    if df.empty:
        return out
    if by == "person":
        people = sorted(df["person"].unique())
        rng.shuffle(people)
        mapping = dict(zip(people, _allocate(len(people), ratios)))
        return df["person"].map(mapping)
    strata = df[stratify] if stratify else pd.Series("all", index=df.index)
    groups = merge_sources(df["source_id"], df["md5"]) if "md5" in df.columns else df["source_id"]
    for _, idx in df.groupby(strata, sort=True).groups.items():
        sources = sorted(groups.loc[idx].unique())
        rng.shuffle(sources)
        mapping = dict(zip(sources, _allocate(len(sources), ratios)))
        out.loc[idx] = groups.loc[idx].map(mapping)
    return out


def group_holdout(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of rows held out for validation, whole groups at a time (never splits a source)."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    n_hold = max(1, int(round(len(uniq) * fraction))) if len(uniq) > 1 and fraction > 0 else 0
    held = set(uniq[:n_hold].tolist())
    return np.array([g in held for g in groups], dtype=bool)
