"""The typed record: the JSON on disk, read and written back byte for byte; bad files named; migrations; and the
config hashes that name every committed record's folder, pinned."""

import dataclasses
import json
import os
from pathlib import Path

import pytest
from helpers import RECORD_TEMPLATE, make_record

from benchmark.harness import record as record_module
from benchmark.harness.record import Record, RecordError, dumps, write_atomic
from benchmark.harness.store import record_path, write_record

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_every_committed_record_round_trips_byte_for_byte():
    paths = sorted(RESULTS.rglob("fold=*.json"))
    assert len(paths) > 400
    for path in paths:
        assert dumps(Record.load(path).to_json()) == path.read_text(), path


def test_absent_optional_keys_stay_absent_and_unknown_keys_are_kept():
    data = json.loads(dumps(RECORD_TEMPLATE))
    del data["purpose"]  # records made before tuning existed
    data["provenance"]["added_by_a_newer_minor_version"] = [1, 2]
    rec = Record.from_json(data)
    assert rec.purpose == "run" and rec.is_run and "purpose" in rec.absent
    assert rec.provenance.unknown == {"added_by_a_newer_minor_version": [1, 2]}
    assert rec.to_json() == data
    # an optional key set after reading is written
    assert "resumed_from_update" not in rec.to_json()["provenance"]
    resumed = dataclasses.replace(rec.provenance, resumed_from_update=700,
                                  absent=rec.provenance.absent - {"resumed_from_update"})
    assert dataclasses.replace(rec, provenance=resumed).to_json()["provenance"]["resumed_from_update"] == 700


def test_readers_use_attributes():
    rec = make_record({"model": {"name": "lstm", "overrides": {"hidden": 8}, "tuned": {"params": {}}},
                       "selection": {"leaky": True, "convergence": "still-improving"},
                       "provenance": {"git_dirty": True}})
    assert rec.label == "lstm [hidden=8] (tuned) ⚠ LEAKY: epoch chosen on test"
    assert rec.still_improving and rec.dirty and rec.completed and rec.task.fold == 0


def test_round_trip_and_path_scheme(tmp_path):
    path = record_path(tmp_path, "synth-affect", "lstm", "hidden=8", "a" * 64, 3, 1)
    assert path.relative_to(tmp_path).as_posix() == "synth-affect/lstm__hidden=8/aaaaaaaaaaaa/seed=3/fold=1.json"
    rec = make_record({"seed": 3, "diagnostics": {"x": [1.5]}})
    write_record(path, rec)
    assert Record.load(path) == rec and Record.load(path).diagnostics["x"] == [1.5]
    assert os.listdir(path.parent) == ["fold=1.json"]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_record(tmp_path):
    path = tmp_path / "r" / "fold=0.json"
    whole = make_record({})
    write_record(path, whole)
    with pytest.raises(ValueError):  # NaN is refused before anything replaces the old file
        write_record(path, dataclasses.replace(whole, main_score=float("nan")))
    assert Record.load(path).main_score == whole.main_score
    assert os.listdir(path.parent) == ["fold=0.json"]


def test_a_write_cut_off_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = write_atomic(tmp_path / "t" / "table.md", "old\n")

    def crash(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(record_module.os, "fsync", crash)
    with pytest.raises(OSError):
        write_atomic(path, "new, half written\n")
    assert path.read_text() == "old\n"
    assert os.listdir(path.parent) == ["table.md"]


def test_unknown_schema_and_garbage_are_named(tmp_path):
    p = tmp_path / "fold=0.json"
    p.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(RecordError, match="schema_version 99"):
        Record.load(p)
    p.write_text("{half")
    with pytest.raises(RecordError, match="fold=0.json: not a readable record"):
        Record.load(p)
    data = json.loads(dumps(RECORD_TEMPLATE))
    del data["model"]
    data["seed"] = "zero"
    data["task"]["fold"] = None
    p.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"fold=0.json: not a whole record \(missing or malformed: "
                                          r"task.fold: expected int, got NoneType; model missing; "
                                          r"seed: expected int, got str\)"):
        Record.load(p)


def test_an_older_schema_version_is_migrated_when_read(monkeypatch):
    monkeypatch.setattr(record_module, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(record_module.MIGRATIONS, 1, lambda d: {**d, "schema_version": 2, "purpose": "run"})
    old = json.loads(dumps(RECORD_TEMPLATE))
    del old["purpose"]
    rec = Record.from_json(old)
    assert rec.schema_version == 2 and "purpose" not in rec.absent


def test_each_tasks_config_hash_is_pinned():
    """A record's folder and its resume are named by the hash of its config, which holds the task's protocol
    as its adapter states it, prose included. Rewording a protocol, adding a task option or changing a
    default moves every record of the task (and resume retrains them): this test says so before it lands.
    If the change is meant, bump the task's version and pin the new hashes."""
    from benchmark.harness import config as cfg
    from benchmark.harness.builtins import TASKS
    from benchmark.harness.registry import model_class, task_class

    pinned = {  # the reference row `mean` at the task's defaults; synth-affect's and synth-summary's are the
        # folders of the committed records (results/<task>/mean/<hash>)
        "synth-affect": "180ff2dc25aa", "synth-summary": "8c8ce9b52e23", "liris-accede": "2c33fff28204",
        "mediaeval18": "420361a519bf", "pmemo": "251c87b99844", "tvsum": "26fec6ebf700", "summe": "3cc19b66b387",
        "tvsum-clips": "e098dbf0fa2a", "generic": "d0067b9bb320",
    }
    mean = model_class("mean")
    got = {}
    for name in TASKS:
        cls = task_class(name)
        resolved = cfg.resolve([], cls.Options, mean.Options, cls.default_budget, model_name="mean", task_name=name)
        config = cfg.config_dict(cls.metadata, cls(resolved.task_options, None).protocol(), resolved, "mean")
        config["train"] = None  # as a reference row's record holds it
        got[name] = cfg.config_hash(config)[:12]
    assert got == pinned
