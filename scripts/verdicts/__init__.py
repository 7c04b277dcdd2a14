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


# Combining per-seed and per-size outcomes into one verdict. The topic modules (lq, pruning,
# forgetting, removal) hold the rules; these only word their outcomes, the same way everywhere.

def graded(strict, loose, blog_reports_figure):
    """The verdict from per-seed outcomes of a claim with a weaker part.

    ``strict[i]`` says whether the full claim holds on seed i, ``loose[i]`` whether its weaker
    part does. The full claim on every seed gives the full label ("reproduced" or "held"); the
    weaker part on every seed the partial one ("partly ..."), with "; depends on the seed" if
    the full claim holds on some seeds; the weaker part on some seeds only, "partly ...; depends
    on the seed"; neither on any seed, the negative label.
    """
    strict, loose = [bool(s) for s in strict], [bool(s) for s in loose]
    if not strict or len(strict) != len(loose):
        raise ValueError(f"strict and loose must be non-empty and of one length; got "
                         f"{len(strict)} and {len(loose)}")
    if all(strict):
        return from_rule(True, blog_reports_figure)
    partly = from_rule(False, blog_reports_figure, part=True)
    if all(loose):
        return partly + ("; depends on the seed" if any(strict) else "")
    if any(loose):
        return partly + "; depends on the seed"
    return from_rule(False, blog_reports_figure)


def combined(by_size):
    """One verdict for both model sizes from ``{"book": verdict, "blog": verdict}``: the
    blog-sized one, and the book-sized one in brackets where it differs."""
    book, blog = by_size["book"], by_size["blog"]
    if book == blog:
        return blog
    if blog in ("reproduced", "held"):
        return f"{blog} at the blog's scale only"
    return f"{blog} (book size: {book})"


def over_sizes(flags, blog_reports_figure):
    """The verdict from per-model pass/fail flags ``{"book": [...], "blog": [...]}`` of one rule:
    every model at both sizes gives the full label; every model of one size and none of the
    other says which size; some models only, "partly ...; depends on the seed"."""
    book, blog = [bool(f) for f in flags["book"]], [bool(f) for f in flags["blog"]]
    if not book or not blog:
        raise ValueError(f"flags must hold models of both sizes; got {flags!r}")
    yes, no = from_rule(True, blog_reports_figure), from_rule(False, blog_reports_figure)
    if all(book) and all(blog):
        return yes
    if all(blog) and not any(book):
        return f"{yes} at the blog's scale only"
    if all(book) and not any(blog):
        return f"{no} at the blog's scale ({yes} at book size only)"
    if any(book) or any(blog):
        return from_rule(False, blog_reports_figure, part=True) + "; depends on the seed"
    return no
