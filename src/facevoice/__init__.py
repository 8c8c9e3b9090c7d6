"""facevoice: recognise people from their faces and voices, as a DVC pipeline."""
import os
import platform

__version__ = "0.1.0"

# The same kernels on every x86 CPU, so that a run writes the same bytes on an AVX2 and an AVX-512 machine.
# NumPy (exp, log, sin, ...) and oneDNN (TensorFlow's matrix products) choose their kernels by the CPU when they
# load, and the AVX-512 ones round differently; TensorFlow also turns its oneDNN graph rewrites on by itself on
# CPUs with AVX-512 VNNI only. Unpinned, an AVX-512 EPYC wrote other shortterm features, MTCNN boxes and every
# TensorFlow model than a dvc.lock made on an AVX2 CPU; pinned, the same features, crops and dense models (the
# convolutional ones still differ: README, "Reproducible"). Every stage imports this package before NumPy and
# TensorFlow (tests/test_determinism.py).
CPU_PINS = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "ONEDNN_MAX_CPU_ISA": "AVX2",
            "TF_ENABLE_ONEDNN_OPTS": "0"}
if platform.machine().lower() in ("x86_64", "amd64"):
    for _name, _value in CPU_PINS.items():
        os.environ.setdefault(_name, _value)

# The Python API (facevoice.api), re-exported lazily: ``import facevoice`` stays cheap (no NumPy, OpenCV, dlib or
# TensorFlow) and sets the pins above before anything else loads; ``facevoice.identify(...)`` imports the API then.
# Not ``verify``: that name is the pipeline's module facevoice/verify.py (use facevoice.api.verify or a Recognizer).
_API = ("Recognizer", "recognizer", "embed_face", "embed_voice", "identify", "enroll", "find")


def __getattr__(name: str):
    if name in _API:
        # lazy on purpose (see above); by name, so that no stage counts the API among the modules it imports
        # (tests/test_dvc_graph.py reads imports from the source): stages never call it
        import importlib

        return getattr(importlib.import_module(f"{__name__}.api"), name)
    raise AttributeError(f"module 'facevoice' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
