"""Write the book's first-page findings (book/_verdicts.md, included by book/intro.md) from the
verdict rules and the results files, or check that the committed file is up to date.

    .venv/bin/python scripts/intro_verdicts.py          # rewrite book/_verdicts.md
    .venv/bin/python scripts/intro_verdicts.py --check  # exit status 1 if it is out of date

Run it after changing a rule in scripts/verdicts/ or a results file in book/results/; the
appendix "At the blog's scale" computes the same verdicts and asserts that they agree.
"""
import json
from pathlib import Path
import sys

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import generated_file  # noqa: E402
from verdicts import targets  # noqa: E402

BOOK = SCRIPTS.parent / "book"
OUT = BOOK / "_verdicts.md"
HEADER = ("% Written by scripts/intro_verdicts.py from scripts/verdicts/ and book/results/; "
          "do not edit.\n")

# Every chapter in reading order, with its post's claim in one line.
POSTS = {
    "building-sparana": "A small library that can look inside and prune a fully connected "
                        "network; the blog's LQ model reaches 98.48% on MNIST.",
    "linear-quadratic-models": "Linear outputs with a quadratic cost beat softmax with "
                               "cross-entropy by about 0.5%, give outputs near 0 and 1, and are "
                               "harder to fool.",
    "sparsity": "Working with sparsity is one way to progress machine learning; zeros in a dense "
                "matrix still cost time.",
    "pruning": "More than 90% of a trained network's weights can be removed without losing "
               "performance.",
    "mean-activated-absolute-values": "A weight's importance is the mean absolute signal it "
                                      "carries, \\|w\\| times its input's mean activity.",
    "introduction-to-forgetting": "A small number of parameters does the heavy lifting; removing "
                                  "a few may change behaviour without breaking the model.",
    "first-experiment": "Pruning 6,500 to 7,000 weights per middle layer by MAAV difference makes "
                        "the network forget one digit, \"almost too well\".",
    "first-experiment-summary": "The forgetting is not mere output suppression: it changes "
                                "internal representations.",
    "targeted-outputs": "What the output values do while a class is forgotten.",
    "removing-activations": "MAAV pruning empties whole neurons, which can be removed to make "
                            "models smaller and faster.",
    "removing-activations-part-2": "Shrinking equal-width networks gives a triangular shape: "
                                   "later layers lose neurons first.",
    "removing-activations-longboy": "The same in deeper networks.",
    "removing-activations-control": "MAAV removal against other ways of choosing weights "
                                    "(unfinished on the blog).",
}


def title(chapter):
    """The chapter's heading, as the navigation shows it."""
    cells = json.loads((BOOK / f"{chapter}.ipynb").read_text())["cells"]
    first = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return first.splitlines()[0].lstrip("# ").strip()


def chapter_table(table):
    """Every chapter with its post's claim and our verdicts on its numbered targets."""
    lines = ["| Chapter | The post's claim | Our verdicts |", "|---|---|---|"]
    for chapter, claim in POSTS.items():
        found = targets.chapter_verdicts(table, chapter) or "background, no target of its own"
        lines.append(f"| [{title(chapter)}]({chapter}.ipynb) | {claim} | {found} |")
    return "\n".join(lines)


def text(results=targets.RESULTS):
    """The file's content for the results files in ``results``."""
    table = targets.rows(results)
    return (HEADER + targets.summary_sentence(table) + "\n\n" + chapter_table(table) + "\n\n"
            + "````{dropdown} Each verdict with its measurement\n" + targets.verdict_list(table)
            + "````\n")


def main(argv=None):
    return generated_file.main(OUT, text, "intro_verdicts.py", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
