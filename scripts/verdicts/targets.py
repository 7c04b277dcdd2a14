"""Every reproduction target's verdict, computed from the results files by the topic rules.

The appendix "At the blog's scale" and the book's first page show the same verdicts:
:func:`rows` reads ``book/results/`` and applies the rules of :mod:`verdicts.lq`,
:mod:`verdicts.pruning`, :mod:`verdicts.forgetting` and :mod:`verdicts.removal`; the appendix
asserts that its verdicts equal these, and ``scripts/intro_verdicts.py`` writes the first page's
list from them (a test fails when that list is out of date).
"""
import json
from pathlib import Path

from verdicts import LABELS, forgetting, label, lq, pruning, removal

RESULTS = Path(__file__).resolve().parents[2] / "book" / "results"

# The chapters with reproduction targets, in the book's order: notebook name -> title (the
# notebook's own heading, as the navigation shows it).
CHAPTERS = {
    "building-sparana": "Building Sparana",
    "linear-quadratic-models": "Linear Quadratic Models",
    "pruning": "Pruning",
    "mean-activated-absolute-values": "Mean Activated Absolute Values",
    "first-experiment": "Second Blog, First Experiment",
    "first-experiment-summary": "First Experiment Summary and an Imaginary Use Case",
    "targeted-outputs": "Targeted Outputs",
    "removing-activations": "Removing Activations",
    "removing-activations-part-2": "Removing Activations Part 2",
    "removing-activations-longboy": "Removing Activations Longboy",
    "removing-activations-control": "Removing Activations, Control",
}

# target -> (chapter, the claim in a few words: short enough for a phone)
TARGETS = {
    1: ("building-sparana", "The LQ model reaches about 98.5% on MNIST"),
    2: ("building-sparana", "LQ outputs sit near 1 for the true class, near 0 elsewhere"),
    3: ("building-sparana", "Removing dead neurons and CSR storage change no output"),
    4: ("linear-quadratic-models", "LQ beats softmax cross-entropy by about 0.5 points"),
    5: ("linear-quadratic-models", "Softmax logits span a wide range; LQ outputs sit at 0 or 1"),
    6: ("linear-quadratic-models", "LQ models are harder to fool, and fooled outputs show it"),
    7: ("pruning", "The 2019 demo: pruning 80% collapses the model, retraining recovers it"),
    8: ("pruning", "Over 90% of the weights can go without losing accuracy"),
    9: ("mean-activated-absolute-values", "MAAV is |w| times the mean input"),
    10: ("removing-activations", "Removing neurons makes models faster at an accuracy a user would keep"),
    11: ("first-experiment", "Pruning about 7,000 weights per middle layer forgets the 7"),
    12: ("first-experiment-summary", "Not mere output suppression; the trivial routes ruled out"),
    13: ("first-experiment", "As many random or largest-|w| weights do not forget the 7"),
    14: ("targeted-outputs", "What the outputs of the forgotten 7s do"),
    15: ("targeted-outputs", "Some classes are harder to forget than others"),
    16: ("removing-activations", "The three hidden layers lose neurons at different rates"),
    17: ("removing-activations-part-2", "Equal-width layers shrink into a triangle"),
    18: ("removing-activations-longboy", "In deeper models too, layers shrink at different rates"),
    19: ("removing-activations-control", "Only MAAV removes neurons; |w| and random do not"),
}

BLOG_FIGURE = {**lq.BLOG_FIGURE, **pruning.BLOG_FIGURE, **forgetting.BLOG_FIGURE,
               **removal.BLOG_FIGURE}


def load(name, results=RESULTS):
    """A results file of ``scripts/reproduce.py`` (the whole record), or None if not run yet."""
    path = Path(results) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _results(name, results):
    record = load(name, results)
    if record is None:
        raise FileNotFoundError(f"{Path(results) / name}.json is missing: run "
                                f"`python scripts/reproduce.py {name}`")
    return record["results"]


def _optional(name, results):
    record = load(name, results)
    return None if record is None else record["results"]


def verdicts(results=RESULTS):
    """{target: verdict} for all 19 targets, from the results files in ``results``."""
    out = {}
    out.update(lq.verdicts(_results("lq-sce-mnist", results), _results("attacks-lq-sce", results),
                           _results("lq-vs-sce-seeds", results), _optional("lq-vs-sce-20000", results)))
    demo = _optional("sgd-2019-100000", results)
    out.update(pruning.verdicts(_results("sgd-2019", results)["runs"] + (demo["runs"] if demo else []),
                                _results("prune-lq-mnist-seeds", results)["models"],
                                _results("maav-identity", results)["models"]))
    out.update(forgetting.verdicts(_results("forget-lq-mnist", results),
                                   _results("forget-classes", results)))
    timing = load("removal-speed", results)
    if timing is None:
        raise FileNotFoundError(f"{Path(results) / 'removal-speed'}.json is missing: run "
                                "`python scripts/reproduce.py removal-speed`")
    out.update(removal.verdicts(
        _results("removal-lq-mnist", results),
        removal.merged(_results("removal-1000x3", results), _optional("removal-1000x3-20000", results)),
        removal.merged(_results("removal-longboy", results), _optional("removal-longboy-20000", results)),
        _results("removal-control", results), timing["results"], timing["provenance"]["cpu"]))
    return out


def rows(results=RESULTS):
    """One dict per target, in order: target, chapter, title (of the chapter), claim, verdict,
    label (the verdict's first words, a key of :data:`verdicts.LABELS`) and blog_figure (whether
    the blog reports a result for it)."""
    v = verdicts(results)
    return [{"target": n, "chapter": chapter, "title": CHAPTERS[chapter], "claim": claim,
             "verdict": v[n], "label": label(v[n]), "blog_figure": BLOG_FIGURE[n]}
            for n, (chapter, claim) in sorted(TARGETS.items())]


def counts(table):
    """{label: number of targets} for the labels that occur, in the order of LABELS."""
    found = [r["label"] for r in table]
    return {name: found.count(name) for name in LABELS if name in found}


def summary_sentence(table):
    """One sentence counting the labels, those for the blog's reported results first."""
    c = counts(table)
    reported = [name for name in c if "reproduced" in name]
    ours = [name for name in c if name not in reported]
    n_reported = sum(c[name] for name in reported)
    return (f"Of the blog's {len(table)} reproduction targets, {n_reported} are results the blog "
            "reports, with a number or a figure: "
            + ", ".join(f"{c[name]} {name}" for name in reported)
            + f". For the other {len(table) - n_reported} the blog only states a claim, its post is "
            "lost or unfinished, or the target is our inference, so the verdict says whether our "
            "test held: " + ", ".join(f"{c[name]} {name}" for name in ours) + ".")


def verdict_list(table):
    """Each chapter's targets with their full verdicts, chapter by chapter (Markdown)."""
    lines = []
    for chapter, title in CHAPTERS.items():
        mine = [r for r in table if r["chapter"] == chapter]
        if not mine:
            continue
        lines.append(f"**[{title}]({chapter}.ipynb)**")
        lines.append("")
        lines += [f"- ({r['target']}) {r['claim']}: **{r['label']}**{r['verdict'][len(r['label']):]}"
                  for r in mine]
        lines.append("")
    return "\n".join(lines)


def chapter_verdicts(table, chapter):
    """The short verdicts of one chapter's targets, e.g. "(1) reproduced; (2) held", or None."""
    mine = [r for r in table if r["chapter"] == chapter]
    return "; ".join(f"({r['target']}) {r['label']}" for r in mine) or None


def intro_markdown(table):
    """The first page's findings: the counts, then each chapter's targets with their verdicts."""
    return summary_sentence(table) + "\n\n" + verdict_list(table)
