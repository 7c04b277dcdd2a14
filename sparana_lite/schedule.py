"""Removal schedules: prune, remove the neurons pruning cut off, measure; once or step by step.

    run = sl.schedule.one_shot(model, "maav", [0.5, 0.9], x_score, x_test, y_test)
    run = sl.schedule.iterative(model, "maav", step=0.1, n_steps=20, ...)   # the blog's "brute force"
    run.widths          # (n_records, n_hidden) neurons left per hidden layer
    run.accuracy, run.n_parameters, run.flops

Two kinds of criteria choose what goes:

- **weight criteria** (``maav``, ``magnitude``, ``random``, ``activation_rank``) score every
  weight (:mod:`sparana_lite.prune`); a target sparsity ``s`` zeros that fraction of every layer
  but the last, and :func:`sparana_lite.remove_activations` then deletes the neurons left
  without incoming or outgoing weights. How many neurons go is a *consequence*.
- **neuron criteria** score every hidden neuron and remove the lowest-scored fraction ``s`` of
  all hidden neurons, ranked across layers:
  ``apoz``, the average percentage of zeros (Hu et al. 2016): the fraction of samples on which
  the neuron's ReLU outputs 0, high = unimportant; and ``group_norm``, the L2 norm of the
  neuron's incoming column and outgoing row together, divided by the mean of its layer. This
  is our own group score, not Torch-Pruning's: its default ``GroupMagnitudeImportance``
  (p=2, ``group_reduction="mean"``, ``normalizer="mean"``) sums the squares without the square
  root. The two rank the neurons of one layer alike but can rank neurons of different layers
  differently, which matters here because the lowest scores are taken across layers.
  Both zero the neuron's outgoing row, so :func:`remove_activations` deletes it.

Every record checks that removal is exact: ``max_output_change`` is the largest difference
between the pruned model's and the shrunk model's outputs on the first ``check_rows`` test rows.
"""
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from . import prune as P
from .cost import flops_per_sample
from .model import MLP
from .structure import remove_activations
from .train import Adam, train

__all__ = ["CRITERIA", "WEIGHT_CRITERIA", "NEURON_CRITERIA", "RemovalRun", "weight_scores",
           "neuron_scores", "prune_step", "one_shot", "iterative", "from_scratch",
           "dense_parameters", "scaled_widths", "zoo_runs"]

WEIGHT_CRITERIA = ("maav", "magnitude", "random", "activation_rank")
NEURON_CRITERIA = ("apoz", "group_norm")
CRITERIA = WEIGHT_CRITERIA + NEURON_CRITERIA
SCORE_BATCH = 1024


def dense_parameters(model):
    """Weights and biases a dense forward pass of ``model`` stores: sum of n_in*n_out + n_out."""
    return int(sum(n_in * n_out + n_out for n_in, n_out in zip(model.widths[:-1],
                                                                 model.widths[1:])))


def scaled_widths(widths, n_parameters):
    """``widths`` with every hidden width scaled by one factor, chosen so that a dense network
    of the new widths has as close as possible to ``n_parameters`` weights and biases.

    Parameters
    ----------
    widths : sequence of int
        Layer widths, input to output (at least one hidden layer); input and output are kept.
    n_parameters : int
        Target count of weights + biases (e.g. the nonzeros of a pruned network).

    Returns
    -------
    list of int
        The scaled widths (hidden widths at least 1), for Liu et al.'s comparison at equal
        nonzeros: a dense network as small as a sparse one.
    """
    widths = [V.positive_int(w, "widths[%d]" % i) for i, w in enumerate(widths)]
    if len(widths) < 3:
        raise ValueError(f"widths must have at least one hidden layer; got {widths}")
    n_parameters = V.positive_int(n_parameters, "n_parameters")

    def count(w):
        return sum(a * b + b for a, b in zip(w[:-1], w[1:]))

    def scaled(c):
        return [widths[0]] + [max(1, int(round(c * h))) for h in widths[1:-1]] + [widths[-1]]

    lo, hi = 0.0, 1.0
    while count(scaled(hi)) < n_parameters:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count(scaled(mid)) < n_parameters else (lo, mid)
    return min((scaled(lo), scaled(hi)), key=lambda w: abs(count(w) - n_parameters))


# --------------------------------------------------------------------------- scores

def weight_scores(model, criterion, x=None, seed=0):
    """Per-weight scores (lowest pruned first) of a weight criterion; see the module docstring."""
    if criterion == "maav":
        return P.maav(model, _need_x(x, criterion))
    if criterion == "magnitude":
        return P.magnitude(model)
    if criterion == "random":
        return P.random(model, seed=seed)
    if criterion == "activation_rank":
        return P.activation_rank(model)
    raise ValueError(f"criterion must be one of {WEIGHT_CRITERIA}; got {criterion!r}")


def neuron_scores(model, criterion, x=None):
    """Importance of every hidden neuron (lowest removed first), one float64 vector per hidden
    layer (``len(widths) - 2`` vectors of shape (width,)).

    ``apoz``: ``1 - fraction of samples of x on which the neuron outputs exactly 0``.
    ``group_norm``: ``sqrt(sum W_in[:, j]**2 + sum W_out[j, :]**2)`` divided by its layer's mean
    (not Torch-Pruning's ``GroupMagnitudeImportance``, which leaves out the square root; see
    the module docstring).
    """
    _check_model(model)
    if criterion == "apoz":
        x = model._check_x(_need_x(x, criterion))
        if x.shape[0] == 0:
            raise ValueError("x must hold at least one sample")
        zeros = [np.zeros(w, dtype=np.float64) for w in model.widths[1:-1]]
        for start in range(0, x.shape[0], SCORE_BATCH):
            acts = model.forward(x[start:start + SCORE_BATCH])[1:-1]
            for total, a in zip(zeros, acts):
                total += (a == 0).sum(axis=0)
        return [1.0 - z / x.shape[0] for z in zeros]
    if criterion == "group_norm":
        W = [w.astype(np.float64) for w in model.weights]
        out = []
        for i in range(len(W) - 1):
            norm = np.sqrt((W[i] ** 2).sum(axis=0) + (W[i + 1] ** 2).sum(axis=1))
            mean = norm.mean() if norm.size else 1.0
            out.append(norm / mean if mean > 0 else norm)
        return out
    raise ValueError(f"criterion must be one of {NEURON_CRITERIA}; got {criterion!r}")


# --------------------------------------------------------------------------- one step

def prune_step(model, criterion, amount, x=None, seed=0, prune_last=False):
    """Prune ``model`` by ``criterion`` (a new model; neurons not yet removed).

    Weight criteria: ``amount`` is the target fraction of zero weights in every layer but the
    last (:func:`sparana_lite.prune.prune` with ``ratio``; the last too with ``prune_last``,
    which lets the last hidden layer lose neurons through their outgoing rows). Neuron criteria: ``amount`` is the
    fraction of the model's current hidden neurons whose outgoing rows are zeroed, the lowest
    importances across all hidden layers (ties: earlier layer, lower index).
    """
    _check_model(model)
    amount = V.finite_float(amount, "amount", low=0, high=1)
    if criterion in WEIGHT_CRITERIA:
        return P.prune(model, weight_scores(model, criterion, x, seed), ratio=amount,
                       prune_last=bool(prune_last))
    if criterion not in NEURON_CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}; got {criterion!r}")
    scores = neuron_scores(model, criterion, x)
    flat = np.concatenate(scores) if scores else np.zeros(0)
    k = int(np.floor(amount * flat.size + 0.5))
    drop = np.zeros(flat.size, dtype=bool)
    drop[np.argsort(flat, kind="stable")[:k]] = True
    keep = [None] * len(model.layers)
    start = 0
    for i, s in enumerate(scores):  # hidden layer i's outgoing weights are layer i + 1's rows
        rows = drop[start:start + s.size]
        start += s.size
        if rows.any():
            k_mask = np.ones(model.layers[i + 1].shape, dtype=bool)
            k_mask[rows, :] = False
            keep[i + 1] = k_mask
    return P.apply_masks(model, keep)


# --------------------------------------------------------------------------- schedules

@dataclass
class RemovalRun:
    """What a schedule measured, one record per step (record 0: the model before pruning).

    Attributes (lists, one entry per record)
    ----------
    amount : target sparsity (weight criteria) or fraction of neurons (neuron criteria) asked
        for at this record; for :func:`iterative` the cumulative fraction of weights (or
        neurons) pruned so far.
    widths : layer widths of the shrunk model, input to output.
    n_parameters : dense weights + biases of the shrunk model (:func:`dense_parameters`).
    nonzero : nonzero weights + biases of the shrunk model (``model.n_parameters()``).
    flops : FLOPs per sample of the shrunk dense model (:func:`sparana_lite.cost.flops_per_sample`).
    accuracy : test accuracy of the shrunk model (after retraining when ``retrain_steps`` > 0).
    accuracy_before_retrain : test accuracy right after pruning and removal.
    max_output_change : max |outputs(pruned) - outputs(shrunk)| on the check rows.
    output_scale : max |outputs(pruned)| on the check rows (for a relative tolerance).
    models : the shrunk models, when ``keep_models=True``.
    """

    criterion: str
    schedule: str
    amount: list = field(default_factory=list)
    widths: list = field(default_factory=list)
    n_parameters: list = field(default_factory=list)
    nonzero: list = field(default_factory=list)
    flops: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    accuracy_before_retrain: list = field(default_factory=list)
    max_output_change: list = field(default_factory=list)
    output_scale: list = field(default_factory=list)
    models: list = field(default_factory=list)

    @property
    def hidden_widths(self):
        """int array (n_records, n_hidden): neurons left in each hidden layer."""
        return np.array([w[1:-1] for w in self.widths], dtype=np.int64)

    @property
    def size_left(self):
        """float array (n_records,): nonzero parameters left, as a fraction of record 0's."""
        return np.asarray(self.nonzero, dtype=np.float64) / self.nonzero[0]

    @property
    def dense_size_left(self):
        """float array (n_records,): weights and biases of the shrunk dense matrices, as a
        fraction of record 0's (what a dense forward pass stores and multiplies)."""
        return np.asarray(self.n_parameters, dtype=np.float64) / self.n_parameters[0]

    def _sizes(self, by):
        if by == "nonzero":
            return self.size_left
        if by == "dense":
            return self.dense_size_left
        raise ValueError(f"by must be 'nonzero' or 'dense'; got {by!r}")

    @property
    def width_fractions(self):
        """float array (n_records, n_hidden): each hidden layer's width over its width at record 0."""
        hw = self.hidden_widths
        return hw / np.maximum(hw[0], 1)

    def widths_at(self, size, by="nonzero"):
        """Hidden widths (fractions of record 0's) at ``size`` (fraction of parameters left:
        nonzero ones, or with ``by="dense"`` those of the dense matrices), linearly interpolated
        between records; a list of floats, one per hidden layer."""
        size = V.finite_float(size, "size", low=0, high=1)
        x = self._sizes(by)[::-1]
        return [float(np.interp(size, x, self.width_fractions[::-1, i]))
                for i in range(self.width_fractions.shape[1])]

    def accuracy_at(self, size, by="nonzero"):
        """Test accuracy at ``size`` (as in :meth:`widths_at`), linearly interpolated; None when
        the run never got that small."""
        size = V.finite_float(size, "size", low=0, high=1)
        x = self._sizes(by)
        if size < x.min() - 1e-12:
            return None
        return float(np.interp(size, x[::-1], np.asarray(self.accuracy)[::-1]))

    def width_when(self, layer, other, level):
        """Width fraction of hidden ``layer`` when hidden layer ``other`` first falls to
        ``level`` (a fraction of its width), interpolated between the two records around that
        point; None if ``other`` never falls that far. Layers are 0-based hidden indices in
        ``[0, n_hidden)``; ``level`` is in [0, 1]."""
        wf = self.width_fractions
        n_hidden = wf.shape[1]
        layer = _hidden_index(layer, "layer", n_hidden)
        other = _hidden_index(other, "other", n_hidden)
        level = V.finite_float(level, "level", low=0, high=1)
        below = np.flatnonzero(wf[:, other] <= level)
        if below.size == 0:
            return None
        k = int(below[0])
        if k == 0:
            return float(wf[0, layer])
        o0, o1 = wf[k - 1, other], wf[k, other]
        t = (o0 - level) / (o0 - o1) if o0 != o1 else 1.0
        return float(wf[k - 1, layer] + t * (wf[k, layer] - wf[k - 1, layer]))

    def _record(self, amount, shrunk, acc, acc_before, exactness, keep_model):
        self.amount.append(float(amount))
        self.widths.append(list(shrunk.widths))
        self.n_parameters.append(dense_parameters(shrunk))
        self.nonzero.append(shrunk.n_parameters())
        self.flops.append(flops_per_sample(shrunk.to_dense()))
        self.accuracy.append(float(acc))
        self.accuracy_before_retrain.append(float(acc_before))
        self.max_output_change.append(exactness[0])
        self.output_scale.append(exactness[1])
        if keep_model:
            self.models.append(shrunk)


def _exactness(pruned, shrunk, x_check):
    """(max |outputs(pruned) - outputs(shrunk)|, max |outputs(pruned)|) on x_check."""
    out_p, out_s = pruned.logits(x_check), shrunk.logits(x_check)
    return float(np.abs(out_p.astype(np.float64) - out_s).max()), float(np.abs(out_p).max())


def _retrain(model, retrain_steps, retrain_data, optimizer, batch_size, seed):
    if not retrain_steps:
        return model
    if retrain_data is None:
        raise ValueError("retrain_data (x, y) is needed when retrain_steps > 0")
    x, y = retrain_data
    train(model, x, y, optimizer=optimizer() if callable(optimizer) else optimizer,
          steps=retrain_steps, batch_size=batch_size, seed=seed, progress=False)
    return model


def _common(model, criterion, x_score, x_test, y_test, check_rows, retrain_steps):
    _check_model(model)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}; got {criterion!r}")
    if criterion in ("maav", "apoz"):
        _need_x(x_score, criterion)
    x_test = model._check_x(x_test, "x_test")
    y_test = V.as_labels(y_test, "y_test", model.n_classes, n_samples=x_test.shape[0])
    if x_test.shape[0] == 0:
        raise ValueError("x_test must hold at least one sample")
    check_rows = V.positive_int(check_rows, "check_rows")
    retrain_steps = V.positive_int(retrain_steps, "retrain_steps", minimum=0)
    return x_test, y_test, x_test[:check_rows], retrain_steps


def _blog_adam():
    return Adam(lr=1e-4, eps=1e-3)


def one_shot(model, criterion, amounts, x_score=None, x_test=None, y_test=None, seed=0,
             retrain_steps=0, retrain_data=None, optimizer=_blog_adam, batch_size=250,
             check_rows=500, keep_models=False, prune_last=False, progress=False):
    """Prune the original model to each amount in turn, remove activations, measure.

    Parameters
    ----------
    model : MLP
        Trained; left unchanged.
    criterion : str, one of :data:`CRITERIA`
    amounts : list of float in [0, 1]
        Target sparsities (weight criteria) or fractions of hidden neurons (neuron criteria).
        Sorted into increasing order, so that the records' sizes fall monotonically (what
        :meth:`RemovalRun.accuracy_at` and :meth:`RemovalRun.widths_at` interpolate on).
    x_score : array (n, n_features)
        Data for MAAV and APoZ (a training batch).
    x_test, y_test : arrays
        Where accuracy is measured.
    seed : int
        Seeds random scores and retraining batches.
    retrain_steps : int
        Steps of training of each shrunk model (pruned weights stay zero) before its accuracy is
        measured; 0: none (the blog's setting). ``retrain_data`` = (x, y) is then required.
    optimizer : callable returning an optimizer, or an optimizer
        For retraining (default: the blog's Adam, a fresh state per retraining).
    check_rows : int
        Test rows on which the removal's exactness is checked.
    keep_models : bool
        Keep the shrunk models in ``run.models``.
    prune_last : bool
        Weight criteria: prune the output layer too (the original spared it).

    Returns
    -------
    RemovalRun
        Record 0 is the unpruned model.
    """
    x_test, y_test, x_check, retrain_steps = _common(model, criterion, x_score, x_test, y_test,
                                                     check_rows, retrain_steps)
    amounts = sorted(V.finite_float(a, "amounts[%d]" % i, low=0, high=1)
                     for i, a in enumerate(amounts))
    run = RemovalRun(criterion, "one-shot")
    base = model.accuracy(x_test, y_test)
    run._record(0.0, model, base, base, (0.0, 0.0), keep_models)
    for a in _bar(amounts, progress, f"{criterion}, one-shot"):
        pruned = prune_step(model, criterion, a, x_score, seed, prune_last)
        shrunk = remove_activations(pruned)
        exactness = _exactness(pruned, shrunk, x_check)
        before = shrunk.accuracy(x_test, y_test)
        _retrain(shrunk, retrain_steps, retrain_data, optimizer, batch_size, seed)
        run._record(a, shrunk, shrunk.accuracy(x_test, y_test) if retrain_steps else before,
                    before, exactness, keep_models)
    return run


def iterative(model, criterion, step, n_steps, x_score=None, x_test=None, y_test=None, seed=0,
              retrain_steps=0, retrain_data=None, optimizer=_blog_adam, batch_size=250,
              check_rows=500, keep_models=False, prune_last=False, progress=False):
    """The blog's "brute force": repeat (score the current model, prune a step, remove).

    Each step prunes the fraction ``step`` of the weights still nonzero in every layer but the
    last (weight criteria; the scores are recomputed on the shrunk model), or of the hidden
    neurons still present (neuron criteria), then removes activations and, optionally, retrains
    for ``retrain_steps``. Other parameters as in :func:`one_shot`.

    Returns
    -------
    RemovalRun
        ``n_steps + 1`` records; ``amount`` is the cumulative fraction ``1 - (1 - step)**k``.
    """
    x_test, y_test, x_check, retrain_steps = _common(model, criterion, x_score, x_test, y_test,
                                                     check_rows, retrain_steps)
    step = V.finite_float(step, "step", low=0, high=1, low_open=True, high_open=True)
    n_steps = V.positive_int(n_steps, "n_steps")
    run = RemovalRun(criterion, "iterative")
    base = model.accuracy(x_test, y_test)
    run._record(0.0, model, base, base, (0.0, 0.0), keep_models)
    current = model
    for k in _bar(range(1, n_steps + 1), progress, f"{criterion}, iterative"):
        if criterion in WEIGHT_CRITERIA:
            ratios = [None if (i == len(current.layers) - 1 and not prune_last) or not size
                      else 1.0 - (1.0 - step) * layer.nnz() / size
                      for i, layer in enumerate(current.layers)
                      for size in [layer.shape[0] * layer.shape[1]]]  # an emptied layer: None
            scores = weight_scores(current, criterion, x_score, seed + k)
            pruned = P.prune(current, scores, ratios=ratios)
        else:
            pruned = prune_step(current, criterion, step, x_score, seed + k)
        shrunk = remove_activations(pruned)
        exactness = _exactness(pruned, shrunk, x_check)
        before = shrunk.accuracy(x_test, y_test)
        _retrain(shrunk, retrain_steps, retrain_data, optimizer, batch_size, seed + k)
        run._record(1.0 - (1.0 - step) ** k, shrunk,
                    shrunk.accuracy(x_test, y_test) if retrain_steps else before, before,
                    exactness, keep_models)
        current = shrunk
    return run


def zoo_runs(name, seeds=(0,), criterion="maav", step=0.2, n_steps=12, steps=None, n_score=2000,
             n_test=2000, prune_last=False, progress=False):
    """:func:`iterative` removal on the zoo model ``name`` trained with each seed.

    Parameters
    ----------
    name : str
        A :data:`sparana_lite.zoo.CONFIGS` name; its data set (MNIST or Fashion-MNIST) gives
        the scoring batch (the first ``n_score`` training images) and the test images (the
        first ``n_test``).
    seeds : tuple of int
    criterion, step, n_steps, prune_last :
        As in :func:`iterative`.
    steps : int, optional
        Training steps of the zoo models (default: the configuration's CI-sized count).

    Returns
    -------
    dict of seed -> RemovalRun
    """
    from . import zoo  # zoo imports train and model only; imported here to keep this module light
    config = zoo._config(name)
    data = zoo.load_dataset(config.dataset)
    n_score = V.positive_int(n_score, "n_score")
    n_test = V.positive_int(n_test, "n_test")
    runs = {}
    for seed in seeds:
        model = zoo.trained(name, seed=seed, steps=steps, progress=progress)
        runs[seed] = iterative(model, criterion, step, n_steps, data.x_train[:n_score],
                               data.x_test[:n_test], data.y_test[:n_test], seed=seed,
                               prune_last=prune_last, progress=progress)
    return runs


def from_scratch(shrunk, x, y, steps, seed=0, keep_mask=False, optimizer=None, batch_size=250,
                 progress=False):
    """Train the shrunk architecture from a fresh initialisation (Liu et al., ICLR 2019).

    Parameters
    ----------
    shrunk : MLP
        Gives the widths, head and activation (and, with ``keep_mask``, the zero pattern).
    x, y : training data
    steps : int
    seed : int
        Seeds the new initialisation and the batches.
    keep_mask : bool
        False: a dense network of the shrunk widths. True: the same nonzero pattern as
        ``shrunk``, fresh values.
    optimizer : default the blog's Adam

    Returns
    -------
    MLP
        The trained new model.
    """
    _check_model(shrunk)
    fresh = MLP(shrunk.widths, head=shrunk.head, activation=shrunk.activation, seed=seed)
    if keep_mask:
        fresh = fresh.with_masks([W != 0 for W in shrunk.weights])
    train(fresh, x, y, optimizer=optimizer or _blog_adam(), steps=steps, batch_size=batch_size,
          seed=seed, progress=progress)
    return fresh


# --------------------------------------------------------------------------- helpers

def _check_model(model):
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a sparana_lite.MLP; got {type(model).__name__}")


def _hidden_index(value, name, n_hidden):
    """A hidden layer's 0-based index, refused outside [0, n_hidden) (no negative indexing)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 0 <= value < n_hidden:
        raise ValueError(f"{name} must be a hidden layer index in [0, {n_hidden}); got {value!r}")
    return int(value)


def _need_x(x, criterion):
    if x is None:
        raise ValueError(f"x_score (samples) is needed for the {criterion!r} criterion")
    return x


def _bar(items, progress, desc):
    if not progress:
        return items
    from tqdm.auto import tqdm
    return tqdm(items, desc=desc, leave=False)
