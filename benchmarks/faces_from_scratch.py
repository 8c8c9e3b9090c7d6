"""From-scratch face identification on real photos, outside DVC: eigenfaces (``face_pca_svm``) against a
batch-normalised CNN (``image_cnn`` with ``batchnorm``, ``pool: gap``, ``augment``) on exactly the faces stage's
photos, boxes, key points and split, for crop sizes, colours and stored augmented copies that ``faces`` would
otherwise need a full MTCNN rerun to try (issue #13, item 3).

    python benchmarks/real_corpora.py lfw --keep /tmp/bench_lfw          # once: MTCNN boxes for lfw_dev's 4-9-photo people
    python benchmarks/faces_from_scratch.py /tmp/bench_lfw/data/features/faces --size 32 --color rgb --copies 2
    python benchmarks/faces_from_scratch.py ... --pca-only                # eigenfaces alone (seconds)

Crops and stored copies (``faces.augment``'s defaults, seed 42, train photos only) are cut by the faces stage's own
``_crops``. The CNN is ``image_cnn``'s layers with
categorical cross-entropy and label smoothing 0.1, Adam, early stopping on validation accuracy. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def crops(index: Path, size: int, color: str, copies: int, margin: float = 0.15) -> tuple:
    """Each kept photo's crop and, for training photos, its stored copies, cut by the faces stage's ``_crops``."""
    from facevoice.faces import augment as aug
    from facevoice.faces.build import _crops
    from facevoice.faces.detect import read_photo

    d = pd.read_csv(index)
    d = d[~d["augmented"]].reset_index(drop=True)
    cfg = {"size": size, "color": color, "margin": margin, "align": True, "detector": "mtcnn",
           "augment": aug.check({"copies": copies})}
    rng, x, person, split = np.random.default_rng(42), [], [], []
    for r in d.itertuples():
        det = {"box": json.loads(r.box), "keypoints": json.loads(r.keypoints)}
        views = [crop for crop, _ in _crops(read_photo(r.path), det, {"split": r.split}, cfg, rng)]
        x += views
        person += [r.person] * len(views)
        split += [r.split] * len(views)
    return np.stack(x), np.array(person), np.array(split)


def pca_svm(x, y, split) -> float:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
    tr, te = split == "train", split == "test"
    model = make_pipeline(PCA(150, whiten=True, random_state=0), SVC(C=10.0)).fit(flat[tr], y[tr])
    return float((model.predict(flat[te]) == y[te]).mean())


def cnn(x, y, split, epochs: int, patience: int) -> dict:
    import keras

    from facevoice import models

    keras.utils.set_random_seed(42)
    labels = sorted(set(y))
    onehot = keras.utils.to_categorical([labels.index(p) for p in y], len(labels))
    tr, va, te = split == "train", split == "val", split == "test"
    model = models.get("image_cnn")(x.shape[1:], len(labels), x[tr], filters=[32, 64, 128], head=[], dropout=0.5,
                                    l2=5e-4, batchnorm=True, pool="gap", augment={"flip": True, "shift": 0.08})
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True)
    h = model.fit(x[tr].astype(np.float32), onehot[tr], validation_data=(x[va].astype(np.float32), onehot[va]),
                  epochs=epochs, batch_size=32, callbacks=[stop], verbose=2)
    acc = (model.predict(x[te].astype(np.float32), verbose=0).argmax(1) == onehot[te].argmax(1)).mean()
    return {"cnn_test": float(acc), "cnn_best_val": max(h.history["val_accuracy"]), "epochs_run": len(h.history["loss"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("faces", type=Path, help="a faces stage's output folder (index.csv with boxes and key points)")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--color", choices=["grey", "rgb"], default="rgb")
    ap.add_argument("--copies", type=int, default=2, help="stored augmented copies per training photo")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--patience", type=int, default=40)
    ap.add_argument("--pca-only", action="store_true")
    args = ap.parse_args()
    start = time.perf_counter()
    x, y, split = crops(args.faces / "index.csv", args.size, args.color, args.copies)
    out = {**{k: v for k, v in vars(args).items() if k != "faces"}, "n_train_crops": int((split == "train").sum()),
           "n_test": int((split == "test").sum()), "pca_svm_test": pca_svm(x, y, split)}
    if not args.pca_only:
        out.update(cnn(x, y, split, args.epochs, args.patience))
    out["seconds"] = round(time.perf_counter() - start)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
