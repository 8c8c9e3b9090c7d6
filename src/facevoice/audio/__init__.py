"""Audio: the one loader (``load``) and the feature functions (``facevoice.audio.features``)."""
from .loader import AUDIO_EXTENSIONS, decode, load, probe

__all__ = ["AUDIO_EXTENSIONS", "decode", "load", "probe"]
