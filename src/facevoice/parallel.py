"""The one way to map work over files: joblib processes with a tqdm progress bar, order kept."""
from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator, Sequence


def workers_for(requested: int | None) -> int:
    """``requested`` workers, ``0``/``None`` meaning one per core."""
    return max(1, requested or os.cpu_count() or 1)


def imap(func: Callable, items: Sequence, workers: int | None = 1, desc: str = "", progress: bool = True,
         batch_size: int | str = "auto") -> Iterator:
    """Yield ``func(item)`` in order; ``workers > 1`` runs in processes (results stream, not held)."""
    from tqdm import tqdm

    n = workers_for(workers)
    bar = tqdm(total=len(items), desc=desc, disable=not progress, mininterval=1.0)
    try:
        if n == 1 or len(items) < 2:
            for item in items:
                yield func(item)
                bar.update(1)
        else:
            from joblib import Parallel, delayed

            run = Parallel(n_jobs=n, return_as="generator", batch_size=batch_size)
            for result in run(delayed(func)(item) for item in items):
                yield result
                bar.update(1)
    finally:
        bar.close()


def pmap(func: Callable, items: Iterable, workers: int | None = 1, desc: str = "", progress: bool = True) -> list:
    items = list(items)
    return list(imap(func, items, workers, desc, progress))
