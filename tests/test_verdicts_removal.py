"""The rules of targets 10 and 16-19 (scripts/verdicts/removal.py): a case each accepts and one
it rejects."""
from tests.scripts import import_script

rm = import_script("verdicts.removal")


def test_different_rates():
    assert rm.different_rates([0.9, 0.6, 1.0])
    assert not rm.different_rates([0.9, 0.88, 1.0])    # the second layer not 5 points below
    assert not rm.different_rates([0.9, 0.8, 0.85])    # spread of 10 points only


def test_triangle_and_first_going_early():
    assert rm.triangle([0.9, 0.7, 0.4])
    assert not rm.triangle([0.9, 0.88, 0.4])
    assert rm.first_going_early(0.8)
    assert not rm.first_going_early(0.99) and not rm.first_going_early(None)


def test_rates_differ():
    assert rm.rates_differ([0.9, 0.5, 0.6, 0.7, 0.8, 0.4])
    assert not rm.rates_differ([0.6, 0.5, 0.6, 0.55, 0.6, 0.5])


def test_never_shrink_and_only_maav_shrinks():
    widths = [784, 1000, 800, 400, 10]
    entry = {"widths": widths, "criteria": {
        "maav": {"amount": [0.5, 0.9], "widths": [widths, [784, 700, 500, 400, 10]]},
        "magnitude": {"amount": [0.5, 0.9, 0.99], "widths": [widths, widths, [784, 10, 10, 400, 10]]},
        "random": {"amount": [0.5, 0.9], "widths": [widths, widths]}}}
    crit = ["maav", "magnitude", "random"]
    assert rm.never_shrink(entry, crit) == ["magnitude", "random"]   # 99% is beyond 95%
    assert rm.maav_widths_at(entry) == [784, 700, 500, 400, 10]
    assert rm.only_maav_shrinks(["magnitude", "random"], ["random", "magnitude"], widths,
                                [784, 700, 500, 400, 10])
    assert not rm.only_maav_shrinks(["random"], ["random", "magnitude"], widths, [784, 700, 500, 400, 10])
    assert not rm.only_maav_shrinks(["magnitude", "random"], ["random", "magnitude"], widths,
                                    [784, 900, 500, 400, 10])      # layer 1 kept 90%


def test_timing_claims():
    sp = [0.5, 0.9, 0.99]
    fast = {"masked": [1.0, 1.0, 1.0], "shrunk": [1.1, 2.0, 5.0], "csr": [0.3, 1.0, 3.0]}
    claims = rm.timing_claims(fast, sp)
    assert all(claims.values()) and rm.timing_core(claims)
    slow = rm.timing_claims({**fast, "shrunk": [1.0, 1.2, 2.0]}, sp)    # 1.2 is inside the margin
    assert not slow["the shrunk model is faster at 90%"] and not rm.timing_core(slow)


def test_merged_and_split_sizes():
    book = {"runs": [{"steps": 5000, "seed": 0}], "sizes": {"book": 5000}, "at": 0.15}
    blog = {"runs": [{"steps": 20_000, "seed": 0}], "sizes": {"blog": 20_000}}
    both = rm.merged(book, blog)
    assert set(rm.split_sizes(both)) == {"book", "blog"} and len(book["runs"]) == 1
    assert rm.merged(book, None) is book
