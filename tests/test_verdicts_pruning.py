"""The rules of targets 7-9 (scripts/verdicts/pruning.py): a case each accepts and one it rejects."""
from tests.scripts import import_script

pr = import_script("verdicts.pruning")


def test_demo_shape():
    assert pr.demo_shape(0.98, 0.67, 0.91, True)
    assert not pr.demo_shape(0.98, 0.85, 0.95, True)     # no collapse
    assert not pr.demo_shape(0.98, 0.67, 0.75, True)     # recovers less than half
    assert not pr.demo_shape(0.98, 0.67, 0.91, False)    # zeros filled in


def test_demo_numbers_close():
    assert pr.demo_numbers_close({"trained": 0.98, "pruned": 0.68, "retrained": 0.92})[1]
    worst, close = pr.demo_numbers_close({"trained": 0.9839, "pruned": 0.7779, "retrained": 0.9665})
    assert not close and abs(worst - 0.1083) < 1e-9


def test_largest_harmless():
    curve = {0.0: 0.980, 0.5: 0.978, 0.9: 0.976, 0.3: 0.979, 0.95: 0.96}   # unsorted on purpose
    assert pr.largest_harmless(curve, 0.980) == 0.9
    assert pr.largest_harmless({0.3: 0.90, 0.5: 0.98}, 0.98) == 0.0      # stops at the first loss
    assert pr.largest_harmless(curve, 0.980, tolerance=0.003) == 0.5


def test_ninety_harmless():
    assert pr.ninety_harmless({"maav": [0.9, 0.95, 0.9], "magnitude": [0.5, 0.6, 0.5]})
    assert not pr.ninety_harmless({"maav": [0.9, 0.8, 0.9], "magnitude": [0.5, 0.95, 0.9]})


def test_identity_holds():
    assert pr.identity_holds([4e-8, 5e-8], [True, True])
    assert not pr.identity_holds([4e-8, 2e-6], [True, True])
    assert not pr.identity_holds([4e-8, 5e-8], [True, False])


def test_verdict_7_words_the_shape_and_the_numbers():
    book = {"steps": 4000, "trained": 0.97, "pruned": 0.55, "retrained": 0.93, "sparsity_kept": True}
    blog = {"steps": 100_000, "trained": 0.9839, "pruned": 0.7779, "retrained": 0.9665, "sparsity_kept": True}
    assert pr.verdict_7([book, blog]) == "reproduced in shape; the numbers differ from the demo's"
    assert pr.verdict_7([book]).endswith("the demo-length run is still to do")
    assert pr.verdict_7([{**book, "pruned": 0.9}, {**blog, "pruned": 0.9}]) == "not reproduced"


def test_target_9_is_ours_not_the_blogs():
    models = [{"max_relative_difference": [1e-8], "always_zero_inputs": [{"their_maav_is_zero": True}]}]
    assert pr.verdict_9(models) == "held"
