"""Across machines a run keeps every metric inside its committed 95% interval.

On one machine a run writes the same bytes (tests/test_determinism.py). On another CPU the convolutional and
recurrent models sum in another order and their numbers move (docs/DEVELOPING.md, "CPU pins"); what holds there is
that each number stays inside the 95% bootstrap interval committed for it. When a run has rewritten the
workspace's ``metrics/`` (``make repro`` on this machine), every metric that has a committed interval must lie in
it: ``<key>_ci_low``/``<key>_ci_high`` in a metrics file, or ``<key>_ci: [low, high]`` in its details file
(``metrics/details/<name>.json``, nested blocks such as a verifier's ``face_only`` included). A metrics file equal
to the committed one skips with a reason: there is nothing new to judge."""
from __future__ import annotations

import json
import math
import subprocess

import pytest
from helpers import ROOT

TOL = 1e-9  # JSON round trips only; an interval's own bound is inside it


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def committed_names() -> list[str]:
    try:
        files = git("ls-tree", "-r", "--name-only", "HEAD", "metrics/").split()
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(f[len("metrics/"):-len(".json")] for f in files if f.count("/") == 1 and f.endswith(".json"))


def committed_text(rel: str) -> str | None:
    try:
        return git("show", f"HEAD:{rel}")
    except subprocess.CalledProcessError:
        return None


def workspace_text(rel: str) -> str | None:
    path = ROOT / rel
    return path.read_text() if path.exists() else None


def flatten(obj, prefix: str = "") -> dict:
    """{"a.b.c": value} for every leaf of nested dicts (lists are leaves: an interval is one)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def intervals(flat: dict) -> dict[str, tuple[float, float]]:
    """{metric key: (low, high)} from both spellings of a 95% interval."""
    out = {}
    for k, v in flat.items():
        if k.endswith("_ci") and isinstance(v, list) and len(v) == 2 and all(number(x) for x in v):
            out[k[:-3]] = (float(v[0]), float(v[1]))
        elif k.endswith("_ci_low") and number(v) and number(flat.get(k[:-4] + "_high")):
            out[k[:-7]] = (float(v), float(flat[k[:-4] + "_high"]))
    return out


def merged(texts: list[str | None]) -> dict:
    """One flat dict from a metrics file and its details file (the details win: they hold everything)."""
    flat = {}
    for text in texts:
        if text:
            flat.update(flatten(json.loads(text)))
    return flat


@pytest.mark.parametrize("name", committed_names() or ["(none)"])
def test_a_rerun_metric_lies_inside_its_committed_interval(name):
    if name == "(none)":
        pytest.skip("no committed metrics/ at HEAD (not a git checkout, or nothing committed yet)")
    rels = [f"metrics/{name}.json", f"metrics/details/{name}.json"]
    before = [committed_text(r) for r in rels]
    now = [workspace_text(r) for r in rels]
    if now[0] is None:
        pytest.skip(f"metrics/{name}.json: not in the workspace (no run has produced it here)")
    if now == before or merged(now) == merged(before):
        pytest.skip(f"metrics/{name}.json: equal to the committed one (no new run to judge)")
    bounds = intervals(merged(before))
    if not bounds:
        pytest.skip(f"metrics/{name}.json: the committed file holds no interval")
    current, committed_flat = merged(now), merged(before)
    compared, outside = 0, []
    for key, (low, high) in sorted(bounds.items()):
        v = current.get(key)
        if not number(v) or not number(committed := committed_flat.get(key)):
            continue  # no value here (a skipped model, a block another format keeps elsewhere)
        compared += 1
        if not low - TOL <= v <= high + TOL:
            outside.append(f"{key} {v:.4f} outside the committed [{low:.4f}, {high:.4f}] (committed {committed:.4f})")
    assert compared, f"metrics/{name}.json: none of the committed intervals' metrics {sorted(bounds)} is in the run's files"
    assert not outside, f"metrics/{name}.json (and details): " + "; ".join(outside)


def test_both_spellings_of_an_interval_are_read_nested_blocks_included():
    flat = merged([json.dumps({"accuracy": 0.8, "accuracy_ci_low": 0.7, "accuracy_ci_high": 0.9, "eer": 0.1}),
                   json.dumps({"face_only": {"eer": 0.2, "eer_ci": [0.1, 0.3]}, "eer_ci": [0.05, 0.15]})])
    assert intervals(flat) == {"accuracy": (0.7, 0.9), "face_only.eer": (0.1, 0.3), "eer": (0.05, 0.15)}
