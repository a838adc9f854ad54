"""Recurrent layers written without autograd: vanilla RNN and LSTM steps and sequences, word embeddings,
a temporal fully-connected layer and a masked temporal softmax loss.

Layouts follow the assignment: the sequence functions rnn_forward / lstm_forward are time-major
(x of shape (T, N, D), hidden states (T, N, H)), while word embeddings, the temporal fully-connected
layer and the temporal softmax loss are batch-major ((N, T, ...)). The LSTM's 4H gate blocks are in the
order [forget, input, candidate, output].
"""
import numpy as np

__all__ = [
    "sigmoid", "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "word_embedding_forward", "word_embedding_backward",
    "temporal_fc_forward", "temporal_fc_backward", "temporal_softmax_loss",
]


def sigmoid(x):
    """Numerically stable logistic function (never exponentiates a large positive number)."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """
    One timestep of a vanilla RNN with tanh: next_h = tanh(x @ Wx + prev_h @ Wh + b).

    Inputs:
    - x: input for this timestep, of shape (N, D)
    - prev_h: hidden state of the previous timestep, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: biases, of shape (H,)

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - cache: (x, prev_h, Wx, Wh, next_h)
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """
    Backward pass of one vanilla RNN timestep.

    Inputs:
    - dnext_h: gradient of the loss with respect to next_h, of shape (N, H)
    - cache: from rnn_step_forward

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the biases, of shape (H,)
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """
    Run a vanilla RNN over a whole (time-major) sequence.

    Inputs:
    - x: input sequence, of shape (T, N, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: biases, of shape (H,)

    Returns a tuple of:
    - h: hidden states of every timestep, of shape (T, N, H)
    - cache: list of the T step caches
    """
    T, N, _ = x.shape
    h = np.zeros((T, N, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[t], prev_h, Wx, Wh, b)
        h[t] = prev_h
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    """
    Backward pass of rnn_forward over the whole sequence.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (T, N, H)
    - cache: from rnn_forward

    Returns a tuple of:
    - dx: gradient of the inputs, of shape (T, N, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the biases, of shape (H,)
    """
    T, N, H = dh.shape
    x0, _, Wx, Wh, _ = cache[0]
    dx = np.zeros((T, N, x0.shape[1]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[t] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """
    One timestep of an LSTM. With a = x @ Wx + prev_h @ Wh + b split into four (N, H) blocks in the
    order [forget, input, candidate, output]:
    f = sigmoid(a_f), i = sigmoid(a_i), g = tanh(a_g), o = sigmoid(a_o),
    next_c = f * prev_c + i * g, next_h = o * tanh(next_c).

    Inputs:
    - x: input, of shape (N, D)
    - prev_h: previous hidden state, of shape (N, H)
    - prev_c: previous cell state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: biases, of shape (4H,)

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - next_c: next cell state, of shape (N, H)
    - cache: (x, prev_h, prev_c, Wx, Wh, f, i, g, o, tanh(next_c))
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    f, i, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
    g = np.tanh(a[:, 2 * H:3 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, f, i, g, o, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """
    Backward pass of one LSTM timestep.

    Inputs:
    - dnext_h: gradient of the next hidden state, of shape (N, H)
    - dnext_c: gradient of the next cell state, of shape (N, H)
    - cache: from lstm_step_forward

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dprev_c: gradient of the previous cell state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, f, i, g, o, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.concatenate([
        dc * prev_c * f * (1 - f),          # forget
        dc * g * i * (1 - i),               # input
        dc * i * (1 - g ** 2),              # candidate
        dnext_h * tanh_c * o * (1 - o),     # output
    ], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """
    Run an LSTM over a whole (time-major) sequence. The initial cell state is zero and the cell
    states are internal: only the hidden states are returned.

    Inputs:
    - x: input sequence, of shape (T, N, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: biases, of shape (4H,)

    Returns a tuple of:
    - h: hidden states of every timestep, of shape (T, N, H)
    - cache: list of the T step caches
    """
    T, N, _ = x.shape
    h = np.zeros((T, N, h0.shape[1]), dtype=np.result_type(x, h0, Wx))
    prev_h, prev_c = h0, np.zeros_like(h[0])
    cache = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[t], prev_h, prev_c, Wx, Wh, b)
        h[t] = prev_h
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    """
    Backward pass of lstm_forward over the whole sequence.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (T, N, H)
    - cache: from lstm_forward

    Returns a tuple of:
    - dx: gradient of the inputs, of shape (T, N, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    T, N, H = dh.shape
    x0, _, _, Wx, Wh = cache[0][:5]
    dx = np.zeros((T, N, x0.shape[1]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dtype=dh.dtype)
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    dprev_c = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[t] + dprev_h, dprev_c, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def word_embedding_forward(x, W):
    """
    Look up word vectors.

    Inputs:
    - x: integer array of shape (N, T) of word indices, each in 0 <= idx < V
    - W: word vectors, of shape (V, D)

    Returns a tuple of:
    - out: word vectors of every input word, of shape (N, T, D)
    - cache: (x, W)
    """
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    """
    Backward pass of word embeddings (words are integers: only the matrix gets a gradient).

    Inputs:
    - dout: upstream gradients, of shape (N, T, D)
    - cache: (x, W) from word_embedding_forward

    Returns:
    - dW: gradient of the word vectors, of shape (V, D); repeated words add up
    """
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x.ravel(), dout.reshape(-1, W.shape[1]))
    return dW


def temporal_fc_forward(x, w, b):
    """
    Fully-connected layer applied to every timestep of a batch of sequences.

    Inputs:
    - x: input, of shape (N, T, D)
    - w: weights, of shape (D, M)
    - b: biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, T, M)
    - cache: (x, w, b, out)
    """
    out = x @ w + b
    return out, (x, w, b, out)


def temporal_fc_backward(dout, cache):
    """
    Backward pass of temporal_fc_forward.

    Inputs:
    - dout: upstream gradients, of shape (N, T, M)
    - cache: (x, w, b, out) from temporal_fc_forward

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, T, D)
    - dw: gradient of the weights, of shape (D, M)
    - db: gradient of the biases, of shape (M,)
    """
    x, w, b, out = cache
    D, M = w.shape
    dx = dout @ w.T
    dw = x.reshape(-1, D).T @ dout.reshape(-1, M)
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    """
    Softmax loss at every timestep, summed over time (masked steps left out) and averaged over the
    minibatch.

    Inputs:
    - x: scores, of shape (N, T, V)
    - y: ground-truth indices, of shape (N, T), each in 0 <= y[i, t] < V
    - mask: boolean array of shape (N, T); mask[i, t] says whether x[i, t] counts in the loss

    Returns a tuple of:
    - loss: scalar
    - dx: gradient of the loss with respect to x, of shape (N, T, V)
    """
    N, T, V = x.shape
    x_flat, y_flat, mask_flat = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(mask_flat * log_probs[np.arange(N * T), y_flat]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N * T), y_flat] -= 1
    dx *= mask_flat[:, None] / N
    return loss, dx.reshape(N, T, V)
