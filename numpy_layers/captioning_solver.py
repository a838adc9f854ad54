"""Minibatch training loop for CaptioningRNN (the assignment's CaptioningSolver API).

    solver = CaptioningSolver(model, data, update_rule='adam', optim_config={'learning_rate': 5e-3},
                              lr_decay=0.95, num_epochs=10, batch_size=100, print_every=10)
    solver.train()

`data` is a dict as returned by coco_utils.load_coco_data (or dataset.demo_captions()).
"""
import numpy as np

import optim
import util
from coco_utils import sample_coco_minibatch


class CaptioningSolver:
    """
    Trains a captioning model on data['train_captions'] with the update rule of optim.py named by
    update_rule. Keyword arguments: update_rule ('sgd'), optim_config ({}), lr_decay (1.0; applied after
    every epoch), batch_size (100), num_epochs (10), print_every (10), verbose (True), progress
    (False: a tqdm bar over the iterations), num_val_batches (number of validation minibatches
    whose mean loss is recorded after every epoch; default 2), seed (minibatch sampling).
    Attributes after train(): loss_history (per iteration) and val_loss_history (per epoch).
    """

    def __init__(self, model, data, **kwargs):
        self.model = model
        self.data = data
        update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        self.progress = kwargs.pop("progress", False)
        self.num_val_batches = kwargs.pop("num_val_batches", 2)
        self.rng = np.random.default_rng(kwargs.pop("seed", None))
        if kwargs:
            raise ValueError(f"unrecognized CaptioningSolver arguments: {', '.join(kwargs)}")
        self.update_rule = optim.get_update_rule(update_rule)
        self.epoch = 0
        self.loss_history = []
        self.val_loss_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self):
        captions, features, _ = sample_coco_minibatch(self.data, self.batch_size, "train", self.rng)
        loss, grads = self.model.loss(features, captions)
        self.loss_history.append(float(loss))
        for name, value in self.model.params.items():
            self.model.params[name], self.optim_configs[name] = self.update_rule(
                value, grads[name], self.optim_configs[name])

    def validation_loss(self):
        """Mean loss over num_val_batches random validation minibatches (no update)."""
        losses = []
        for _ in range(self.num_val_batches):
            captions, features, _ = sample_coco_minibatch(self.data, self.batch_size, "val", self.rng)
            losses.append(self.model.loss(features, captions)[0])
        return float(np.mean(losses))

    def train(self):
        """Run the optimisation."""
        iterations_per_epoch = max(self.data["train_captions"].shape[0] // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        bar = util.progress(total=num_iterations, desc="training", **({} if self.progress else {"disable": True}))
        for t in range(num_iterations):
            self._step()
            bar.update()
            bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", refresh=False)
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
            if (t + 1) % iterations_per_epoch == 0:
                util.check_finite_loss(self.loss_history[-1], f"at iteration {t + 1}")
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
                if self.num_val_batches:
                    self.val_loss_history.append(self.validation_loss())
        bar.close()
