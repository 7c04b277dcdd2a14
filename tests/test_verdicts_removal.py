"""The rules of targets 10 and 16-19 (scripts/verdicts/removal.py): a case each accepts and one
it rejects."""
import pytest

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


def test_speed_needs_every_seed_past_the_margin():
    assert rm.speed([1.3, 1.4, 1.26]) == "faster"
    assert rm.speed([1.3, 1.4, 1.2]) == "depends on the seed"      # one seed inside the margin
    assert rm.speed([1.13, 1.08, 1.2]) == "no difference"           # the old 50% model: not faster
    assert rm.speed([0.7, 0.78, 0.79]) == "slower"
    with pytest.raises(ValueError, match="speedups"):
        rm.speed([])


def _speed_results(maav_none, maav_tuned):
    """A removal-speed-shaped record: MAAV's kept speed-ups per seed, at both bands."""
    def kept(v):
        return {"shrunk": {"speedup_b1000": v, "speedup_b1": v, "flop_ratio": v},
                "csr": {"speedup_b1000": 1.0, "speedup_b1": 1.0, "flop_ratio": 1.0}}
    return {"bands": [0.005, 0.01], "runs": [
        {"criterion": "maav", "seed": s, "speedup": {"1000": {"masked": [1.0, 1.02]}},
         "kept": {
            "none": {"0.005": kept(a), "0.01": kept(a)},
            "fine-tuned": {"0.005": kept(b), "0.01": kept(b)}}}
        for s, a, b in zip((2, 1, 3), maav_none, maav_tuned)]}


def test_verdict_10_judges_only_models_a_user_would_keep():
    held = rm.verdict_10(_speed_results([1.3, 1.3, 1.4], [1.5, 1.5, 1.5]), "cpu")
    assert held.startswith("held:")
    # the broken-model case of the old rule: a 2.3x speed-up at 90% is not in any band; what
    # is kept runs 1.1x: not faster
    assert rm.verdict_10(_speed_results([1.1, 1.0, 1.13], [1.1, 1.2, 1.1]), "cpu").startswith(
        "did not hold:")
    assert rm.verdict_10(_speed_results([1.1, 1.0, 1.13], [1.3, 1.4, 1.5]), "cpu").startswith(
        "partly held:")
    assert rm.kept_speedups(_speed_results([1.1, 1.0, 1.3], [1, 1, 1])) == [1.0, 1.1, 1.3]
    one = _speed_results([1.3], [1.3])                     # fewer than three seeds: said so
    assert rm.verdict_10(one, "cpu").startswith("held on 1 seed only:")
    # the machine's recorded load is named: the largest share other processes took
    loaded = _speed_results([1.3, 1.3, 1.4], [1.5, 1.5, 1.5])
    for e, share in zip(loaded["runs"], (0.01, 0.3, None)):
        e["load"] = {"other_cpu_share": share}
    assert rm.verdict_10(loaded, "cpu").endswith("(cpu; other processes used at most 30% of it)")
    assert held.endswith("(cpu)")


def test_differs_from_controls_needs_every_seed():
    controls = {"random": [0.0, 0.0, 0.01], "magnitude": [0.0, 0.02, 0.0]}
    assert rm.differs_from_controls([0.15, 0.14, 0.16], controls) == "above"
    assert rm.differs_from_controls([0.15, 0.01, 0.16], controls) == "like the controls"
    assert rm.differs_from_controls([-0.2, -0.1, -0.3], controls) == "below"
    with pytest.raises(ValueError, match="seed"):
        rm.differs_from_controls([0.1, 0.2], controls)


def test_ahead_is_paired_and_needs_the_margin():
    assert rm.ahead([0.90, 0.91, 0.92], [0.86, 0.87, 0.88]) == "ahead"
    assert rm.ahead([0.90, 0.91, 0.92], [0.86, 0.87, 0.918]) == "no difference"
    assert rm.ahead([0.86, 0.87], [0.90, 0.91]) == "behind"
    with pytest.raises(ValueError, match="seed"):
        rm.ahead([0.9], [0.9, 0.8])


def test_null_control_refuses_a_clock_that_times_identical_work_differently():
    assert rm.null_ok([0.95, 1.03, 1.0])
    assert not rm.null_ok([0.99, 1.80])          # batch 1 on a busy machine
    assert not rm.null_ok([0.6575] * 5)           # the wall clock's constant
    with pytest.raises(ValueError, match="masked"):
        rm.null_ok([])
    bad = _speed_results([1.3, 1.3, 1.4], [1.5, 1.5, 1.5])
    bad["runs"][0]["speedup"]["1000"]["masked"] = [0.6575]
    assert rm.verdict_10(bad, "cpu").startswith("not tested here: the null control failed")
