"""Numerical gradients by centred differences, to check the analytic backward passes."""
import numpy as np


def rel_error(x, y):
    """Largest elementwise relative error max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """
    Numerical gradient of a scalar function at x, one coordinate at a time.

    Inputs:
    - f: function of one argument returning a scalar; x is modified in place and restored
    - x: float array (any shape), the point at which to evaluate the gradient
    - verbose: print every coordinate's gradient
    - h: half the width of the centred difference

    Returns:
    - grad: array of the shape of x, df/dx
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        f_plus = f(x)
        x[index] = old - h
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, grad[index])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """
    Numerical gradient of sum(f(x) * df) for an array-valued f: the backward pass of f with
    upstream gradient df.

    Inputs:
    - f: function of one argument returning an array; x is modified in place and restored
    - x: float array (any shape)
    - df: upstream gradient, of the shape of f(x)
    - h: half the width of the centred difference

    Returns:
    - grad: array of the shape of x
    """
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        f_plus = f(x).copy()
        x[index] = old - h
        f_minus = f(x).copy()
        x[index] = old
        grad[index] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """
    Compare the analytic gradient with the numerical one at `num_checks` random coordinates.

    Inputs:
    - f: scalar function of one argument (x is modified in place and restored)
    - x: float array
    - analytic_grad: array of the shape of x
    - num_checks: how many random coordinates to check

    Returns:
    - the largest relative error over the checked coordinates
    """
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(num_checks):
        index = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[index]
        x[index] = old + h
        f_plus = f(x)
        x[index] = old - h
        f_minus = f(x)
        x[index] = old
        numeric = (f_plus - f_minus) / (2 * h)
        error = rel_error(numeric, analytic_grad[index])
        print(f"numerical: {numeric:f} analytic: {analytic_grad[index]:f}, relative error: {error:e}")
        worst = max(worst, error)
    return worst
