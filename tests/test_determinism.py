"""Training is deterministic: the same model trained in two fresh processes writes byte-identical metrics,
predictions and model files (Python, NumPy and TensorFlow seeded by fitting.seed_everything; on CPU that is
enough; fitting.save_model leaves Keras' save date out of the .keras file, so DVC records the same hash).

A third run is a fork of a warm server (``facevoice.warm``: TensorFlow imported before the script's environment
is set, as in ``make repro``) and must write the same bytes. Each process trains three kinds of model on the same toy image/sequence data: a Conv2D+BatchNorm CNN, a
Conv1D+LSTM CRNN and a dense classifier, through ``facevoice.train.run`` as the ``train`` stage does.
"""
import os
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

SCRIPT = r'''
import sys
from pathlib import Path
import numpy as np
from facevoice.stage import main


def train_all():
    sys.path.insert(0, sys.argv[2])
    from helpers import toy_feature
    from facevoice.train import run

    root = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    split = np.array(["train", "train", "train", "val", "test"] * 18)
    people = [f"p{v}" for v in y]
    images = (rng.integers(0, 60, (90, 16, 16, 1)) + y[:, None, None, None] * 60).astype(np.uint8)
    seqs = (rng.normal(0, 1, (90, 20, 8)) + y[:, None, None]).astype(np.float32)
    toy_feature(root / "features/img", images, split, person=people, gender="male", language="en")
    toy_feature(root / "features/seq", seqs, split, person=people, gender="male", language="en")
    toy_feature(root / "features/vec", seqs.mean(axis=1), split, person=people, gender="male", language="en")
    train = {"epochs": 4, "batch_size": 16, "lr": 0.003, "patience": 4, "seed": 3, "verbose": 0}
    specs = {"cnn": {"feature": "img", "builder": "cnn_classifier",
                     "args": {"filters": [4, 8], "batchnorm": True, "pool": "time", "head": [8], "norm": "rescale"}},
             "crnn": {"feature": "seq", "builder": "crnn", "args": {"filters": [8], "kernel": 3, "pool": 2, "lstm": 8,
                                                                   "norm": "standard"}},
             "dense": {"feature": "vec", "builder": "dense_classifier", "args": {"hidden": [16]}}}
    for name, spec in specs.items():
        run(name, {**spec, "task": "person", "fit": train}, features_root=root / "features",
            models_dir=root / "models", metrics_dir=root / "metrics", plots_dir=root / "plots")


main(train_all)
'''


def _train(where: Path, warm_server: str | None = None) -> dict:
    """The toy models trained by a fresh ``python script.py`` (or, with ``warm_server``, by a fork of that warm
    server, as ``make repro`` runs a stage); {file: bytes}."""
    import os

    from facevoice import warm

    where.mkdir()
    script = where / "train_toy.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != warm.ENV}
    if warm_server:
        env[warm.ENV] = warm_server
    r = subprocess.run([sys.executable, str(script), str(where), str(ROOT / "tests")], capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    files = (sorted(where.glob("metrics/*.json")) + sorted(where.glob("plots/*/confusion.csv")) +
             sorted(where.glob("models/*.keras")))
    return {p.relative_to(where).as_posix(): p.read_bytes() for p in files}


def test_two_fresh_processes_and_a_warm_child_train_identical_models(tmp_path):
    from facevoice import warm

    a, b = _train(tmp_path / "a"), _train(tmp_path / "b")
    with warm.server(tmp_path / "warm.log") as path:
        assert warm.wait_ready(path, 120)
        c = _train(tmp_path / "c", path)
    assert len(a) == 9 and a.keys() == b.keys() == c.keys()
    different = [k for k in a if a[k] != b[k] or a[k] != c[k]]
    assert not different, different


def test_every_stage_script_imports_facevoice_before_any_third_party_module():
    """facevoice/__init__ turns NumPy's AVX-512 kernels off, which only works before NumPy is first imported."""
    import ast

    for script in sorted((ROOT / "stages").glob("*.py")):
        tops = [n.names[0].name if isinstance(n, ast.Import) else n.module
                for n in ast.parse(script.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))]
        first = next((m for m in tops if m.split(".")[0] not in sys.stdlib_module_names | {"__future__"}), None)
        assert first is None or first.split(".")[0] == "facevoice", f"{script.name} imports {first} first"


def test_numpy_and_onednn_run_the_same_kernels_on_avx2_and_avx512_machines():
    """Unpinned, an AVX-512 EPYC wrote other shortterm features, MTCNN boxes and models than a dvc.lock made on an
    AVX2 CPU; pinned, the same features, crops and dense models. Checked in a fresh process, as a stage starts."""
    from facevoice import CPU_PINS

    probe = ("import os, facevoice, numpy\nfrom numpy._core._multiarray_umath import __cpu_features__ as f\n"
             "print(sorted(k for k in facevoice.CPU_PINS['NPY_DISABLE_CPU_FEATURES'].split() if f.get(k)),"
             " os.environ.get('ONEDNN_MAX_CPU_ISA'), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={k: v for k, v in os.environ.items() if k not in CPU_PINS})
    assert out.stdout.split() == ["[]", "AVX2", "0"], out.stdout
