"""numpy_layers: every layer against numerical gradients, the naive loop references and PyTorch autograd."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "numpy_layers"))

from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error  # noqa: E402
from layers import *  # noqa: E402,F403
from rnn_layers import *  # noqa: E402,F403

POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def away_from_zero(rng, shape, margin=0.05):
    """Normal values with |x| >= margin, so that a numerical step of 1e-5 never crosses a relu kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


def numeric(f, inputs, dout):
    """Numerical gradients of sum(f(*inputs) * dout) with respect to every input."""
    grads = []
    for position in range(len(inputs)):
        def partial(value, position=position):
            args = list(inputs)
            args[position] = value
            return f(*args)
        grads.append(eval_numerical_gradient_array(partial, inputs[position], dout))
    return grads


def torch_grads(f, inputs, dout):
    """Output and input gradients of the same computation written with PyTorch autograd."""
    tensors = [torch.tensor(x, requires_grad=True) for x in inputs]
    out = f(*tensors)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# --------------------------------------------------------------------------- gradient_check itself

def test_numerical_gradient_of_known_functions(rng):
    x = rng.standard_normal((3, 4))
    assert rel_error(eval_numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2) < 1e-8
    df = rng.standard_normal((3, 4))
    assert rel_error(eval_numerical_gradient_array(np.sin, x, df), np.cos(x) * df) < 1e-8
    assert rel_error(np.ones(3), np.ones(3)) == 0
    assert rel_error(np.ones(3), 2 * np.ones(3)) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- fully connected, relu, softmax

def test_fc_hand_computed_case():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]])
    out, cache = fc_forward(x, w, np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(out, [[2.0, 3.0, 3.0]])
    dx, dw, db = fc_backward(np.ones((1, 3)), cache)
    np.testing.assert_allclose(dx, [[0.0, 3.5]])
    np.testing.assert_allclose(dw, [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_allclose(db, [1, 1, 1])


def test_fc_gradients_and_torch(rng):
    x, w, b = rng.standard_normal((5, 6)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    out, cache = fc_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    analytic = fc_backward(dout, cache)
    for a, n in zip(analytic, numeric(lambda *args: fc_forward(*args)[0], [x, w, b], dout)):
        assert rel_error(a, n) < 1e-7
    t_out, t_grads = torch_grads(lambda x, w, b: x @ w + b, [x, w, b], dout)
    np.testing.assert_allclose(out, t_out, rtol=1e-12, atol=1e-12)
    for a, t in zip(analytic, t_grads):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


def test_relu_gradients_and_torch(rng):
    x = away_from_zero(rng, (4, 7))
    out, cache = relu_forward(x)
    assert np.all(out >= 0) and np.array_equal(out[x > 0], x[x > 0])
    dout = rng.standard_normal(out.shape)
    dx = relu_backward(dout, cache)
    assert rel_error(dx, numeric(lambda v: relu_forward(v)[0], [x], dout)[0]) < 1e-7
    t_out, (t_dx,) = torch_grads(torch.relu, [x], dout)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(dx, t_dx)


def test_softmax_loss_hand_computed_and_torch(rng):
    loss, dx = softmax_loss(np.zeros((4, 10)), np.arange(4))
    assert loss == pytest.approx(math.log(10))
    np.testing.assert_allclose(dx[0], (np.full(10, 0.1) - np.eye(10)[0]) / 4)
    # Huge scores must not overflow.
    loss, dx = softmax_loss(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1000.0) and np.all(np.isfinite(dx))

    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss, dx = softmax_loss(x, y)
    assert rel_error(dx, eval_numerical_gradient(lambda v: softmax_loss(v, y)[0], x)) < 1e-7
    xt = torch.tensor(x, requires_grad=True)
    t_loss = F.cross_entropy(xt, torch.tensor(y))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- convolution and pooling

def test_conv_hand_computed_case():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])          # x[i, j] - x[i + 1, j + 1], not flipped
    out, _ = conv_forward(x, w)
    assert out.shape == (1, 1, 3, 3)
    np.testing.assert_allclose(out, -5.0)


@pytest.mark.parametrize("x_shape,w_shape", [((2, 3, 7, 8), (4, 3, 3, 2)), ((3, 1, 9, 9), (2, 1, 5, 5))])
def test_conv_matches_naive_reference(rng, x_shape, w_shape):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out, cache = conv_forward(x, w)
    out_naive, cache_naive = conv_forward_naive(x, w)
    np.testing.assert_allclose(out, out_naive, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for fast, slow in zip(conv_backward(dout, cache), conv_backward_naive(dout, cache_naive)):
        np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def test_conv_gradients_and_torch(rng):
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 3, 3, 2))
    out, cache = conv_forward(x, w)
    assert out.shape == (2, 3, 4, 4)
    dout = rng.standard_normal(out.shape)
    dx, dw = conv_backward(dout, cache)
    num_dx, num_dw = numeric(lambda *args: conv_forward(*args)[0], [x, w], dout)
    assert rel_error(dx, num_dx) < 1e-6 and rel_error(dw, num_dw) < 1e-6
    naive_dx, naive_dw = numeric(lambda *args: conv_forward_naive(*args)[0], [x, w], dout)
    assert rel_error(naive_dx, num_dx) < 1e-6 and rel_error(naive_dw, num_dw) < 1e-6
    t_out, (t_dx, t_dw) = torch_grads(F.conv2d, [x, w], dout)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw, t_dw, rtol=1e-10, atol=1e-12)


def test_conv_keeps_float32_and_rejects_bad_shapes(rng):
    x, w = rng.standard_normal((2, 1, 8, 8)).astype(np.float32), rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    out, cache = conv_forward(x, w)
    dx, dw = conv_backward(out, cache)
    assert out.dtype == dx.dtype == dw.dtype == np.float32
    with pytest.raises(ValueError, match="same C"):
        conv_forward(x, rng.standard_normal((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="larger"):
        conv_forward(x, rng.standard_normal((4, 1, 9, 3)))


def test_conv_and_pool_backward_take_integer_inputs(rng):
    # raw uint8 or int pixels: the gradients are floats, equal to those of the same values as floats
    x = rng.integers(0, 256, (2, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    for forward, backward in ((conv_forward, conv_backward), (conv_forward_naive, conv_backward_naive)):
        out, cache = forward(x, w)
        dout = rng.standard_normal(out.shape)
        for got, expected in zip(backward(dout, cache), backward(dout, forward(x.astype(float), w)[1])):
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, expected, rtol=1e-12)
    for forward, backward in ((max_pool_forward, max_pool_backward), (max_pool_forward_naive, max_pool_backward_naive)):
        pixels = x.astype(np.uint8)
        out, cache = forward(pixels, POOL)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dx = backward(dout, cache)
        assert dx.dtype == np.float32             # as for float32 images
        np.testing.assert_array_equal(dx, backward(dout, forward(pixels.astype(np.float32), POOL)[1]))


@pytest.mark.parametrize("pool_param", [POOL, {"pool_height": 3, "pool_width": 2, "stride": 1},
                                        {"pool_height": 2, "pool_width": 3, "stride": 2}])
def test_max_pool_matches_naive_and_torch(rng, pool_param):
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 0] = np.maximum(x[0, 0], 0)        # relu-like ties: the first maximum gets the gradient
    out, cache = max_pool_forward(x, pool_param)
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, out_naive)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    np.testing.assert_allclose(dx, max_pool_backward_naive(dout, cache_naive), rtol=1e-12, atol=1e-14)
    kernel, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
    t_out, (t_dx,) = torch_grads(lambda v: F.max_pool2d(v, kernel, stride), [x], dout)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-12, atol=1e-14)


def test_max_pool_hand_computed_case_and_gradient(rng):
    x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    out, cache = max_pool_forward(x, POOL)
    np.testing.assert_array_equal(out, [[[[4.0, 5.0]]]])
    np.testing.assert_array_equal(max_pool_backward(np.ones((1, 1, 1, 2)), cache),
                                  [[[[0, 0, 1, 0], [0, 1, 0, 0]]]])
    x = rng.permutation(np.linspace(-1, 1, 2 * 2 * 6 * 6)).reshape(2, 2, 6, 6)   # distinct values: no ties
    out, cache = max_pool_forward(x, POOL)
    dout = rng.standard_normal(out.shape)
    num_dx = numeric(lambda v: max_pool_forward(v, POOL)[0], [x], dout)[0]
    assert rel_error(max_pool_backward(dout, cache), num_dx) < 1e-6


def test_max_pool_gives_a_tied_windows_gradient_to_its_first_maximum_only():
    # the docstring's rule: tied maxima do not share; the first in row-major order takes all of dout
    x = np.array([[[[0.0, 0.0, -1.0, 2.0, 5.0, 1.0],       # window 1: all four tie at 0
                    [0.0, 0.0, 2.0, 2.0, 5.0, 5.0]]]])     # window 2: three tie at 2; window 3: 5s
    out, cache = max_pool_forward(x, POOL)
    np.testing.assert_array_equal(out, [[[[0.0, 2.0, 5.0]]]])
    dx = max_pool_backward(np.array([[[[3.0, 5.0, 7.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 5.0, 7.0, 0.0],
                                         [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]]])
    # overlapping windows (stride 1) over a constant image: each window's first cell, accumulated
    x = np.zeros((1, 1, 3, 3))
    out, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward(np.array([[[[1.0, 2.0], [4.0, 8.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1.0, 2.0, 0.0], [4.0, 8.0, 0.0], [0.0, 0.0, 0.0]])
    # and, with ties almost everywhere (values 0 or 1), the same as PyTorch and the loop reference
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (2, 3, 6, 7)).astype(float)
    for pool_param in (POOL, {"pool_height": 3, "pool_width": 2, "stride": 1}):
        out, cache = max_pool_forward(x, pool_param)
        dout = rng.standard_normal(out.shape)
        dx = max_pool_backward(dout, cache)
        kernel, stride = (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"]
        _, (t_dx,) = torch_grads(lambda v: F.max_pool2d(v, kernel, stride), [x], dout)
        np.testing.assert_allclose(dx, t_dx, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx, max_pool_backward_naive(dout, max_pool_forward_naive(x, pool_param)[1]),
                                   rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- recurrent layers

def test_sigmoid_is_stable():
    values = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0])


def test_rnn_step_gradients(rng):
    N, D, H = 3, 4, 5
    x, h, Wx, Wh, b = (rng.standard_normal(s) for s in [(N, D), (N, H), (D, H), (H, H), (H,)])
    next_h, cache = rnn_step_forward(x, h, Wx, Wh, b)
    np.testing.assert_allclose(next_h, np.tanh(x @ Wx + h @ Wh + b))
    dnext = rng.standard_normal(next_h.shape)
    analytic = rnn_step_backward(dnext, cache)
    for a, n in zip(analytic, numeric(lambda *args: rnn_step_forward(*args)[0], [x, h, Wx, Wh, b], dnext)):
        assert rel_error(a, n) < 1e-7


def test_rnn_sequence_gradients_and_torch(rng):
    T, N, D, H = 4, 2, 3, 5
    x, h0, Wx, Wh, b = (rng.standard_normal(s) * 0.5 for s in [(T, N, D), (N, H), (D, H), (H, H), (H,)])
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert h.shape == (T, N, H)
    dh = rng.standard_normal(h.shape)
    analytic = rnn_backward(dh, cache)
    for a, n in zip(analytic, numeric(lambda *args: rnn_forward(*args)[0], [x, h0, Wx, Wh, b], dh)):
        assert rel_error(a, n) < 1e-7
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh").double()      # time-major, like rnn_forward
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    t_h, _ = rnn(xt, h0t)
    t_h.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, t_h.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[0], xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[1], h0t.grad.numpy()[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[2], rnn.weight_ih_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[3], rnn.weight_hh_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[4], rnn.bias_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_gate_order_hand_computed():
    # Only the forget block's bias is large: the cell keeps prev_c, nothing new gets in (input gate 1/2,
    # candidate tanh(0) = 0), and the output gate is 1/2.
    H = 2
    b = np.zeros(4 * H)
    b[:H] = 50.0
    prev_c = np.array([[0.3, -0.7]])
    next_h, next_c, _ = lstm_step_forward(np.zeros((1, 1)), np.zeros((1, H)), prev_c, np.zeros((1, 4 * H)),
                                          np.zeros((H, 4 * H)), b)
    np.testing.assert_allclose(next_c, prev_c)
    np.testing.assert_allclose(next_h, 0.5 * np.tanh(prev_c))
    b = np.zeros(4 * H)
    b[2 * H:3 * H] = 50.0                                  # candidate block: tanh -> 1, input gate 1/2
    _, next_c, _ = lstm_step_forward(np.zeros((1, 1)), np.zeros((1, H)), prev_c, np.zeros((1, 4 * H)),
                                     np.zeros((H, 4 * H)), b)
    np.testing.assert_allclose(next_c, 0.5 * prev_c + 0.5)


def test_lstm_step_gradients(rng):
    N, D, H = 3, 4, 5
    x, h, c, Wx, Wh, b = (rng.standard_normal(s) * 0.5 for s in [(N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)])
    next_h, next_c, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
    dnext_h, dnext_c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    analytic = lstm_step_backward(dnext_h, dnext_c, cache)

    def both(*args):          # gradient of sum(next_h * dnext_h + next_c * dnext_c)
        out_h, out_c, _ = lstm_step_forward(*args)
        return np.stack([out_h, out_c])
    for a, n in zip(analytic, numeric(both, [x, h, c, Wx, Wh, b], np.stack([dnext_h, dnext_c]))):
        assert rel_error(a, n) < 1e-7


def test_lstm_sequence_gradients_and_torch(rng):
    T, N, D, H = 4, 2, 3, 5
    x, h0, Wx, Wh, b = (rng.standard_normal(s) * 0.5 for s in [(T, N, D), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,)])
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert h.shape == (T, N, H)
    dh = rng.standard_normal(h.shape)
    analytic = lstm_backward(dh, cache)
    for a, n in zip(analytic, numeric(lambda *args: lstm_forward(*args)[0], [x, h0, Wx, Wh, b], dh)):
        assert rel_error(a, n) < 1e-7
    # torch.nn.LSTM orders its gate blocks [input, forget, candidate, output]: reorder ours
    # [forget, input, candidate, output] to match.
    to_torch = np.concatenate([np.arange(H, 2 * H), np.arange(H), np.arange(2 * H, 4 * H)])
    lstm = torch.nn.LSTM(D, H).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(Wx[:, to_torch].T))
        lstm.weight_hh_l0.copy_(torch.tensor(Wh[:, to_torch].T))
        lstm.bias_ih_l0.copy_(torch.tensor(b[to_torch]))
        lstm.bias_hh_l0.zero_()
    xt, h0t = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    t_h, _ = lstm(xt, (h0t, torch.zeros(1, N, H, dtype=torch.float64)))
    t_h.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, t_h.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[0], xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[1], h0t.grad.numpy()[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[2][:, to_torch], lstm.weight_ih_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[3][:, to_torch], lstm.weight_hh_l0.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(analytic[4][to_torch], lstm.bias_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_word_embedding_gradients_and_torch(rng):
    V, D = 6, 3
    words = np.array([[0, 3, 1, 3], [5, 5, 2, 0]])        # repeated words must add up
    W = rng.standard_normal((V, D))
    out, cache = word_embedding_forward(words, W)
    assert out.shape == (2, 4, D)
    dout = rng.standard_normal(out.shape)
    dW = word_embedding_backward(dout, cache)
    assert rel_error(dW, numeric(lambda w: word_embedding_forward(words, w)[0], [W], dout)[0]) < 1e-7
    t_out, (t_dW,) = torch_grads(lambda w: F.embedding(torch.tensor(words), w), [W], dout)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_allclose(dW, t_dW, rtol=1e-12, atol=1e-14)


def test_temporal_fc_gradients_and_torch(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, cache = temporal_fc_forward(x, w, b)
    assert out.shape == (2, 3, 5)
    assert len(cache) == 4 and cache[0] is x and cache[3] is out
    dout = rng.standard_normal(out.shape)
    analytic = temporal_fc_backward(dout, cache)
    for a, n in zip(analytic, numeric(lambda *args: temporal_fc_forward(*args)[0], [x, w, b], dout)):
        assert rel_error(a, n) < 1e-7
    t_out, t_grads = torch_grads(lambda x, w, b: x @ w + b, [x, w, b], dout)
    np.testing.assert_allclose(out, t_out, rtol=1e-12, atol=1e-12)
    for a, t in zip(analytic, t_grads):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


def test_temporal_softmax_loss_gradients_and_torch(rng):
    N, T, V = 3, 4, 6
    x, y = rng.standard_normal((N, T, V)), rng.integers(0, V, (N, T))
    mask = rng.random((N, T)) > 0.3
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert rel_error(dx, eval_numerical_gradient(lambda v: temporal_softmax_loss(v, y, mask)[0], x)) < 1e-7
    assert np.all(dx[~mask] == 0)
    xt = torch.tensor(x, requires_grad=True)
    per_step = F.cross_entropy(xt.reshape(N * T, V), torch.tensor(y.ravel()), reduction="none")
    t_loss = (per_step * torch.tensor(mask.ravel(), dtype=torch.float64)).sum() / N
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    # Uniform scores, all steps counted: T * log(V) per sequence.
    loss, _ = temporal_softmax_loss(np.zeros((N, T, V)), y, np.ones((N, T), dtype=bool))
    assert loss == pytest.approx(T * math.log(V))
