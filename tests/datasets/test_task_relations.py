import numpy as np
import pytest

from keras_mtl.datasets import RetrievalDataset, TaskRelations


def test_from_pairs_builds_a_symmetric_table():
    r = TaskRelations.from_pairs(("a", "b", "c", "d"), related=[("b", "a")],
                                 conflicting=[("c", "d")], notes={"a/b": "drawn together"})
    assert r.kinds[0] == ("", "related", "independent", "independent")
    assert r.kind("d", "c") == "conflicting" and r.kind("a", "d") == "independent"
    assert r.pairs("related") == [("a", "b")]
    assert r.pairs("independent") == [("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")]
    np.testing.assert_array_equal(r.mask("related"), [[0, 1, 0, 0], [1, 0, 0, 0],
                                                     [0, 0, 0, 0], [0, 0, 0, 0]])
    d = r.to_dict()
    assert d["pairs"]["conflicting"] == [["c", "d"]] and d["notes"] == {"a/b": "drawn together"}
    assert d["kinds"][1][0] == "related"


@pytest.mark.parametrize("kinds, match", [
    ((("", "related"), ("independent", "")), "symmetric"),
    ((("related", "related"), ("related", "")), "diagonal"),
    ((("", "friends"), ("friends", "")), "symmetric kinds in"),
    ((("",),), "2 x 2"),
])
def test_invalid_tables_raise(kinds, match):
    with pytest.raises(ValueError, match=match):
        TaskRelations(("a", "b"), kinds)


def test_unknown_names_and_kinds_raise():
    with pytest.raises(ValueError, match="two different names"):
        TaskRelations.from_pairs(("a", "b"), related=[("a", "z")])
    with pytest.raises(ValueError, match="kind"):
        TaskRelations.from_pairs(("a", "b")).pairs("unrelated")


def test_dataset_checks_the_relations_task_names():
    common = dict(name="toy", images=np.zeros((2, 4, 4, 3), np.uint8),
                  labels=np.zeros((2, 2), np.int32), label_names=(("x",), ("y",)),
                  triplets={}, splits={})
    ok = RetrievalDataset(task_names=("a", "b"), relations=TaskRelations.from_pairs(("a", "b")),
                          **common)
    assert ok.relations.pairs("independent") == [("a", "b")]
    assert RetrievalDataset(task_names=("a", "b"), **common).relations is None
    with pytest.raises(ValueError, match="relations"):
        RetrievalDataset(task_names=("a", "b"), relations=TaskRelations.from_pairs(("b", "a")),
                         **common)
