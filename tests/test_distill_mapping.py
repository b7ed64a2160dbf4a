"""Layer mapping strategies g(m) and their errors."""

import pytest

from distill.mapping import layer_mapping, parse_mapping


def test_paper_strategies_for_bert_base_to_tinybert4():
    assert layer_mapping("uniform", 4, 12) == [0, 3, 6, 9, 12]
    assert layer_mapping("top", 4, 12) == [0, 9, 10, 11, 12]
    assert layer_mapping("bottom", 4, 12) == [0, 1, 2, 3, 4]


def test_explicit_mapping_gets_embedding_entry():
    assert layer_mapping([2, 5, 8, 12], 4, 12) == [0, 2, 5, 8, 12]
    assert layer_mapping(parse_mapping("2,4,6"), 3, 6) == [0, 2, 4, 6]


@pytest.mark.parametrize(
    ("strategy", "student", "teacher", "message"),
    [
        ([3, 6, 9], 4, 12, "has 3 entries"),
        ([0, 3, 6, 9], 4, 12, "1..12"),
        ([3, 6, 9, 13], 4, 12, "1..12"),
        ([3, 9, 6, 12], 4, 12, "strictly increasing"),
        ("uniform", 4, 6, "multiple"),
        ("uniform", 8, 6, "only 6"),
        ("middle", 4, 12, "unknown mapping"),
    ],
)
def test_bad_mappings_raise(strategy, student, teacher, message):
    with pytest.raises(ValueError, match=message):
        layer_mapping(strategy, student, teacher)


def test_parse_mapping_rejects_garbage():
    assert parse_mapping("top") == "top"
    with pytest.raises(ValueError, match="neither"):
        parse_mapping("3,six")
