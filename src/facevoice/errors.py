"""The errors facevoice raises on bad input: each names the file or key and the reason."""


class FacevoiceError(Exception):
    """Base class: a one-line, user-facing message."""


class ParamsError(FacevoiceError):
    """An invalid value in params.yaml; the message names the key."""


class SourceError(FacevoiceError):
    """A missing or unreadable source path (corpus root, archive, metadata file)."""


class InputError(FacevoiceError):
    """One input file (audio clip, photo) that cannot be used; ``path`` and ``reason`` say why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
