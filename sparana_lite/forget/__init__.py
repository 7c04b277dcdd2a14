"""Forgetting: make a trained network forget one class by changing a few weights, no retraining."""
from .maav_difference import (EVAL_CHUNK, METHOD_LABELS, METHODS, MIDDLE, Forgetter, Relearning,
                              Sweep, class_activity, fisher_diagonal, fisher_diagonal_biases,
                              linear_probe, membership_advantage, membership_rate, relearn,
                              relearn_steps, selective_pruning_scores, selective_pruning_steps,
                              ssd, ssd_factors)

__all__ = ["METHODS", "MIDDLE", "Forgetter", "Sweep", "class_activity", "selective_pruning_scores",
           "selective_pruning_steps", "fisher_diagonal", "fisher_diagonal_biases", "ssd_factors",
           "ssd", "relearn_steps", "linear_probe", "membership_advantage", "Relearning", "relearn",
           "membership_rate"]
