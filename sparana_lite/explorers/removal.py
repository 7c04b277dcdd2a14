"""The classroom removal explorer: prune by a criterion, remove activations, see the widths.

    w = removal_explorer(model, sl.load_mnist())
    w.controls["criterion"].value = "apoz"     # what a reader does with the selector
    w.controls["amount"].value = 0.9           # ... and with the slider
    w.result                                   # widths, accuracy, FLOP ratio, measured speed-up

An :class:`sparana_lite.explorers.Explorer`: a criterion selector (the six of
:mod:`sparana_lite.schedule`) and a ``SelectionSlider(continuous_update=False)`` over a grid of
amounts (target sparsity for weight criteria, fraction of hidden neurons for neuron criteria).
Each setting is pruned once with :func:`sparana_lite.schedule.prune_step`, shrunk with
:func:`sparana_lite.remove_activations`, measured (test accuracy, and forward time at batch
``batch_size`` against the original model, medians of a few calls) and cached.

Online readers have no kernel: :func:`removal_sweep` computes the same results for a grid and
:func:`removal_sweep_figure` draws them as one static figure.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import _validate as V
from .. import schedule as S
from ..cost import flops_per_sample, forward_times
from ..model import MLP
from ..structure import remove_activations
from .base import Explorer

__all__ = ["Remover", "removal_explorer", "removal_sweep", "removal_sweep_figure",
           "DEFAULT_AMOUNTS"]

DEFAULT_AMOUNTS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
LABELS = {"maav": "MAAV", "magnitude": "magnitude", "random": "random",
          "activation_rank": "activation rank", "apoz": "APoZ", "group_norm": "group norm"}


class Remover:
    """Prunes, removes and measures one setting at a time (the explorer's ``compute``).

    Parameters
    ----------
    model : MLP
    data : Dataset
        Scores (MAAV, APoZ) use the first ``n_score`` training images; accuracy the first
        ``n_test`` test images (all by default); timing the first ``batch_size`` test images.
    time_repeats : int
        Calls per model for the speed-up (0: do not time; the speed-up is then None).
    """

    def __init__(self, model, data, n_score=2000, n_test=None, batch_size=1000, time_repeats=5,
                 seed=0):
        if not isinstance(model, MLP):
            raise TypeError(f"model must be a sparana_lite.MLP; got {type(model).__name__}")
        for name in ("x_train", "x_test", "y_test"):
            if not hasattr(data, name):
                raise TypeError(f"data must be a sparana_lite.Dataset; got {type(data).__name__}")
        self.model = model
        n_score = V.positive_int(n_score, "n_score")
        self.x_score = model._check_x(data.x_train[:n_score], "data.x_train")
        n_test = data.x_test.shape[0] if n_test is None else V.positive_int(n_test, "n_test")
        self.x_test = model._check_x(data.x_test[:n_test], "data.x_test")
        self.y_test = V.as_labels(data.y_test[:n_test], "data.y_test", model.n_classes,
                                  n_samples=self.x_test.shape[0])
        self.batch_size = V.positive_int(batch_size, "batch_size")
        if self.batch_size > data.x_test.shape[0]:
            raise ValueError(f"batch_size must be at most the {data.x_test.shape[0]} test images; "
                             f"got {self.batch_size}")
        self.x_time = model._check_x(data.x_test[:self.batch_size], "data.x_test")
        self.time_repeats = V.positive_int(time_repeats, "time_repeats", minimum=0)
        self.seed = V.seed_int(seed)
        self.base_accuracy = model.accuracy(self.x_test, self.y_test)

    def result(self, criterion, amount):
        """A dict: ``criterion``, ``amount``, ``widths`` (original and shrunk), ``accuracy``,
        ``base_accuracy``, ``flop_ratio``, ``speedup`` (or None), ``max_output_change``."""
        if criterion not in S.CRITERIA:
            raise ValueError(f"criterion must be one of {S.CRITERIA}; got {criterion!r}")
        amount = V.finite_float(amount, "amount", low=0, high=1)
        pruned = S.prune_step(self.model, criterion, amount, self.x_score, self.seed)
        shrunk = remove_activations(pruned).to_dense()
        change = float(np.abs(pruned.logits(self.x_time[:200])
                              - shrunk.logits(self.x_time[:200])).max())
        speedup = None
        if self.time_repeats:
            t = forward_times({"original": self.model, "shrunk": shrunk}, self.x_time,
                              batch_sizes=(self.batch_size,), repeats=self.time_repeats, rounds=1)
            speedup = t.ratios(self.batch_size)["shrunk"]
        return {"criterion": criterion, "amount": amount,
                "original_widths": list(self.model.widths), "widths": list(shrunk.widths),
                "accuracy": shrunk.accuracy(self.x_test, self.y_test),
                "base_accuracy": self.base_accuracy,
                "flop_ratio": flops_per_sample(self.model) / flops_per_sample(shrunk),
                "speedup": speedup, "batch_size": self.batch_size,
                "max_output_change": change}


def _draw(result):
    fig, ax = plt.subplots(figsize=(7.5, 3.3))
    hidden0, hidden = result["original_widths"][1:-1], result["widths"][1:-1]
    x = np.arange(len(hidden0))
    ax.bar(x, hidden0, color="none", edgecolor="tab:gray", label="original")
    ax.bar(x, hidden, color="tab:blue", alpha=0.8, label="after removal")
    for xi, w in zip(x, hidden):
        ax.text(xi, w, str(w), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels([f"hidden {i + 1}" for i in x])
    ax.set_ylabel("neurons")
    speed = ("not timed" if result["speedup"] is None else
             f"{result['speedup']:.2f}x faster (batch {result['batch_size']})")
    ax.set_title(f"{LABELS[result['criterion']]}, amount {result['amount']:.2f}: accuracy "
                 f"{result['accuracy']:.3f} (was {result['base_accuracy']:.3f})\n"
                 f"{result['flop_ratio']:.2f}x fewer FLOPs, {speed}", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def _caption(r):
    """One line: the setting, hidden widths, accuracy, FLOP ratio and speed-up."""
    speed = "" if r["speedup"] is None else f", {r['speedup']:.2f}x faster"
    return (f"{LABELS[r['criterion']]}, amount {r['amount']:.2f}: hidden widths "
            f"{r['widths'][1:-1]}, accuracy {r['accuracy']:.3f}, {r['flop_ratio']:.2f}x fewer "
            f"FLOPs{speed}")


def _check_amounts(amounts):
    if isinstance(amounts, str) or not hasattr(amounts, "__iter__"):
        raise ValueError(f"amounts must be a list of numbers in [0, 1]; got {amounts!r}")
    values = sorted({V.finite_float(a, "amounts[%d]" % i, low=0, high=1)
                     for i, a in enumerate(amounts)})
    if not values:
        raise ValueError("amounts must hold at least one value")
    return values


def _check_criteria(criteria):
    criteria = [criteria] if isinstance(criteria, str) else list(criteria)
    bad = [c for c in criteria if c not in S.CRITERIA]
    if not criteria or bad:
        raise ValueError(f"criteria must be names from {S.CRITERIA}; got {criteria!r}")
    return criteria


def _first_shown(value, options, name):
    """``value`` (default: the first option), checked to be one of ``options``."""
    value = options[0] if value is None else value
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def removal_explorer(model, data, criteria=S.CRITERIA, amounts=DEFAULT_AMOUNTS, *,
                     criterion=None, amount=None, n_score=2000, n_test=None, batch_size=1000,
                     time_repeats=5, seed=0):
    """A widget: prune by a criterion, remove activations, see the widths, accuracy and speed.

    Parameters
    ----------
    model : MLP
        Trained; left unchanged.
    data : Dataset
    criteria : list of str
        Offered on the selector (default: all six of :data:`sparana_lite.schedule.CRITERIA`).
    amounts : list of float in [0, 1]
        The slider's grid.
    criterion, amount :
        The setting first shown (default: the first criterion, the smallest amount).
    n_score, n_test, batch_size, time_repeats, seed :
        See :class:`Remover`.

    Returns
    -------
    Explorer
        ``.controls["criterion"|"amount"]``, ``.result`` (see :meth:`Remover.result`),
        ``.figure``, ``.cache``, ``.remover``.
    """
    criteria = _check_criteria(criteria)
    amounts = _check_amounts(amounts)
    remover = Remover(model, data, n_score, n_test, batch_size, time_repeats, seed)
    criterion = _first_shown(criterion, criteria, "criterion")
    amount = _first_shown(amount, amounts, "amount")
    controls = {
        "criterion": widgets.ToggleButtons(options=[(LABELS[c], c) for c in criteria],
                                           value=criterion, description="criterion"),
        "amount": widgets.SelectionSlider(options=[(f"{a:.2f}", a) for a in amounts],
                                          value=amount, description="amount",
                                          continuous_update=False),
    }
    controls["criterion"].style.button_width = "100px"
    w = Explorer(controls, remover.result, _draw, caption=_caption,
                 header="<b>Remove activations</b>: prune by a criterion (weight criteria: "
                        "target sparsity; APoZ and group norm: fraction of hidden neurons), "
                        "then delete the neurons left without weights.")
    w.remover = remover
    return w


def removal_sweep(model, data, criteria=("maav", "magnitude", "apoz"), amounts=DEFAULT_AMOUNTS,
                  n_score=2000, n_test=None, batch_size=1000, time_repeats=5, seed=0,
                  progress=False):
    """What :func:`removal_explorer` shows for every (criterion, amount): ``{(c, a): result}``."""
    from tqdm.auto import tqdm
    criteria = _check_criteria(criteria)
    amounts = _check_amounts(amounts)
    remover = Remover(model, data, n_score, n_test, batch_size, time_repeats, seed)
    settings = [(c, a) for c in criteria for a in amounts]
    return {(c, a): remover.result(c, a)
            for c, a in tqdm(settings, disable=not progress, desc="removing", leave=False)}


def removal_sweep_figure(results):
    """A static figure of a :func:`removal_sweep`: per criterion, the hidden widths against the
    amount (left), and accuracy and measured speed-up against the amount (right). Returns the
    (open) Figure."""
    criteria = list(dict.fromkeys(c for c, _ in results))
    fig, axes = plt.subplots(len(criteria), 2, figsize=(10, 2.6 * len(criteria)), squeeze=False)
    for row, c in zip(axes, criteria):
        amounts = sorted(a for cc, a in results if cc == c)
        rs = [results[c, a] for a in amounts]
        hidden = np.array([r["widths"][1:-1] for r in rs])
        for i in range(hidden.shape[1]):
            row[0].plot(amounts, hidden[:, i], "o-", label=f"hidden {i + 1}")
        row[0].set_ylabel(f"{LABELS[c]}\nneurons left")
        row[0].set_ylim(0, max(rs[0]["original_widths"][1:-1]) * 1.05)
        row[1].plot(amounts, [r["accuracy"] for r in rs], "o-", color="black", label="accuracy")
        row[1].set_ylim(0, 1)
        row[1].set_ylabel("test accuracy")
        if rs[0]["speedup"] is not None:
            twin = row[1].twinx()
            twin.plot(amounts, [r["speedup"] for r in rs], "s--", color="tab:red",
                      label="speed-up")
            twin.plot(amounts, [r["flop_ratio"] for r in rs], ":", color="tab:red",
                      label="FLOP ratio")
            twin.set_ylabel("x faster / fewer FLOPs", color="tab:red")
            # one legend for both axes, on the twin so that no line is drawn over it
            h1, l1 = row[1].get_legend_handles_labels()
            h2, l2 = twin.get_legend_handles_labels()
            twin.legend(h1 + h2, l1 + l2, fontsize=8, loc="center left")
        else:
            row[1].legend(fontsize=8, loc="lower left")
    axes[0, 0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("amount (sparsity, or fraction of neurons)")
    fig.tight_layout()
    return fig
