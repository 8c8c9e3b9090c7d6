"""facevoice: recognise people from their faces and voices, as a DVC pipeline."""

__version__ = "0.1.0"
