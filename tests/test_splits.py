import pytest

from benchmark.api import TaskDataError
from tasks.splits import folds_from_json, folds_sha256, make_folds

IDS = [f"s{i}" for i in range(23)]


def test_k_folds_are_disjoint_and_test_each_id_once():
    folds = make_folds(IDS, 5, 0.2, seed=3)
    tested = [i for f in folds for i in f.test]
    assert sorted(tested) == sorted(IDS)
    for f in folds:
        assert set(f.train) | set(f.val) | set(f.test) == set(IDS)
        assert not set(f.train) & set(f.val) and not set(f.train) & set(f.test) and not set(f.val) & set(f.test)
        assert len(f.val) >= 1


def test_folds_are_deterministic_and_seeded():
    assert folds_sha256(make_folds(IDS, 5, 0.2, 1)) == folds_sha256(make_folds(list(reversed(IDS)), 5, 0.2, 1))
    assert folds_sha256(make_folds(IDS, 5, 0.2, 1)) != folds_sha256(make_folds(IDS, 5, 0.2, 2))


def test_holdout_split():
    (fold,) = make_folds(IDS, 1, 0.25, 0)
    assert len(fold.test) == 5 and len(fold.train) + len(fold.val) == 18


def test_too_few_sequences():
    with pytest.raises(ValueError, match="cannot make 5 fold"):
        make_folds(IDS[:4], 5, 0.2, 0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"folds": []}, "non-empty list 'folds'"),
        ({"folds": [{"train": ["s1"], "val": ["s2"]}]}, "no 'test' list"),
        ({"folds": [{"train": ["s1"], "val": ["s2"], "test": ["nope"]}]}, "unknown sequence"),
        ({"folds": [{"train": ["s1", "s2"], "val": ["s3"], "test": ["s2"]}]}, "train and test overlap"),
        ({"folds": [{"train": ["s1"], "val": ["s3"], "test": ["s3"]}]}, "val and test overlap"),
    ],
)
def test_bad_split_specs(spec, message):
    with pytest.raises(TaskDataError, match=message):
        folds_from_json(spec, IDS, "my.h5")
