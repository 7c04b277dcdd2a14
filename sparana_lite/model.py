"""The multilayer perceptron: dense or CSR layers, an LQ or SCE head, backprop, save/load.

Notation (one layer, batch of n samples, rows are samples):

    z = a_prev @ W + b        W: (n_in, n_out), b: (n_out,)
    a = act(z)                ReLU in hidden layers; the identity in the last layer

Heads:
    "lq"  (linear quadratic): output = z_L,           loss = 1/2 sum (output - onehot)^2
    "sce" (softmax cross-entropy): output = softmax(z_L), loss = -sum log softmax(z_L)[label]

Both losses are sums over the batch, as in the original Sparana, and for both heads the error
at the last layer is d_L = d loss / d z_L = output - onehot. Backprop, layer by layer:

    dW = a_prev.T @ d         db = sum over the batch of d
    d_prev = (d @ W.T) * act'(z_prev)
"""
import copy
import functools
import json
from pathlib import Path
import zipfile

import numpy as np
import scipy.sparse as sp

from . import _validate as V
from . import device as D
from ._io import atomic_save_npz
from .kernels import dense as K
from .kernels.threads import blas_on_calling_thread, map_row_blocks

FORMAT = "sparana_lite.MLP"
FORMAT_VERSION = 1
HEADS = ("lq", "sce")
PREDICT_CHUNK = 8192  # rows per forward pass at inference, to bound memory


class DenseLayer:
    """A fully connected layer with a dense float32 weight matrix (n_in, n_out).

    Its arrays live on ``device`` (:mod:`sparana_lite.device`), whose kernels it calls.
    """

    sparse = False

    def __init__(self, W, b, mask=None, device=D.CPU):
        self.device = device
        self.W = device.asarray(W)
        self.b = device.asarray(b)
        self.mask = None if mask is None else device.asarray(mask, dtype=bool)

    @property
    def shape(self):
        return self.W.shape

    def dense_weight(self):
        return self.device.to_host(self.W)

    def product(self, a):
        """a @ W for a (n, n_in) -> (n, n_out), a fresh C-contiguous array."""
        return self.device.matmul(a, self.W)

    def forward(self, a, kind):
        """act(a @ W + b) for a (n, n_in) -> (n, n_out); ``kind`` as in :mod:`.kernels.dense`."""
        return self.device.bias_act_(self.product(a), self.b, kind)

    def back_product(self, d):
        """d @ W.T for d (n, n_out) -> (n, n_in)."""
        return self.device.matmul_nt(d, self.W)

    def weight_gradient(self, a, d, out=None):
        """a.T @ d, (n_in, n_out)."""
        return self.device.matmul_tn(a, d, out=out)

    def params(self):
        """Flat views of the trainable weight values and their mask (or None)."""
        return self.W.reshape(-1), None if self.mask is None else self.mask.reshape(-1)

    def nnz(self):
        return int(np.count_nonzero(self.dense_weight()))

    def copy(self):
        return DenseLayer(self.W.copy(), self.b.copy(), None if self.mask is None else self.mask.copy())

    def to_device(self, device):
        """A copy of this layer on ``device``."""
        host = self.device.to_host
        return DenseLayer(host(self.W).copy(), host(self.b).copy(),
                          None if self.mask is None else host(self.mask).copy(), device)


class CSRLayer:
    """A layer whose weight matrix (n_in, n_out) is stored in CSR; only its nonzeros train.

    Products run on :mod:`sparana_lite.kernels.csr` (or its GPU twin): ``a @ W`` as
    ``(W.T @ a.T).T`` through a cached transpose pattern (in the forward pass with the bias and
    activation fused into it), ``d @ W.T`` as ``(W @ d.T).T``, and the weight gradient as an
    SDDMM at the nonzeros, so a dense gradient is never formed.

    The kernels work in the (features, batch) layout, so on the CPU the products return the
    transpose of a C-contiguous array (an F-ordered (n, n_out) view) instead of copying it
    back: a next CSR layer, the SDDMM and the element-wise kernels then read it without a copy
    (copying each activation twice cost as much as the kernels at 95% sparsity).
    """

    sparse = True
    mask = None

    def __init__(self, W, b, device=D.CPU):
        self.device = device
        self.W = device.csr_matrix(W)
        self.b = device.asarray(b)
        self.plan = device.transpose_plan(self.W)

    @property
    def shape(self):
        return self.W.shape

    def dense_weight(self):
        return self.W.toarray()

    def product(self, a):
        k = self.device
        return k.transpose_result(k.spmm_t(self.W, k.transpose(a), plan=self.plan))

    def forward(self, a, kind):
        """act(a @ W + b), with the bias and activation fused into the product's row loop."""
        k = self.device
        return k.transpose_result(
            k.spmm_t_bias_act(self.W, k.transpose(a), self.b, kind, self.plan))

    def back_product(self, d):
        k = self.device
        return k.transpose_result(k.spmm(self.W, k.transpose(d)))

    def weight_gradient(self, a, d, out=None):
        """(a.T @ d) at W's nonzeros, in W.data order: a vector (nnz,)."""
        return self.device.sddmm(self.W, self.device.transpose(a), d, out=out)

    def params(self):
        return self.W.data, None

    def nnz(self):
        return int(np.count_nonzero(self.device.to_host(self.W.data)))

    def copy(self):
        return CSRLayer(self.W.copy(), self.b.copy())

    def to_device(self, device):
        """A copy of this layer on ``device``."""
        W = self.W.to_scipy() if hasattr(self.W, "to_scipy") else self.W.copy()
        return CSRLayer(W, self.device.to_host(self.b).copy(), device)


def _one_thread_pool(method):
    """Run ``method`` with BLAS on the calling thread when the model has a CSR layer, so that
    BLAS's and numba's thread pools do not fight (see :mod:`sparana_lite.kernels.threads`)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not any(layer.sparse for layer in self.layers):
            return method(self, *args, **kwargs)
        with blas_on_calling_thread():
            return method(self, *args, **kwargs)
    return wrapper


class MLP:
    """A fully connected network in the Sparana style.

    Parameters
    ----------
    widths : list of int
        Layer widths from input to output, e.g. ``[784, 1000, 800, 400, 10]``.
    head : {"lq", "sce"}
        "lq": linear output trained with the quadratic cost; "sce": softmax + cross-entropy.
    activation : {"relu", "tanh", "sigmoid", "linear"}
        Activation of the hidden layers.
    seed : int
        Seed of the initialisation ``W ~ N(0, sqrt(3 / (n_in + n_out)))``.
    bias : float
        Initial value of every bias (the original used 0.1).
    """

    def __init__(self, widths, head="lq", activation="relu", seed=0, bias=0.1):
        widths = list(widths) if not isinstance(widths, (str, bytes)) else widths
        if not isinstance(widths, list) or len(widths) < 2:
            raise ValueError(f"widths must be a list of at least two layer sizes; got {widths!r}")
        widths = [V.positive_int(w, "widths[%d]" % i) for i, w in enumerate(widths)]
        head, activation, seed, metadata = _check_spec(head, activation, seed, None)
        bias = V.finite_float(bias, "bias")
        self.head = head
        self.activation = activation
        self.seed = seed
        self.metadata = metadata
        rng = np.random.default_rng(seed)
        self.layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            std = np.sqrt(3.0 / (n_in + n_out))
            W = rng.normal(0.0, std, size=(n_in, n_out)).astype(np.float32)
            self.layers.append(DenseLayer(W, np.full(n_out, bias, dtype=np.float32)))

    # ------------------------------------------------------------------ structure
    @classmethod
    def from_layers(cls, layers, head="lq", activation="relu", seed=0, metadata=None):
        """Build a model around existing layers (used by copy, load, pruning).

        ``layers`` is a non-empty list of :class:`DenseLayer` / :class:`CSRLayer` whose widths
        chain; ``head``, ``activation`` and ``seed`` are checked as in the constructor;
        ``metadata`` is a dict (deep-copied) or None.
        """
        head, activation, seed, metadata = _check_spec(head, activation, seed, metadata)
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
            raise ValueError(f"layers must be a non-empty list of DenseLayer/CSRLayer; got {layers!r}")
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, (DenseLayer, CSRLayer)):
                raise TypeError(f"layers[{i}] must be a DenseLayer or CSRLayer; got {type(layer).__name__}")
            if i and layer.shape[0] != layers[i - 1].shape[1]:
                raise ValueError(f"layers[{i}] has {layer.shape[0]} inputs but layers[{i - 1}] has "
                                 f"{layers[i - 1].shape[1]} outputs; consecutive widths must match")
        model = cls.__new__(cls)
        model.head, model.activation, model.seed, model.metadata = head, activation, seed, metadata
        model.layers = layers
        return model

    @property
    def device(self):
        """The device that holds the weights and runs the kernels: ``"cpu"`` or ``"cuda"``."""
        return self.layers[0].device.name

    def to_device(self, device):
        """A copy of the model on ``device`` ("cpu" or "cuda"); its arrays live there.

        On "cuda" the weights, and the optimizer state and batches of :func:`sparana_lite.train`,
        stay on the GPU for the whole run. A model on the GPU trains and evaluates (``logits``,
        ``output``, ``predict``, ``accuracy``, ``class_accuracy``, ``loss``; ``weights`` and
        ``biases`` give host copies); move it back with ``to_device("cpu")`` for the rest
        (pruning, saving, gradients, conversions).

        Raises
        ------
        sparana_lite.device.DeviceUnavailableError
            For "cuda" where numba-cuda or a GPU is missing; the message says what to install.
        """
        dev = D.get(device)
        return MLP.from_layers([layer.to_device(dev) for layer in self.layers], self.head,
                               self.activation, self.seed, self.metadata)

    def _require_cpu(self, what):
        if self.device != "cpu":
            raise RuntimeError(f"{what} needs the model on the CPU; this one is on "
                               f"{self.device!r}: use model.to_device('cpu') first")

    @property
    def widths(self):
        return [self.layers[0].shape[0]] + [layer.shape[1] for layer in self.layers]

    @property
    def n_classes(self):
        return self.widths[-1]

    @property
    def weights(self):
        """Weight matrices (n_in, n_out), float32. Dense layers on the CPU give their arrays (not
        copies); CSR layers, and every layer on the GPU, give dense host copies."""
        return [layer.dense_weight() for layer in self.layers]

    @property
    def biases(self):
        return [layer.device.to_host(layer.b) for layer in self.layers]

    @property
    def masks(self):
        """Per layer: a bool array (n_in, n_out) of trainable entries, or None (all train)."""
        return [None if layer.mask is None else layer.device.to_host(layer.mask)
                for layer in self.layers]

    @property
    def is_sparse(self):
        return [layer.sparse for layer in self.layers]

    def n_parameters(self):
        """Number of nonzero weights plus biases."""
        return sum(layer.nnz() + layer.b.size for layer in self.layers)

    def sparsity(self):
        """Fraction of zero weights in each layer, a list of floats."""
        return [1.0 - layer.nnz() / (layer.shape[0] * layer.shape[1]) for layer in self.layers]

    def _kinds(self):
        hidden = K.ACTIVATIONS[self.activation]
        return [hidden] * (len(self.layers) - 1) + [K.LINEAR]

    def __repr__(self):
        storage = "".join("s" if s else "d" for s in self.is_sparse)
        return (f"MLP(widths={self.widths}, head={self.head!r}, activation={self.activation!r}, "
                f"storage={storage!r}, sparsity={[round(s, 4) for s in self.sparsity()]})")

    # -------------------------------------------------------------------- forward
    def _check_x(self, x, name="x"):
        return V.as_float32_matrix(x, name, n_features=self.widths[0])

    @_one_thread_pool
    def forward(self, x):
        """All activations for a checked float32 batch: [x, a_1, ..., a_{L-1}, z_L]."""
        acts = [x]
        for layer, kind in zip(self.layers, self._kinds()):
            acts.append(layer.forward(acts[-1], kind))
        return acts

    def _logits_checked(self, x):
        dev = self.layers[0].device
        chunks = [dev.to_host(self._chunk_logits(dev.asarray(x[i:i + PREDICT_CHUNK])))
                  for i in range(0, max(x.shape[0], 1), PREDICT_CHUNK)]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _chunk_logits(self, x):
        """z_L of a batch. On the CPU a model with a CSR layer gives each core a block of rows
        that it takes through the whole network (see :func:`.kernels.threads.map_row_blocks`).
        The CSR products of a row are the same either way; a dense layer's BLAS product may
        round its last bit differently for fewer rows."""
        if self.layers[0].device is not D.CPU or not any(self.is_sparse):
            return self.forward(x)[-1]
        blocks = map_row_blocks(lambda block: self.forward(block)[-1], x)
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def logits(self, x):
        """Pre-head values z_L, float32 (n, classes). For LQ these are also the outputs."""
        return self._logits_checked(self._check_x(x))

    def output(self, x):
        """LQ: the linear outputs; SCE: softmax probabilities. float32 (n, classes)."""
        z = self.logits(x)
        if self.head == "lq":
            return z
        if self.head == "sce":
            return softmax(z)
        raise _unknown_head(self.head)

    def predict(self, x):
        """Predicted class of each sample, int64 (n,)."""
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y):
        """Fraction of samples whose predicted class equals the label."""
        x = self._check_x(x)
        y = V.as_labels(y, "y", self.n_classes, n_samples=x.shape[0])
        return float(np.mean(np.argmax(self._logits_checked(x), axis=1) == y))

    def class_accuracy(self, x, y):
        """Accuracy on each class, float64 (classes,); NaN for a class with no samples."""
        x = self._check_x(x)
        y = V.as_labels(y, "y", self.n_classes, n_samples=x.shape[0])
        correct = np.argmax(self._logits_checked(x), axis=1) == y
        hits = np.bincount(y, weights=correct, minlength=self.n_classes)
        counts = np.bincount(y, minlength=self.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return hits / counts

    # ------------------------------------------------------------- loss, gradients
    def _checked_xy(self, x, y):
        x = self._check_x(x)
        return x, V.as_labels(y, "y", self.n_classes, n_samples=x.shape[0])

    def _loss_and_error(self, z, y):
        """Summed loss and d loss / d z_L for logits z (n, classes) and labels y (n,)."""
        rows = np.arange(y.shape[0])
        if self.head == "lq":
            d = z.copy()
            d[rows, y] -= 1.0
            loss = 0.5 * float(np.dot(d.ravel().astype(np.float64), d.ravel()))
        elif self.head == "sce":
            logp = log_softmax(z)
            loss = -float(np.sum(logp[rows, y], dtype=np.float64))
            d = np.exp(logp)
            d[rows, y] -= 1.0
        else:
            raise _unknown_head(self.head)
        return loss, d

    def loss(self, x, y):
        """Summed loss over the samples: LQ 1/2 sum (output - onehot)^2, SCE cross-entropy."""
        x, y = self._checked_xy(x, y)
        return self._loss_and_error(self._logits_checked(x), y)[0]

    @_one_thread_pool
    def backward(self, acts, d, grads_out=None):
        """Backprop the last-layer error d (n, classes) through activations from :meth:`forward`.

        Returns a list of (dW, db) per layer: dW is (n_in, n_out) for dense layers and a
        vector (nnz,) in ``W.data`` order for CSR layers. ``d`` is overwritten.
        """
        kinds, dev = self._kinds(), self.layers[0].device
        grads = [None] * len(self.layers)
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            out = None if grads_out is None else grads_out[i][0]
            grads[i] = (layer.weight_gradient(acts[i], d, out=out), dev.column_sum(d))
            if i > 0:
                d = dev.act_grad_(layer.back_product(d), acts[i], kinds[i - 1])
        return grads

    def gradients(self, x, y):
        """d loss / d weights and d loss / d biases on (x, y), as two lists.

        Dense layers give arrays (n_in, n_out); CSR layers give CSR matrices with the layer's
        sparsity pattern (the gradient exists only for stored weights).
        """
        self._require_cpu("gradients")
        x, y = self._checked_xy(x, y)
        acts = self.forward(x)
        _, d = self._loss_and_error(acts[-1], y)
        grads = self.backward(acts, d)
        dW = []
        for layer, (gW, _) in zip(self.layers, grads):
            if layer.sparse:
                gW = sp.csr_matrix((gW, layer.W.indices, layer.W.indptr), shape=layer.shape)
            dW.append(gW)
        return dW, [gb for _, gb in grads]

    def input_gradient(self, x, y):
        """d loss / d x, float32 (n, n_features): the direction in input space that raises the
        loss fastest (what a gradient-sign attack follows)."""
        self._require_cpu("input_gradient")
        x, y = self._checked_xy(x, y)
        acts = self.forward(x)
        _, d = self._loss_and_error(acts[-1], y)
        return self.backprop_to_input(acts, d)

    @_one_thread_pool
    def backprop_to_input(self, acts, d):
        """Carry an error d = d f / d z_L (n, classes) back to the input: d f / d x (n, n_features).

        ``acts`` are the activations from :meth:`forward`; ``d`` is overwritten.
        """
        kinds = self._kinds()
        for i in range(len(self.layers) - 1, 0, -1):
            d = K.act_grad_(self.layers[i].back_product(d), acts[i], kinds[i - 1])
        return self.layers[0].back_product(d)

    # ---------------------------------------------------------------- conversions
    def copy(self):
        self._require_cpu("copy")
        return MLP.from_layers([layer.copy() for layer in self.layers], self.head,
                               self.activation, self.seed, self.metadata)

    def to_sparse(self, layers=None):
        """A new model whose chosen layers (default: all) store their weights in CSR.

        Zero weights are dropped from storage, so they stay zero in training. Outputs equal
        the dense model's up to float32 rounding.
        """
        self._require_cpu("to_sparse")
        chosen = self._layer_indices(layers)
        new = [CSRLayer(l.dense_weight() if l.mask is None else l.dense_weight() * l.mask, l.b.copy())
               if i in chosen and not l.sparse else l.copy() for i, l in enumerate(self.layers)]
        return MLP.from_layers(new, self.head, self.activation, self.seed, self.metadata)

    def to_dense(self):
        """A new model with every layer dense. Former CSR layers get a mask so their zeros
        stay zero when trained."""
        self._require_cpu("to_dense")
        new = [DenseLayer(l.dense_weight(), l.b.copy(), l.W.toarray() != 0) if l.sparse else l.copy()
               for l in self.layers]
        return MLP.from_layers(new, self.head, self.activation, self.seed, self.metadata)

    def with_masks(self, masks):
        """A new model whose dense layers train only where ``masks[i]`` is True (and are zero
        elsewhere). ``masks[i]`` is a bool array of the layer's shape (other dtypes are refused,
        as by :func:`sparana_lite.prune.apply_masks`), or None to leave layer i unmasked."""
        self._require_cpu("with_masks")
        if len(masks) != len(self.layers):
            raise ValueError(f"masks must have one entry per layer ({len(self.layers)}); got {len(masks)}")
        new = []
        for i, (layer, mask) in enumerate(zip(self.layers, masks)):
            if mask is None:
                new.append(layer.copy())
                continue
            if layer.sparse:
                raise ValueError(f"masks[{i}]: layer {i} is CSR; its sparsity pattern is its mask")
            mask = V.bool_mask(mask, f"masks[{i}]", layer.shape)
            new.append(DenseLayer(layer.W * mask, layer.b.copy(), mask))
        return MLP.from_layers(new, self.head, self.activation, self.seed, self.metadata)

    def _layer_indices(self, layers):
        n = len(self.layers)
        if layers is None:
            return set(range(n))
        chosen = set()
        for i in layers:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
                raise ValueError(f"layers must hold layer indices in [0, {n - 1}]; got {i!r}")
            chosen.add(int(i) % n)
        return chosen

    # ----------------------------------------------------------------- save, load
    def save(self, path):
        """Write the model to ``path`` (.npz, no pickle), atomically. Returns the path."""
        self._require_cpu("save")
        path = Path(path)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "head": self.head,
                "activation": self.activation, "seed": self.seed, "widths": self.widths,
                "sparse": self.is_sparse, "masked": [l.mask is not None for l in self.layers],
                "metadata": self.metadata}
        arrays = {"meta": np.array(json.dumps(meta))}
        for i, layer in enumerate(self.layers):
            arrays[f"b{i}"] = layer.b
            if layer.sparse:
                arrays[f"W{i}_data"] = layer.W.data
                arrays[f"W{i}_indices"] = layer.W.indices
                arrays[f"W{i}_indptr"] = layer.W.indptr
            else:
                arrays[f"W{i}"] = layer.W
                if layer.mask is not None:
                    arrays[f"M{i}"] = layer.mask
        return atomic_save_npz(path, **arrays)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`. Refuses pickled content and malformed files."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: no model file at {path}")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except ValueError as e:
            if "pickle" in str(e).lower():
                raise ValueError(f"path: {path} holds pickled objects; sparana_lite model files "
                                 "never do, so it is refused (loading pickles can run code)") from e
            raise ValueError(f"path: {path} is not a sparana_lite model file ({e})") from e
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise ValueError(f"path: {path} is not a readable .npz model file ({e})") from e
        try:
            return cls._from_arrays(arrays)
        except (KeyError, TypeError, ValueError, _Malformed) as e:
            raise ValueError(f"path: {path} is not a valid sparana_lite model file: {e!r}") from e

    @classmethod
    def _from_arrays(cls, arrays):
        meta = json.loads(str(arrays["meta"]))
        _require(meta.get("format") == FORMAT, f"format is {meta.get('format')!r}, expected {FORMAT!r}")
        if meta["version"] > FORMAT_VERSION:
            raise ValueError(f"model file format version {meta['version']} is newer than this "
                             f"sparana_lite reads ({FORMAT_VERSION}); upgrade sparana_lite")
        widths = meta["widths"]
        _check_spec(meta["head"], meta["activation"], meta["seed"], meta["metadata"])  # before the arrays
        layers = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            b = arrays[f"b{i}"]
            _require(b.shape == (n_out,), f"b{i} has shape {b.shape}, expected {(n_out,)}")
            if meta["sparse"][i]:
                W = sp.csr_matrix((arrays[f"W{i}_data"], arrays[f"W{i}_indices"], arrays[f"W{i}_indptr"]),
                                  shape=(n_in, n_out))
                W.check_format(full_check=True)
                layers.append(CSRLayer(W, b))
            else:
                W = arrays[f"W{i}"]
                _require(W.shape == (n_in, n_out), f"W{i} has shape {W.shape}, expected {(n_in, n_out)}")
                mask = arrays[f"M{i}"] if meta["masked"][i] else None
                _require(mask is None or mask.shape == W.shape, f"M{i} has shape {getattr(mask, 'shape', None)}")
                layers.append(DenseLayer(W, b, mask))
        for layer in layers:
            W = layer.W.data if layer.sparse else layer.W
            _require(np.isfinite(W).all() and np.isfinite(layer.b).all(), "weights hold NaN or inf")
        return cls.from_layers(layers, meta["head"], meta["activation"], meta["seed"], meta["metadata"])


def _unknown_head(head):
    return ValueError(f"head must be one of {HEADS}; got {head!r}")


def _check_spec(head, activation, seed, metadata):
    """The checks every way of making an MLP shares (constructor, from_layers, load)."""
    if head not in HEADS:
        raise _unknown_head(head)
    if activation not in K.ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(K.ACTIVATIONS)}; got {activation!r}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    return head, activation, V.seed_int(seed), copy.deepcopy(metadata or {})


class _Malformed(Exception):
    """A model file whose content is inconsistent."""


def _require(condition, message):
    if not condition:
        raise _Malformed(message)


def log_softmax(z):
    """Row-wise log softmax, stable (the maximum is subtracted first). float32 (n, k)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z):
    """Row-wise softmax, stable. float32 (n, k)."""
    return np.exp(log_softmax(z))
