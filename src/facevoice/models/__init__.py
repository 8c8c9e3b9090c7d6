"""Models as data: ``build_*`` functions registered by name; ``params.yaml`` picks one per model.

Every builder is called as ``builder(input_shape, n_classes, x_train, pretrained=None, **args)``:
``x_train`` lets it adapt its input normalisation on training data only; ``pretrained`` is the loaded
model named by ``init_from`` (an autoencoder whose encoder it starts from).

Conventions shared by all builders: the first layer after the input is named ``norm`` (a
Normalization or Rescaling: autoencoders reconstruct ``norm(x)``), the feature extractor is a
sub-model named ``encoder``, so that any classifier can start from any autoencoder's encoder.
"""
from __future__ import annotations

from typing import Callable

from ..errors import ParamsError

REGISTRY: dict[str, Callable] = {}


def register(name: str):
    def wrap(func):
        old = REGISTRY.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (func.__module__, func.__qualname__):
            raise ValueError(f"model builder {name!r} registered twice ({old.__module__} and {func.__module__})")
        REGISTRY[name] = func
        return func
    return wrap


def get(name: str) -> Callable:
    _load_families()
    if name not in REGISTRY:
        raise ParamsError(f"params.yaml: unknown model builder {name!r}; choose one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def _load_families():
    from . import dense  # noqa: F401  (registers its builders)
    from . import image  # noqa: F401  (image_ae, image_cnn, transfer: face crops)
    from . import audio, baseline  # noqa: F401  (conv/recurrent audio models; scikit-learn baselines)
    from . import fusion  # noqa: F401  (fusion classifier, siamese verifier)
