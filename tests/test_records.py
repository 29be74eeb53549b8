import json
import os

import pytest

from benchmark.records import RecordError, load_record, record_path, write_record


def test_round_trip_and_path_scheme(tmp_path):
    path = record_path(tmp_path, "synth-affect", "lstm", "hidden=8", "a" * 64, 3, 1)
    assert path.relative_to(tmp_path).as_posix() == "synth-affect/lstm__hidden=8/aaaaaaaaaaaa/seed=3/fold=1.json"
    write_record(path, {"schema_version": 1, "status": "completed", "task": {}, "model": {}, "seed": 3, "x": [1.5]})
    assert load_record(path)["x"] == [1.5]
    assert os.listdir(path.parent) == ["fold=1.json"]  # no temporary file left behind


def test_a_failed_write_keeps_the_previous_record(tmp_path):
    path = tmp_path / "r" / "fold=0.json"
    whole = {"schema_version": 1, "status": "completed", "task": {}, "model": {}, "seed": 0}
    write_record(path, whole)
    with pytest.raises(ValueError):  # NaN is refused before anything replaces the old file
        write_record(path, {**whole, "score": float("nan")})
    assert load_record(path)["status"] == "completed"
    assert os.listdir(path.parent) == ["fold=0.json"]


def test_unknown_schema_and_garbage_are_named(tmp_path):
    p = tmp_path / "fold=0.json"
    p.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(RecordError, match="schema_version 99"):
        load_record(p)
    p.write_text("{half")
    with pytest.raises(RecordError, match="fold=0.json: not a readable record"):
        load_record(p)
    p.write_text(json.dumps({"schema_version": 1, "status": "completed", "task": {}, "seed": 0}))
    with pytest.raises(RecordError, match="not a whole record \\(missing or malformed: model\\)"):
        load_record(p)
