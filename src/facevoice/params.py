"""Load params.yaml and check values, turning a bad value into a one-line error naming the key."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import ParamsError

PARAMS_FILE = Path("params.yaml")


def load(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found")
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: top level must be a mapping")
    return data


def section(name: str, path: str | Path = PARAMS_FILE) -> dict:
    """The ``name`` section (dotted names allowed: ``pretrain.mfcc_ae``)."""
    node: Any = load(path)
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamsError(f"params.yaml: missing key '{name}'")
        node = node[part]
    return node


class Checked:
    """Typed access to one params section: ``p.int('epochs', min=1)`` names ``section.epochs`` on error."""

    def __init__(self, data: dict, prefix: str):
        if not isinstance(data, dict):
            raise ParamsError(f"params.yaml: '{prefix}' must be a mapping, got {type(data).__name__}")
        self.data = data
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str, default: Any = ...):
        if key not in self.data:
            if default is ...:
                raise ParamsError(f"params.yaml: missing key '{self._key(key)}'")
            return default
        return self.data[key]

    def sub(self, key: str, default: Any = ...) -> "Checked":
        return Checked(self.get(key, default), self._key(key))

    def int(self, key: str, default: Any = ..., min: int | None = None, max: int | None = None) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be an integer, got {value!r}")
        self._range(key, value, min, max)
        return value

    def float(self, key: str, default: Any = ..., min: float | None = None, max: float | None = None) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be a number, got {value!r}")
        self._range(key, value, min, max)
        return float(value)

    def bool(self, key: str, default: Any = ...) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be true or false, got {value!r}")
        return value

    def str(self, key: str, default: Any = ...) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = ...) -> str:
        value = self.get(key, default)
        choices = list(choices)
        if value not in choices:
            raise ParamsError(
                f"params.yaml: '{self._key(key)}' must be one of {', '.join(map(str, choices))}; got {value!r}"
            )
        return value

    def list(self, key: str, default: Any = ...) -> list:
        value = self.get(key, default)
        if not isinstance(value, list):
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be a list, got {value!r}")
        return value

    def fail(self, key: str, message: str):
        """Raise the one-line error for ``key``: ``p.fail('fmax', 'must be <= 8000, got 9000')``."""
        raise ParamsError(f"params.yaml: '{self._key(key)}' {message}")

    def only(self, known: Iterable[str]) -> None:
        """Reject keys of the section outside ``known``; the error lists the known ones."""
        known = [str(k) for k in known]
        unknown = sorted(str(k) for k in set(self.data) - set(known))
        if unknown:
            raise ParamsError(f"params.yaml: unknown key(s) {', '.join(unknown)} in '{self.prefix}' "
                              f"(known: {', '.join(known)})")

    def positive(self, key: str, default: Any = ...) -> float:
        """A number > 0 (a duration, a decibel range)."""
        value = self.float(key, default)
        if value <= 0:
            self.fail(key, f"must be > 0, got {self.get(key, default)!r}")
        return value

    def optional(self, key: str, rule: str, **kw) -> Any:
        """None (YAML ``null``, also when the key is absent) or a value ``rule`` accepts:
        ``p.optional('trim_db', 'positive')``."""
        if self.get(key, None) is None:
            return None
        return getattr(self, rule)(key, **kw)

    def ints(self, key: str, default: Any = ..., length: int | None = None, min: int | None = None) -> list:
        """A list of integers (``length`` of them, each >= ``min``): ``p.ints('size', length=2, min=1)``."""
        value = self.get(key, default)
        good = isinstance(value, list) and (length is None or len(value) == length) and all(
            isinstance(v, int) and not isinstance(v, bool) and (min is None or v >= min) for v in value)
        if not good:
            what = f"{length} integers" if length is not None else "integers"
            self.fail(key, f"must be a list of {what}{f' >= {min}' if min is not None else ''}, got {value!r}")
        return value

    def subset(self, key: str, choices: Iterable[str], default: Any = ...) -> list:
        """A non-empty list of distinct values from ``choices``: ``p.subset('stats', ['mean', 'std'])``."""
        value = self.get(key, default)
        choices = [str(c) for c in choices]
        good = (isinstance(value, list) and value and all(isinstance(v, str) and v in choices for v in value)
                and len(set(value)) == len(value))
        if not good:
            self.fail(key, f"must be a non-empty list of distinct values from {', '.join(choices)}; got {value!r}")
        return value

    def _range(self, key, value, lo, hi):
        if lo is not None and value < lo:
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be >= {lo}, got {value!r}")
        if hi is not None and value > hi:
            raise ParamsError(f"params.yaml: '{self._key(key)}' must be <= {hi}, got {value!r}")


def checked(name: str, path: str | Path = PARAMS_FILE) -> Checked:
    return Checked(section(name, path), name)
