"""Params profiles: a YAML file in ``profiles/`` whose keys replace the same keys of params.yaml (mappings merged
key by key, anything else replaced), written back with its comments kept.

    python -m facevoice.profile real_photos            # profiles/real_photos.yaml onto params.yaml
    python -m facevoice.profile real_photos --dry-run  # print the keys it would change

A section or model entry the profile names must already exist (a typo is a one-line error, not a new model);
keys below them (``fit.monitor``, ``args.augment``) may be new.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .errors import ParamsError

PROFILES = Path("profiles")


def read(name: str, root: Path = PROFILES) -> dict:
    """The profile ``name`` (a file name in ``root`` without .yaml, or a path)."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else root / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in root.glob("*.yaml"))) or "none"
        raise ParamsError(f"{path}: profile not found (profiles: {known})")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: top level must be a mapping")
    return data


def merge(params: dict, profile: dict, path: str = "", depth: int = 0) -> list[str]:
    """Merge ``profile`` into ``params`` (plain dicts, or ruamel's round-trip data) in place; the dotted keys whose
    values changed."""
    changed = []
    for key, value in profile.items():
        name = f"{path}{key}"
        if key not in params and depth < 2:
            raise ParamsError(f"profile: '{name}' is not in params.yaml (a section or model entry must exist)")
        old = params.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            changed += merge(old, value, f"{name}.", depth + 1)
        elif old != value:
            params[key] = _styled(value, old) if type(params).__module__.startswith("ruamel") else value
            changed.append(name)
    return changed


def _styled(value, old):
    """``value`` as ruamel data, in flow style ({a: 1}) where the value it replaces was written that way."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        out = CommentedMap((k, _styled(v, None)) for k, v in value.items())
    elif isinstance(value, list):
        out = CommentedSeq(_styled(v, None) for v in value)
    else:
        return value
    if not hasattr(old, "fa") or old.fa.flow_style():  # a new key, or one written {a: 1}
        out.fa.set_flow_style()
    return out


def apply(name: str, params_file: Path = Path("params.yaml"), dry_run: bool = False) -> list[str]:
    """Write profile ``name`` onto ``params_file`` (comments kept); the changed keys."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.width = 4096  # no re-wrapping of the flow mappings it writes back
    rt.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    data = rt.load(params_file.read_text())
    changed = merge(data, read(name))
    if not dry_run and changed:
        with open(params_file, "w") as fh:
            rt.dump(data, fh)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", help="a name in profiles/ (real_photos) or a YAML file")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    try:
        changed = apply(args.profile, args.params, args.dry_run)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "would change" if args.dry_run else "changed"
    print(f"{args.params}: {verb} {len(changed)} key(s)" + "".join(f"\n  {k}" for k in changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
