"""Feed-forward layers written without autograd: every forward returns (out, cache), every backward
takes (dout, cache) and returns the gradients of the forward's inputs.

The public convolution and pooling functions are vectorised (im2col through stride tricks plus one
matrix product); the `*_naive` loop versions follow the assignment's derivation literally and serve
as the reference in the tests and in autograder.py. Keep them for small inputs only.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "fc_forward", "fc_backward", "relu_forward", "relu_backward",
    "conv_forward", "conv_backward", "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward", "max_pool_backward", "max_pool_forward_naive", "max_pool_backward_naive",
    "softmax_loss",
]


def _grad_dtype(x, dout):
    """dtype of the gradient of input x: floating even for integer x (raw pixels), whose own dtype
    could not hold the accumulated gradient; float32 stays float32."""
    return np.result_type(x, dout, np.float32)


def fc_forward(x, w, b):
    """
    Forward pass of a fully-connected (affine) layer: out = x @ w + b.

    Inputs:
    - x: input of shape (N, D_in); any (N, d_1, ..., d_k) with d_1 * ... * d_k = D_in is flattened
    - w: weights of shape (D_in, D_out)
    - b: biases of shape (D_out,)

    Returns a tuple of:
    - out: output of shape (N, D_out)
    - cache: (x, w, b)
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def fc_backward(dout, cache):
    """
    Backward pass of a fully-connected layer.

    Inputs:
    - dout: upstream gradient of shape (N, D_out)
    - cache: (x, w, b) from fc_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of the shape of x
    - dw: gradient with respect to w, of shape (D_in, D_out)
    - db: gradient with respect to b, of shape (D_out,)
    """
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """
    Forward pass of a rectified linear unit: out = max(x, 0).

    Input:
    - x: input of any shape

    Returns a tuple of:
    - out: output of the shape of x
    - cache: x
    """
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """
    Backward pass of a rectified linear unit (the gradient at x == 0 is taken as 0, as in PyTorch).

    Inputs:
    - dout: upstream gradient of any shape
    - cache: the input x of relu_forward, of the same shape

    Returns:
    - dx: gradient with respect to x
    """
    x = cache
    return dout * (x > 0)


def _check_conv_shapes(x, w):
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise ValueError(f"conv expects x (N, C, H, W) and w (F, C, HH, WW) with the same C, "
                         f"got {x.shape} and {w.shape}")
    if w.shape[2] > x.shape[2] or w.shape[3] > x.shape[3]:
        raise ValueError(f"filter {w.shape[2:]} is larger than the input {x.shape[2:]}")


def conv_forward_naive(x, w):
    """
    Reference loop implementation of conv_forward (same inputs and outputs). For tests on small inputs.
    """
    _check_conv_shapes(x, w)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = H - HH + 1, W - WW + 1
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, f, i, j] = np.sum(x[n, :, i:i + HH, j:j + WW] * w[f])
    return out, (x, w)


def conv_backward_naive(dout, cache):
    """
    Reference loop implementation of conv_backward (same inputs and outputs). For tests on small inputs.
    """
    x, w = cache
    _, _, HH, WW = w.shape
    N, F, H_out, W_out = dout.shape
    dx, dw = np.zeros(x.shape, _grad_dtype(x, dout)), np.zeros(w.shape, _grad_dtype(w, dout))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    dx[n, :, i:i + HH, j:j + WW] += dout[n, f, i, j] * w[f]
                    dw[f] += dout[n, f, i, j] * x[n, :, i:i + HH, j:j + WW]
    return dx, dw


def conv_forward(x, w):
    """
    Forward pass of a convolutional layer without bias, padding 0 and stride 1, in the filtering
    (cross-correlation) form: out[n, f, i, j] = sum_{c, p, q} x[n, c, i + p, j + q] * w[f, c, p, q].

    Each example's receptive fields are laid out as the columns of a (C*HH*WW, H'*W') matrix (im2col,
    built from a strided view of x without Python loops), so the layer is one batched matrix product.

    Inputs:
    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C, HH, WW)

    Returns a tuple of:
    - out: output of shape (N, F, H', W') with H' = H - HH + 1, W' = W - WW + 1
    - cache: (x, w, cols) with cols the im2col matrix of shape (N, C*HH*WW, H'*W')
    """
    _check_conv_shapes(x, w)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = H - HH + 1, W - WW + 1
    windows = sliding_window_view(x, (HH, WW), axis=(2, 3))          # (N, C, H', W', HH, WW), a view
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * HH * WW, H_out * W_out)  # the one copy
    out = np.matmul(w.reshape(F, -1), cols).reshape(N, F, H_out, W_out)
    return out, (x, w, cols)


def conv_backward(dout, cache):
    """
    Backward pass of conv_forward.

    Inputs:
    - dout: upstream gradient of shape (N, F, H', W')
    - cache: (x, w, cols) from conv_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    - dw: gradient with respect to w, of shape (F, C, HH, WW)
    """
    x, w, cols = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    dout_mat = dout.reshape(N, F, H_out * W_out)
    # Per-example products summed over the batch: no transposed copy of the large cols matrix.
    dw = np.matmul(dout_mat, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    # col2im: the column gradients of every filter tap (p, q) go back to the input shifted by (p, q).
    dcols = np.matmul(w.reshape(F, -1).T, dout_mat).reshape(N, C, HH, WW, H_out, W_out)
    dx = np.zeros(x.shape, _grad_dtype(x, dout))
    for p in range(HH):
        for q in range(WW):
            dx[:, :, p:p + H_out, q:q + W_out] += dcols[:, :, p, q]
    return dx, dw


def _pool_dims(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    if ph > H or pw > W or stride < 1:
        raise ValueError(f"pool {ph}x{pw} stride {stride} does not fit an input of size {H}x{W}")
    return N, C, (H - ph) // stride + 1, (W - pw) // stride + 1, ph, pw, stride


def max_pool_forward_naive(x, pool_param):
    """
    Reference loop implementation of max_pool_forward (same inputs and outputs). For small inputs.
    """
    N, C, H_out, W_out, ph, pw, stride = _pool_dims(x, pool_param)
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """
    Reference loop implementation of max_pool_backward: the gradient goes to the first maximum of
    each window (row-major order), like PyTorch.
    """
    x, pool_param = cache
    N, C, H_out, W_out, ph, pw, stride = _pool_dims(x, pool_param)
    dx = np.zeros(x.shape, _grad_dtype(x, dout))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


def _window_taps(x, H_out, W_out, ph, pw, stride):
    """For every window position (p, q) in row-major order, the (N, C, H', W') strided view of x
    holding that position of every pooling window."""
    return [x[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride]
            for p in range(ph) for q in range(pw)]


def max_pool_forward(x, pool_param):
    """
    Forward pass of a max-pooling layer, vectorised over the pool_height * pool_width window
    positions (each one a strided slice of x), so that all arithmetic is elementwise on whole arrays.

    Inputs:
    - x: input of shape (N, C, H, W)
    - pool_param: dict with keys
      - 'pool_height': height of each pooling region
      - 'pool_width': width of each pooling region
      - 'stride': distance between adjacent pooling regions

    Returns a tuple of:
    - out: output of shape (N, C, H', W') with H' = (H - pool_height) // stride + 1,
      W' = (W - pool_width) // stride + 1
    - cache: (x, pool_param, taps, out) with taps of shape (pool_height * pool_width, N, C, H', W')
    """
    N, C, H_out, W_out, ph, pw, stride = _pool_dims(x, pool_param)
    taps = np.stack(_window_taps(x, H_out, W_out, ph, pw, stride))
    out = taps.max(axis=0)
    return out, (x, pool_param, taps, out)


def max_pool_backward(dout, cache):
    """
    Backward pass of max_pool_forward: each window's gradient goes to its first maximum (row-major
    order), like PyTorch, so tied maxima (say, zeros after a relu) do not share the gradient.

    Inputs:
    - dout: upstream gradient of shape (N, C, H', W')
    - cache: (x, pool_param, taps, out) from max_pool_forward

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param, taps, out = cache
    N, C, H_out, W_out, ph, pw, stride = _pool_dims(x, pool_param)
    dx = np.zeros(x.shape, _grad_dtype(x, dout))
    unclaimed = np.ones(out.shape, dtype=bool)   # windows whose maximum has not been found yet
    for dx_tap, tap in zip(_window_taps(dx, H_out, W_out, ph, pw, stride), taps):
        is_max = (tap == out) & unclaimed
        unclaimed &= ~is_max
        dx_tap += dout * is_max   # dx_tap is a view of dx: overlapping windows accumulate
    return dx


def softmax_loss(x, y):
    """
    Softmax (cross-entropy) loss and its gradient, averaged over the minibatch.

    Inputs:
    - x: class scores of shape (N, C)
    - y: labels of shape (N,), with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar, mean over the N examples of -log softmax(x[i])[y[i]]
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
