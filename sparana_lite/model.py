"""The multilayer perceptron's maths: the forward pass, the LQ or SCE loss, backprop.

Notation (one layer, batch of n samples, rows are samples):

    z = a_prev @ W + b        W: (n_in, n_out), b: (n_out,)
    a = act(z)                ReLU in hidden layers; the identity in the last layer

Heads (:mod:`.heads`):
    "lq"  (linear quadratic): output = z_L,           loss = 1/2 sum (output - onehot)^2
    "sce" (softmax cross-entropy): output = softmax(z_L), loss = -sum log softmax(z_L)[label]

Both losses are sums over the batch, as in the original Sparana, and for both heads the error
at the last layer is d_L = d loss / d z_L = output - onehot. Backprop, layer by layer:

    dW = a_prev.T @ d         db = sum over the batch of d
    d_prev = (d @ W.T) * act'(z_prev)

A layer's products are :class:`DenseLayer` / :class:`CSRLayer` (:mod:`.layers`). Beside the
class, not inside it: conversions (CSR, dense, masks, devices) in :mod:`.convert` and save/load
in :mod:`.model_io`; the methods of the same names call them.
"""
import functools

import numpy as np
import scipy.sparse as sp

from . import _checks as V
from . import convert
from . import device as D
from . import model_io
from ._checks import mlp_spec as _check_spec
from .heads import HEADS, _unknown_head, log_softmax, softmax  # noqa: F401 (HEADS, softmax: sl.model.*)
from .kernels import dense as K
from .kernels.csr import TILE, dense_plan, padded_batch, padded_input, tiled_input, untiled
from .kernels.threads import blas_on_calling_thread, map_row_blocks
from .layers import CSRLayer, DenseLayer
from .model_io import FORMAT, FORMAT_VERSION  # noqa: F401 (sl.model.FORMAT_VERSION)

PREDICT_CHUNK = 8192  # rows per forward pass at inference, to bound memory


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

    def _require_cpu(self, what):
        if self.device != "cpu":
            raise RuntimeError(f"{what} needs the model on the CPU; this one is on "
                               f"{self.device!r}: use model.to_device('cpu') first")

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
    def _check_x(self, x, name="x", finite=True):
        return V.as_float32_matrix(x, name, n_features=self.widths[0], allow_nan=not finite)

    def _input_checked_in_layout(self):
        """Whether :meth:`_padded_input` checks a batch for NaN and infinity (a first CSR layer
        on the CPU), so that the callers that go through it may skip the separate check."""
        return self.layers[0].sparse and self.layers[0].device is D.CPU

    def _check_x_for_logits(self, x, name="x"):
        return self._check_x(x, name, finite=not self._input_checked_in_layout())

    def _padded_input(self, x, name="x"):
        """The first activations of a padded forward pass of a model with CSR layers on the
        CPU (:func:`.kernels.csr.padded_batch`). A first CSR layer gets them F-ordered from
        :func:`.kernels.csr.padded_input`, which transposes, pads and checks the batch in one
        pass; the layer then reads them without a copy."""
        if not self._input_checked_in_layout():
            return padded_batch(x)
        xt, finite = padded_input(x)
        if not finite:
            raise ValueError(f"{name} contains NaN or infinite values")
        return xt.T

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
        """z_L of a batch. On the CPU a model with a CSR layer takes the batch in tiles through
        one call where :meth:`_tiles` allows (:meth:`_tiled_forward`: no BLAS product, so BLAS's
        thread count is left alone; setting and restoring it cost 0.06 ms of 0.92 per batch of
        256). Otherwise each core gets a block of rows that it takes through the whole network
        (see :func:`.kernels.threads.map_row_blocks`). The CSR products of a row are the same
        either way; a dense layer's BLAS product may round its last bit differently for fewer
        rows."""
        if self.layers[0].device is not D.CPU or not any(self.is_sparse):
            return self.forward(x)[-1]
        if self._tiles(x.shape[0]):  # one call shares the tiles out between the cores, no BLAS
            return self._tiled_forward(x)[-1][:x.shape[0]]
        with blas_on_calling_thread():  # once, not around each layer's BLAS product
            blocks = map_row_blocks(self._block_logits, x)
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def _block_logits(self, x):
        """z_L of a block of rows of a model with CSR layers on the CPU, through a padded
        :meth:`forward`."""
        return self.forward(self._padded_input(x))[-1][:x.shape[0]]

    # ------------------------------------------------------ the tiled layout (CPU, CSR)
    def _tiles(self, n):
        """Whether a batch of n samples takes the tiled layout of
        :func:`.kernels.csr.tiled_input`: n at least one tile, and every layer but the last CSR,
        on the CPU. Each tile of 128 samples then lies together in memory; the CSR products
        run at 57-58 GF/s in place of 42-43 at 528 samples (95% model's first layer)."""
        return (n >= TILE and self.layers[0].device is D.CPU and self.layers[0].sparse
                and all(layer.sparse for layer in self.layers[:-1]))

    def _tiled_forward(self, x, name="x"):
        """:meth:`forward` in the tiled layout for a float32 batch x (n, features) that
        :meth:`_tiles` allows: ``(full, rest)`` of x and of each hidden layer's activations,
        then z_L as rows (t * TILE + r, classes), the padding rows last. All layers run in one
        call (:func:`.kernels.csr.layers_forward_tiled`), a dense output layer as a CSR matrix
        with every entry stored (:func:`.kernels.csr.dense_plan`), so that each core computes
        the outputs of the tiles whose activations it holds. The CSR layers' outputs are bitwise
        those of :meth:`forward`; a dense output layer sums its terms in another order than
        BLAS (float32 rounding).

        The tiled activations live in the calling thread's scratch buffers (``scratch=True``):
        they are valid until its next tiled forward pass; z_L is a copy."""
        values = [layer.W.data if layer.sparse else layer.W.reshape(-1) for layer in self.layers]
        plans = [layer.plan if layer.sparse else dense_plan(*layer.W.shape)
                 for layer in self.layers]
        acts, finite = self.layers[0].device.layers_forward_tiled(
            x, values, [layer.b for layer in self.layers], self._kinds(), plans, scratch=True)
        if not finite:
            raise ValueError(f"{name} contains NaN or infinite values")
        return acts[:-1] + [untiled(*acts[-1])]

    @_one_thread_pool
    def _tiled_backward(self, acts, d, grads_out=None):
        """:meth:`backward` in the tiled layout, for ``acts`` from :meth:`_tiled_forward` and
        the error d (rows, classes) of all its rows (zero in the padding rows)."""
        grads = [None] * len(self.layers)
        db = d.sum(axis=0)
        if self.layers[-1].sparse:
            d = tiled_input(d)[:2]
        kinds, dev = self._kinds(), self.layers[0].device
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            out = None if grads_out is None else grads_out[i][0]
            grads[i] = (layer.weight_gradient_tiled(acts[i], d, out=out), db)
            if i > 0:
                d = layer.back_product_tiled(d)
                db = dev.act_grad_tiled_(d, acts[i], kinds[i - 1])  # in place; d's sums
        return grads

    def logits(self, x):
        """Pre-head values z_L, float32 (n, classes). For LQ these are also the outputs."""
        return self._logits_checked(self._check_x_for_logits(x))

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
        x = self._check_x_for_logits(x)
        y = V.as_labels(y, "y", self.n_classes, n_samples=x.shape[0])
        return float(np.mean(np.argmax(self._logits_checked(x), axis=1) == y))

    def class_accuracy(self, x, y):
        """Accuracy on each class, float64 (classes,); NaN for a class with no samples."""
        x = self._check_x_for_logits(x)
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
            if layer.sparse and dev is D.CPU and d.flags.c_contiguous and d.shape[1] > 1:
                d = dev.transpose_result(dev.transpose(d))  # one copy for both products below
            grads[i] = (layer.weight_gradient(acts[i], d, out=out), dev.column_sum(d))
            if i > 0:
                d = dev.act_grad_(layer.back_product(d, like=acts[i]), acts[i], kinds[i - 1])
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

    # ---------------------------------------- conversions (convert.py), save/load (model_io.py)
    def copy(self):
        """A copy of the model (every layer copied)."""
        return convert.copy(self)

    def to_sparse(self, layers=None):
        """A new model whose chosen layers (default: all) store their weights in CSR.

        Zero weights are dropped from storage, so they stay zero in training. Outputs equal
        the dense model's up to float32 rounding.
        """
        return convert.to_sparse(self, layers)

    def to_dense(self):
        """A new model with every layer dense. Former CSR layers get a mask so their zeros
        stay zero when trained."""
        return convert.to_dense(self)

    def with_masks(self, masks):
        """A new model whose dense layers train only where ``masks[i]`` is True (and are zero
        elsewhere). ``masks[i]`` is a bool array of the layer's shape (other dtypes are refused,
        as by :func:`sparana_lite.prune.apply_masks`), or None to leave layer i unmasked."""
        return convert.with_masks(self, masks)

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
        return convert.to_device(self, device)

    def save(self, path):
        """Write the model to ``path`` (.npz, no pickle), atomically. Returns the path."""
        return model_io.save(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`. Refuses pickled content and malformed files."""
        return model_io.load(path, cls)
