"""The labels and combinators of scripts/verdicts: each shows a case it rejects."""
import pytest

from tests.scripts import import_script

v = import_script("verdicts")


def test_label_is_the_longest_prefix_and_refuses_unknown_words():
    assert v.label("partly reproduced; depends on the seed") == "partly reproduced"
    assert v.label("held at the blog's scale only") == "held"
    with pytest.raises(ValueError, match="verdict must start with"):
        v.label("confirmed")


def test_from_rule_keeps_reproduced_for_results_the_blog_reports():
    assert v.from_rule(True, blog_reports_figure=True) == "reproduced"
    assert v.from_rule(True, blog_reports_figure=False) == "held"
    assert v.from_rule(False, blog_reports_figure=False, part=True) == "partly held"
    assert v.from_rule(False, blog_reports_figure=True) == "not reproduced"


def test_graded():
    assert v.graded([True] * 3, [True] * 3, True) == "reproduced"
    assert v.graded([True, False, False], [True] * 3, False) == "partly held; depends on the seed"
    assert v.graded([False] * 3, [True] * 3, True) == "partly reproduced"
    assert v.graded([False] * 3, [True, False, False], True) == "partly reproduced; depends on the seed"
    assert v.graded([False] * 3, [False] * 3, False) == "did not hold"
    with pytest.raises(ValueError, match="strict and loose"):
        v.graded([True], [True, True], True)


def test_combined():
    assert v.combined({"book": "held", "blog": "held"}) == "held"
    assert v.combined({"book": "partly held", "blog": "held"}) == "held at the blog's scale only"
    assert v.combined({"book": "held", "blog": "partly held"}) == "partly held (book size: held)"


def test_over_sizes():
    assert v.over_sizes({"book": [True, True], "blog": [True]}, True) == "reproduced"
    assert v.over_sizes({"book": [False], "blog": [True]}, False) == "held at the blog's scale only"
    assert v.over_sizes({"book": [True], "blog": [False]}, True) == (
        "not reproduced at the blog's scale (reproduced at book size only)")
    assert v.over_sizes({"book": [True, False], "blog": [False]}, False) == (
        "partly held; depends on the seed")
    assert v.over_sizes({"book": [False], "blog": [False]}, False) == "did not hold"
    with pytest.raises(ValueError, match="both sizes"):
        v.over_sizes({"book": [], "blog": [True]}, True)


def test_every_combinator_output_carries_a_label():
    outs = [v.graded(s, l, f) for s in ([True], [False]) for l in ([True], [False]) for f in (True, False)]
    outs += [v.over_sizes({"book": [a], "blog": [b]}, f) for a in (True, False) for b in (True, False)
             for f in (True, False)]
    for out in outs:
        assert v.label(out) in v.LABELS
