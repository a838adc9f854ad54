"""First-order update rules. Each has the signature

    next_w, config = update(w, dw, config)

with w the current weights, dw their gradient (same shape) and config a dict of hyperparameters and
state (momentum buffers, moment estimates) that the caller passes back on the next step. Every
rule takes 'learning_rate' in config; missing hyperparameters get the defaults below.
"""
import numpy as np


def sgd(w, dw, config=None):
    """
    Vanilla stochastic gradient descent: w -= learning_rate * dw.

    config: learning_rate (default 1e-2).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    Stochastic gradient descent with momentum: v = momentum * v - learning_rate * dw; w += v.

    config: learning_rate (1e-2), momentum (0.9), velocity (state, same shape as w).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    """
    RMSProp: a running average of squared gradients sets a per-parameter step size.

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (state, same shape as w).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w))
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw ** 2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w, dw, config=None):
    """
    Adam: bias-corrected running averages of the gradient and its square.

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8),
    m, v (state, same shape as w), t (step count).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config.get("t", 0) + 1
    beta1, beta2 = config["beta1"], config["beta2"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


def get_update_rule(update_rule):
    """The update function for a solver: one of UPDATE_RULES by name, or a callable (w, dw, config) -> (next_w, config)."""
    if callable(update_rule):
        return update_rule
    if update_rule in UPDATE_RULES:
        return globals()[update_rule]
    raise ValueError(f'invalid update_rule "{update_rule}": use one of {", ".join(UPDATE_RULES)} or a function')
