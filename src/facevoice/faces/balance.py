"""Per-person balancing: a people limit, a photo cap per person, a minimum per person (the LFW project of
``../shared/seeds/000_0653bf33f3829ce1.txt`` kept 160 people at 250 images a head)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def cap(df: pd.DataFrame, max_people: int, max_photos: int, seed: int) -> tuple[np.ndarray, list[str | None]]:
    """(keep mask, reason per dropped row). ``0`` means no limit.

    ``max_people``: the people with most photos (ties by name). ``max_photos``: each person's photos are
    shuffled (seeded) and taken in proportion over their splits, so the cap keeps the split ratios.
    """
    keep = np.ones(len(df), dtype=bool)
    reasons: list[str | None] = [None] * len(df)
    counts = df.groupby("person").size()
    if max_people and len(counts) > max_people:
        ranked = sorted(counts.index, key=lambda p: (-counts[p], p))
        dropped = set(ranked[max_people:])
        for i, person in enumerate(df["person"]):
            if person in dropped:
                keep[i] = False
                reasons[i] = f"balance: person not among the max_people={max_people} with most photos"
    if max_photos:
        rng = np.random.default_rng(seed)
        for person, idx in df[keep].groupby("person", sort=True).groups.items():
            rows = np.array(sorted(idx, key=lambda i: str(df.at[i, "source_id"])))
            if len(rows) <= max_photos:
                continue
            rows = rows[rng.permutation(len(rows))]
            splits = df.loc[rows, "split"].values
            rank = np.zeros(len(rows))
            for s in np.unique(splits):
                where = np.flatnonzero(splits == s)
                rank[where] = (np.arange(len(where)) + 0.5) / len(where)
            for i in rows[np.argsort(rank, kind="stable")][max_photos:]:
                pos = df.index.get_loc(i)
                keep[pos] = False
                reasons[pos] = f"balance: over the cap of max_photos={max_photos} photos per person"
    return keep, reasons


def too_few(people: list[str], min_photos: int) -> set[str]:
    """People with fewer than ``min_photos`` accepted photos."""
    if min_photos <= 1:
        return set()
    counts = pd.Series(people, dtype=object).value_counts()
    return {p for p, n in counts.items() if n < min_photos}
