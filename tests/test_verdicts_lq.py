"""The rules of targets 1-6 (scripts/verdicts/lq.py): a case each accepts and one it rejects."""
import pytest

from tests.scripts import import_script

lq = import_script("verdicts.lq")
label = import_script("verdicts").label


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


# target 4 with its uncertainty: lq_vs_sce


def test_lq_vs_sce_reproduced_when_every_seed_and_the_interval_agree():
    v = lq.lq_vs_sce([0.3, 0.2, 0.4, 0.25, 0.35], (0.2, 0.4), (0.15, 0.45))
    assert label(v) == "reproduced"
    assert "LQ ahead in 5 of 5 runs, by +0.20 to +0.40 points" in v and "+0.15 to +0.45" in v
    assert "the blog: about 0.5" in v


def test_lq_vs_sce_rejects_an_interval_that_includes_zero():
    # ahead on every seed, and a t interval over seeds above 0, but the test-set bootstrap
    # reaches below 0: the rule takes the span of both, so no difference is shown
    v = lq.lq_vs_sce([0.1, 0.2, 0.15, 0.1, 0.12], (0.07, 0.2), (-0.02, 0.3))
    assert label(v) == "not reproduced" and "includes 0" in v


def test_lq_vs_sce_partly_when_small_or_not_on_every_seed():
    small = lq.lq_vs_sce([0.1, 0.12, 0.08, 0.1, 0.11], (0.08, 0.12), (0.05, 0.15))
    assert label(small) == "partly reproduced" and "below half the blog's" in small
    mixed = lq.lq_vs_sce([0.4, 0.5, -0.05, 0.45, 0.4], (0.1, 0.6), (0.2, 0.5))
    assert label(mixed) == "partly reproduced" and "not on every seed" in mixed
    behind = lq.lq_vs_sce([-0.2, -0.3, -0.25], (-0.4, -0.1), (-0.35, -0.15))
    assert label(behind) == "not reproduced" and "SCE is ahead" in behind


def test_lq_vs_sce_refuses_bad_input():
    with pytest.raises(ValueError, match="differences"):
        lq.lq_vs_sce([0.3, 0.2], (0.1, 0.4), (0.1, 0.4))          # two seeds: no t interval
    with pytest.raises(ValueError, match="seed_interval"):
        lq.lq_vs_sce([0.3, 0.2, 0.4], (0.4, 0.1), (0.1, 0.4))
    with pytest.raises(ValueError, match="differences"):
        lq.lq_vs_sce([0.3, float("nan"), 0.4], (0.1, 0.4), (0.1, 0.4))


def comparison(diffs, seed_interval, image_interval):
    return {"per_seed": [{"difference": d} for d in diffs],
            "across_seeds": {"seed_interval": seed_interval, "image_interval": image_interval}}


def test_verdict_4_agrees_only_where_every_comparison_does():
    strong = comparison([0.3, 0.2, 0.4, 0.25, 0.35], [0.2, 0.4], [0.15, 0.45])
    seeds = {"steps": 5000, "blog_recipe": strong, "tuned": {"lr": 3e-4, **strong}}
    v = lq.verdict_4(seeds)
    assert label(v) == "reproduced" and "with SCE at its own learning rate (3e-04)" in v
    assert "Fashion-MNIST not tested" in v and "the blog: about 0.5" in v
    # SCE at its own learning rate closes the gap: only partly
    level = comparison([0.05, -0.1, 0.1, 0.0, -0.05], [-0.1, 0.1], [-0.12, 0.12])
    assert label(lq.verdict_4({**seeds, "tuned": {"lr": 3e-4, **level}})) == "partly reproduced"
    both_level = {"steps": 5000, "blog_recipe": level, "tuned": {"lr": 1e-4, **level}}
    assert label(lq.verdict_4(both_level)) == "not reproduced"
    # the blog-length comparison counts once it is measured
    blog = {"steps": 20000, "blog_recipe": level}
    v = lq.verdict_4(seeds, blog)
    assert label(v) == "partly reproduced" and "at 20,000 steps: LQ ahead in 2 of 5 runs" in v


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
