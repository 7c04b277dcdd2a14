"""Layer activations of many images, computed EVAL_CHUNK rows at a time to bound memory."""
import numpy as np

EVAL_CHUNK = 4096


def _forward_to(model, x, layer):
    """The input of ``model.layers[layer]`` for images x, float32 (n, n_in)."""
    if layer == 0:
        return x
    parts = []
    for start in range(0, x.shape[0], EVAL_CHUNK):
        parts.append(model.forward(x[start:start + EVAL_CHUNK])[layer])
    return np.concatenate(parts)


def _hidden(model, x):
    """Every hidden layer's activations for x: list of float32 (n, width)."""
    parts = [model.forward(x[s:s + EVAL_CHUNK])[1:-1] for s in range(0, x.shape[0], EVAL_CHUNK)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
