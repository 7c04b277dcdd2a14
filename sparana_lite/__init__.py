"""sparana_lite: sparse fully connected networks, the Sparana blog's methods done on the CPU.

    import sparana_lite as sl
    ds = sl.load_mnist()
    model = sl.MLP([784, 1000, 800, 400, 10], head="lq", seed=0)
    sl.train(model, ds.x_train, ds.y_train, optimizer=sl.Adam(lr=1e-4, eps=1e-3), steps=2000)
    model.accuracy(ds.x_test, ds.y_test)
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
