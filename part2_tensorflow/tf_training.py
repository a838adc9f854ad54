"""What part 2's scripts share: the --device choice, and the epoch loop (train, validate, keep the best epoch)."""
import numpy as np

import util

util.import_tensorflow_quietly()
import tensorflow as tf  # noqa: E402


def use_device(name: str) -> None:
    """Apply --device before TensorFlow's first op: cpu hides the GPUs, cuda requires one, auto leaves TF's choice."""
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cuda" and not gpus:
        util.fail("--device cuda was asked for but TensorFlow sees no GPU here: use --device cpu or auto")
    if name == "cpu" and gpus:
        tf.config.set_visible_devices([], "GPU")


def train_keeping_best(variables, epochs: int, epoch_batches, train_step, valid_accuracy, desc: str = "train"):
    """Train for `epochs` epochs and leave `variables` at the values of the best validation epoch.

    Inputs:
    - variables: the tf.Variables to snapshot and restore (the model's trainable variables).
    - epoch_batches(epoch) -> (iterable of argument tuples for train_step, number of batches); a tuple's first
      item holds the batch's examples along its first axis.
    - train_step(*batch) -> scalar loss tensor (one optimisation step), the mean over the batch.
    - valid_accuracy() -> float, accuracy on the validation split with the current weights.

    Returns the curves {"train_loss": [...], "valid_accuracy": [...]} and the best epoch (1-based).
    """
    curves = {"train_loss": [], "valid_accuracy": []}
    best_accuracy, best_epoch, best_values = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        batches, total = epoch_batches(epoch)
        losses, sizes = [], []
        bar = util.progress(batches, total=total, desc=f"{desc} epoch {epoch}")
        for batch in bar:
            losses.append(float(train_step(*batch)))
            sizes.append(batch[0].shape[0])
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        accuracy = float(valid_accuracy())
        loss = float(np.average(losses, weights=sizes))  # per example: a short last batch counts for its size
        util.check_finite_loss(loss, f"of epoch {epoch}")
        curves["train_loss"].append(loss)
        curves["valid_accuracy"].append(accuracy)
        print(f"epoch {epoch:3d}: train loss {loss:.4f}, validation accuracy {accuracy:.2%}")
        if accuracy > best_accuracy:
            best_accuracy, best_epoch = accuracy, epoch
            best_values = [v.numpy() for v in variables]
    for var, value in zip(variables, best_values):
        var.assign(value)
    print(f"best epoch {best_epoch} (validation accuracy {best_accuracy:.2%})")
    return curves, best_epoch
