"""The rules of targets 1-6 (scripts/verdicts/lq.py): a case each accepts and one it rejects."""
from tests.scripts import import_script

lq = import_script("verdicts.lq")


def test_accuracy_near_blog():
    assert lq.accuracy_near_blog([0.9840, 0.9850, 0.9845])
    assert not lq.accuracy_near_blog([0.9820, 0.9825, 0.9826])   # mean 0.24 points short


def test_outputs_near_one_hot():
    good = {"near_0_or_1": 0.93, "true_median": 0.99}
    assert lq.outputs_near_one_hot([good, good])
    assert not lq.outputs_near_one_hot([good, {"near_0_or_1": 0.75, "true_median": 0.99}])
    assert not lq.outputs_near_one_hot([good, {"near_0_or_1": 0.93, "true_median": 0.94}])


def test_removal_exact():
    s = {"max_abs_diff_removed": 1e-6, "max_abs_diff_csr": 2e-6, "output_scale": 1.0,
         "accuracy": [0.98, 0.98, 0.98]}
    assert lq.removal_exact(s)
    assert not lq.removal_exact({**s, "max_abs_diff_csr": 1e-4})
    assert not lq.removal_exact({**s, "accuracy": [0.98, 0.98, 0.9799]})


def test_lq_ahead():
    assert lq.lq_ahead([0.24, 0.34, 0.28])
    assert not lq.lq_ahead([0.5, 0.5, -0.01])     # SCE ahead on one seed
    assert not lq.lq_ahead([0.1, 0.2, 0.3])       # ahead, but by 0.2 on average
    assert not lq.lq_ahead([])


def test_logits_wide():
    assert lq.logits_wide([-10, 20], [-0.1, 1.1])
    assert not lq.logits_wide([-4, 12], [-0.1, 1.1])      # 16 units: narrower than the blog's
    assert not lq.logits_wide([-10, 20], [-3, 4])         # not 5 times the LQ band


def test_trick_parts():
    fooled = {("noise", "lq"): 0.1, ("noise", "sce"): 0.2,
              ("FGSM, loss", "lq"): 0.1, ("FGSM, loss", "sce"): 0.6}
    parts = lq.trick_parts(fooled, {"lq": 0.95, "sce": 0.5})
    assert parts == {"noise": False, "own loss": True, "detect": True}
    assert lq.trick_parts({**fooled, ("noise", "sce"): 0.3}, {"lq": 0.8, "sce": 0.5}) == {
        "noise": True, "own loss": True, "detect": False}


def test_labels_follow_what_the_blog_reports():
    assert lq.BLOG_FIGURE[1] and lq.BLOG_FIGURE[4] and not lq.BLOG_FIGURE[3] and not lq.BLOG_FIGURE[6]
