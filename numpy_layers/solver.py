"""Minibatch training loop for the NumPy models (the assignment's Solver API).

    solver = Solver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    solver.check_accuracy(X_test, y_test)

`model` has a dict `params` of arrays and `loss(X, y=None)` returning scores (N, C) without labels and
(loss, grads) with them. `data` holds 'X_train', 'y_train', 'X_val', 'y_val'. After train(),
model.params holds the parameters of the epoch with the best validation accuracy.
"""
import numpy as np

import optim
import util


class Solver:
    """
    Trains `model` on data['X_train'], data['y_train'] with the update rule of optim.py named by
    update_rule, checking accuracy on a subsample of the training set and on the validation set at
    the end of every epoch.

    Optional keyword arguments:
    - update_rule: name of a function in optim.py (default 'sgd') or such a function itself
    - optim_config: hyperparameters of the update rule, copied for every parameter
    - lr_decay: the learning rate is multiplied by this after every epoch
    - batch_size, num_epochs: minibatch size and number of passes over the training data
    - num_train_samples: training examples used for the train accuracy (default 1000; None: all)
    - num_val_samples: validation examples used for the val accuracy (default None: all)
    - print_every: print the loss every that many iterations (when verbose)
    - verbose: print progress; progress: show a tqdm bar over the iterations
    - seed: seed of the shuffling (every epoch visits the training set in a new random order)
    Attributes after train(): loss_history (per iteration), train_acc_history, val_acc_history
    (per epoch, plus one before training), best_val_acc, best_epoch (0: before training), best_params.
    Each train() starts afresh from the model's current parameters: histories, best values and the
    update rule's state (moments, decayed learning rate) are those of that call only.
    """

    def __init__(self, model, data, **kwargs):
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.print_every = kwargs.pop("print_every", 100)
        self.verbose = kwargs.pop("verbose", True)
        self.progress = kwargs.pop("progress", False)
        self.rng = np.random.default_rng(kwargs.pop("seed", None))
        if kwargs:
            raise ValueError(f"unrecognized Solver arguments: {', '.join(kwargs)}")
        self.update_rule = optim.get_update_rule(update_rule)
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_epoch = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self, batch):
        """One minibatch (an index array): forward, backward, update every parameter."""
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(float(loss))
        for name, value in self.model.params.items():
            new_value, self.optim_configs[name] = self.update_rule(value, grads[name], self.optim_configs[name])
            self.model.params[name] = new_value

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Accuracy of the model on (X, y), on a random subsample of num_samples examples if given.

        Inputs:
        - X: data of shape (N, d_1, ..., d_k); y: labels of shape (N,)
        Returns:
        - acc: fraction of correctly classified examples
        """
        if num_samples is not None and X.shape[0] > num_samples:
            subset = self.rng.choice(X.shape[0], num_samples, replace=False)
            X, y = X[subset], y[subset]
        return float(np.mean(self.predict(X, batch_size) == y))

    def predict(self, X, batch_size=100):
        """Predicted classes of shape (N,) for X, computed batch_size examples at a time."""
        return np.concatenate([np.argmax(self.model.loss(X[start:start + batch_size]), axis=1)
                               for start in range(0, X.shape[0], batch_size)])

    def _record_accuracies(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:.4f}; val_acc: {val_acc:.4f}")
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc, self.best_epoch = val_acc, self.epoch
            self.best_params = {name: value.copy() for name, value in self.model.params.items()}

    def train(self):
        """Run the optimisation, then keep the parameters of the best validation accuracy."""
        self._reset()   # else a second call would compare with, and append to, the first call's results
        iterations_per_epoch = max(self.X_train.shape[0] // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        self._record_accuracies()
        bar = util.progress(total=num_iterations, desc="training", **({} if self.progress else {"disable": True}))
        for t in range(num_iterations):
            if t % iterations_per_epoch == 0:
                order = self.rng.permutation(self.X_train.shape[0])
            start = (t % iterations_per_epoch) * self.batch_size
            self._step(order[start:start + self.batch_size])
            bar.update()
            bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", refresh=False)
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
            if (t + 1) % iterations_per_epoch == 0:
                util.check_finite_loss(self.loss_history[-1], f"at iteration {t + 1}")
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
                self._record_accuracies()
        bar.close()
        # copies: the update rules change arrays in place, and best_params must stay what it says
        self.model.params = {name: value.copy() for name, value in self.best_params.items()}
