"""The parallel scheduler behind ``make repro`` (facevoice.repro) on a fake DVC graph: which stages are stale,
the order they start in, that none starts before what it reads, and that a failure stops the rest. The real
run (``--jobs 2`` on the tiny profile, then a ``dvc repro`` that does nothing) is in test_pipeline_dvc.py."""
import threading
import time
from types import SimpleNamespace

import networkx as nx
import pytest

from facevoice import repro

# stage -> the stages whose outputs it reads
READS = {"prepare": [], "features@mfcc": ["prepare"], "faces": ["prepare"], "train@a": ["features@mfcc"],
         "train@b": ["faces"], "fusion@ab": ["train@a", "train@b"], "report": ["fusion@ab", "train@a"]}


class Stage:
    def __init__(self, name):
        self.addressing = name


class FakeRepo:
    def __init__(self, changed):
        stages = {n: Stage(n) for n in READS}
        self.index = SimpleNamespace(graph=nx.DiGraph())
        self.index.graph.add_nodes_from(stages.values())
        self.index.graph.add_edges_from((stages[n], stages[d]) for n, deps in READS.items() for d in deps)
        self.changed = changed

    def status(self, targets=None, with_deps=False):
        return {n: ["changed deps"] for n in self.changed}


def test_stale_is_what_changed_and_everything_downstream_waiting_only_on_stale_stages():
    waits = repro.plan(FakeRepo(["faces"]))
    assert set(waits) == {"faces", "train@b", "fusion@ab", "report"}
    assert waits["faces"] == set() and waits["train@b"] == {"faces"}
    assert waits["report"] == {"faces", "train@b", "fusion@ab"}   # train@a is up to date: nothing to wait for


def test_targets_limit_the_plan_to_them_and_what_they_read():
    assert set(repro.plan(FakeRepo(["prepare"]), ["train@a"])) == {"prepare", "features@mfcc", "train@a"}
    with pytest.raises(SystemExit, match="no stage named 'train@z'"):
        repro.plan(FakeRepo([]), ["train@z"])


def test_nothing_changed_plans_nothing_and_stages_with_most_waiting_start_first():
    assert repro.plan(FakeRepo([])) == {}
    order = repro.order(repro.plan(FakeRepo(["prepare"])))
    assert order[0] == "prepare" and order.index("features@mfcc") < order.index("train@b")


def test_no_stage_starts_before_the_stages_it_reads_and_two_run_at_once(monkeypatch, tmp_path):
    started, finished, lock, most = {}, {}, threading.Lock(), [0]

    def fake_run(name, logs):
        with lock:
            started[name] = time.perf_counter()
            most[0] = max(most[0], sum(1 for n in started if n not in finished))
        time.sleep(0.05)
        with lock:
            finished[name] = time.perf_counter()
        return name, 0, 0.05, True

    monkeypatch.setattr(repro, "run_stage", fake_run)
    assert repro.schedule(repro.plan(FakeRepo(["prepare"])), 2, tmp_path) == 0
    assert set(finished) == set(READS)
    assert all(finished[d] <= started[n] for n, deps in READS.items() for d in deps)
    assert most[0] == 2


def test_a_failing_stage_stops_everything_after_it_and_prints_its_log(monkeypatch, tmp_path, capsys):
    seen = []

    def fake_run(name, logs):
        seen.append(name)
        (logs / f"{name}.log").write_text(f"ERROR: {name} broke\n")
        return name, 1 if name == "features@mfcc" else 0, 0.0, True

    monkeypatch.setattr(repro, "run_stage", fake_run)
    assert repro.schedule(repro.plan(FakeRepo(["prepare"])), 1, tmp_path) == 1
    assert "train@a" not in seen and "report" not in seen
    err = capsys.readouterr().err
    assert "ERROR: features@mfcc broke" in err and "stage features@mfcc failed" in err


def test_nothing_to_do_is_answered_from_the_stamp_until_a_tracked_file_changes(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "features").mkdir(parents=True)
    (tmp_path / "data" / "features" / "x.npy").write_bytes(b"1")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\n")
    asked = []

    def fake_stale(targets):
        asked.append(targets)
        return {}, ["data", "params.yaml"]

    monkeypatch.setattr(repro, "stale", fake_stale)
    assert repro.main([]) == 0 and len(asked) == 1          # DVC asked, everything up to date: stamp written
    assert repro.main([]) == 0 and len(asked) == 1          # answered from the stamp
    assert capsys.readouterr().out.count("up to date") == 2
    (tmp_path / "data" / "features" / "new.npy").write_bytes(b"2")   # a new file inside a tracked folder
    assert repro.main([]) == 0 and len(asked) == 2
    (tmp_path / "params.yaml").write_text("a: 22\n")                   # an edited params file
    assert repro.main([]) == 0 and len(asked) == 3
    (tmp_path / "data" / "features" / "x.npy").unlink()                # a deleted output
    assert repro.main([]) == 0 and len(asked) == 4
    assert repro.main(["train@a"]) == 0 and len(asked) == 5           # targets always ask DVC


def test_a_run_ends_with_dvc_finding_nothing_left(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    plans = iter([({"train@a": set()}, []), ({"train@a": set()}, [])])
    monkeypatch.setattr(repro, "stale", lambda targets: next(plans))
    monkeypatch.setattr(repro, "schedule", lambda waits, jobs, logs: 0)
    assert repro.main(["--jobs", "2"]) == 1
    assert "still stale after the run: train@a" in capsys.readouterr().err
    assert not repro.STAMP.exists()
    with pytest.raises(SystemExit, match="--jobs must be at least 1"):
        repro.main(["--jobs", "0"])


def test_one_job_is_one_plain_dvc_repro(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(repro.subprocess, "call", lambda cmd, env: calls.append(cmd) or 0)
    monkeypatch.setattr(repro, "schedule", lambda *a: pytest.fail("one job needs no scheduler"))
    assert repro.run_all({"train@a": set()}, 1, ["train@a"]) == 0
    assert calls[0][1:] == ["repro", "train@a"]
