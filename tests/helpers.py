"""Small builders shared by the tests (imported as ``helpers``: pytest puts tests/ on sys.path)."""
from pathlib import Path

import numpy as np
import pandas as pd


def toy_feature(d: Path, x: np.ndarray, split: np.ndarray, **labels) -> None:
    """A built feature (x.npy + index.csv, one clip a row) from arrays, for train.run on toy problems."""
    from facevoice.features import ArrayStore

    d.mkdir(parents=True)
    store = ArrayStore(d / "x.npy")
    for row in x:
        store.append(row)
    store.close()
    n = len(x)
    pd.DataFrame({"path": [f"c{i}.wav" for i in range(n)], **labels, "source_id": [f"s{i}" for i in range(n)],
                  "split": split, "chunk": 0}).to_csv(d / "index.csv", index=False)
