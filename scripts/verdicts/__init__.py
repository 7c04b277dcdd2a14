"""The book's verdict rules: one home for every rule that turns measurements into a verdict.

Chapters and the appendix "At the blog's scale" import these functions (with ``scripts/`` on
the path) instead of defining their own, so a rule has one threshold wherever it is used, and
each rule has a unit test in ``tests/`` that shows a case it rejects.

A verdict is a measurement: each rule's docstring names its statistic, the independent seeds
it is measured on and the threshold, fixed before the numbers. Topic modules hold the rules of
one part of the book (``lq``, ``pruning``, ``forgetting``, ``removal``).

Labels (DESIGN.md 6b): "reproduced" is kept for results the blog reports; a claim the blog only
states (or an unfinished post) that our test supports is "held"; see :data:`LABELS`.
"""

# Every verdict starts with one of these; the appendix counts them.
LABELS = {
    "reproduced": "the blog reports this result, and our measurement matches it under the rule",
    "partly reproduced": "the blog reports it; part of it holds under the rule",
    "not reproduced": "the blog reports it; our measurement does not match it",
    "held": "the blog states it but reports no figure (or the post is unfinished); our test supports it",
    "partly held": "the blog states it without a figure; part of it holds in our test",
    "did not hold": "the blog states it without a figure; our test does not support it",
    "depends on the seed": "the rule holds on some seeds and not on others",
    "differs between the sizes": "the rule holds at one model size and not at the other",
    "not tested here": "we do not measure it",
}


def label(verdict):
    """The label a verdict string starts with (the longest that matches); ValueError if none."""
    matches = [name for name in LABELS if verdict.startswith(name)]
    if not matches:
        raise ValueError(f"verdict must start with one of {sorted(LABELS)}; got {verdict!r}")
    return max(matches, key=len)


def from_rule(holds, blog_reports_figure, part=False):
    """The label for a rule's outcome: ``holds`` (bool) or ``part`` (only part of it holds), and
    whether the blog reports a figure for the claim (else our test gets the "held" labels)."""
    if blog_reports_figure:
        return "reproduced" if holds else "partly reproduced" if part else "not reproduced"
    return "held" if holds else "partly held" if part else "did not hold"
