"""sparana_lite: sparse fully connected networks, the Sparana blog's methods done on the CPU.

    import sparana_lite as sl
    ds = sl.load_mnist()
    model = sl.MLP([784, 1000, 800, 400, 10], head="lq", seed=0)
    sl.train(model, ds.x_train, ds.y_train, optimizer=sl.Adam(lr=1e-4, eps=1e-3), steps=2000)
    model.accuracy(ds.x_test, ds.y_test)

Where each concept lives, from the ground up (a room imports only from rooms above it):

    kernels/       numba kernels: csr, dense, cuda (GPU), threads
    device.py      the kernel set of a model's layers, on the CPU or a GPU
    heads.py       the LQ and SCE heads: their names, softmax
    paths.py       data and cache folders;  _io.py: atomic writes;  progress.py: progress bars
    _checks.py     argument checks: arrays, labels, numbers, an MLP's spec
    data/          MNIST, Fashion-MNIST: mnist (loaders), download, idx, cache, dataset
    layers.py      a layer's weights, dense or CSR, and its products
    convert.py     copies, CSR or dense storage, masks, devices;  model_io.py: save, load
    model.py       the MLP's maths: forward pass, loss, backprop
    _validate.py   the checks above the model (``V.mlp``: is it an MLP?)
    train.py       optimizers and the training loop;  zoo.py: trained models, cached
    prune.py       pruning scores and masks;  structure.py: removing activations
    cost.py        FLOPs and forward times;  schedule.py: removal schedules
    attacks.py     attacks on inputs, and scores that flag them
    forget/        forgetting: maav_difference (the blog's), ssd, selective_pruning, evaluate
    explorers/     classroom widgets: base, static_figure, attack, prune, forget, removal

The chapters' old addresses stay as re-exports: ``widgets`` (of :mod:`.explorers`) and
``prune_explorer``, ``forget_explorer``, ``removal_explorer``, ``static_figure``.
"""
from . import (attacks, cost, device, explorers, forget, forget_explorer, kernels, prune,
               prune_explorer, removal_explorer, schedule, widgets, zoo)
from .data import (DataNotFoundError, Dataset, class_split, load_fashion_mnist, load_mnist,
                   one_hot)
from .model import MLP
from .structure import remove_activations
from .train import SGD, Adam, History, TrainingDivergedError, train

__version__ = "0.1.0"

__all__ = ["MLP", "SGD", "Adam", "History", "train", "TrainingDivergedError", "load_mnist",
           "load_fashion_mnist", "Dataset", "DataNotFoundError", "one_hot", "class_split",
           "kernels", "device", "zoo", "prune", "remove_activations", "attacks", "widgets",
           "forget", "schedule", "cost", "explorers"]
