"""What every stage script shares: quiet TensorFlow logs, and one-line errors instead of tracebacks."""
from __future__ import annotations

import os
import sys
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(func: Callable[[], object]) -> None:
    """Run a stage body; a ``FacevoiceError`` (bad params value, missing source) exits 2 with one line."""
    from .errors import FacevoiceError

    try:
        func()
    except FacevoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
