"""Convolutional network: conv - relu - 2x2 max pool - fc - relu - fc - softmax."""
import numpy as np

from layers import (conv_backward, conv_forward, fc_backward, fc_forward, max_pool_backward,
                    max_pool_forward, relu_backward, relu_forward, softmax_loss)

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


class ConvNet:
    """
    conv (num_filters filters of filter_size x filter_size, no bias, no padding, stride 1) - relu -
    2x2 max pool (stride 2) - fc (-> hidden_dim) - relu - fc (-> num_classes) - softmax,
    on inputs of shape (N, C, H, W) = (N, *input_dim).

    Learnable parameters in self.params: W1 (F, C, filter_size, filter_size), W2 (F * H_p * W_p,
    hidden_dim), b2 (hidden_dim,), W3 (hidden_dim, num_classes), b3 (num_classes,), with
    H_p = (H - filter_size + 1) // 2 and W_p likewise. Weights start at N(0, weight_scale^2), or with
    weight_scale=None at He initialisation N(0, 2 / fan_in) layer by layer; biases at 0; reg is the L2
    strength on the weights (loss += reg/2 * sum W^2).
    """

    def __init__(self, input_dim=(1, 28, 28), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float64, seed=None):
        rng = np.random.default_rng(seed)
        C, H, W = input_dim
        pooled = num_filters * ((H - filter_size + 1) // 2) * ((W - filter_size + 1) // 2)
        shapes = {"W1": (num_filters, C, filter_size, filter_size), "W2": (pooled, hidden_dim),
                  "W3": (hidden_dim, num_classes)}
        self.params = {}
        for name, shape in shapes.items():
            fan_in = np.prod(shape[1:]) if name == "W1" else shape[0]
            scale = np.sqrt(2 / fan_in) if weight_scale is None else weight_scale
            self.params[name] = (scale * rng.standard_normal(shape)).astype(dtype)
        self.params["b2"] = np.zeros(hidden_dim, dtype=dtype)
        self.params["b3"] = np.zeros(num_classes, dtype=dtype)
        self.reg = reg

    def loss(self, X, y=None):
        """
        Inputs:
        - X: images of shape (N, C, H, W)
        - y: labels of shape (N,), or None

        Returns:
        - without y: scores of shape (N, num_classes)
        - with y: (loss, grads), grads a dict with the keys and shapes of self.params
        """
        p = self.params
        out, conv_cache = conv_forward(X, p["W1"])
        out, relu1_cache = relu_forward(out)
        out, pool_cache = max_pool_forward(out, POOL_PARAM)
        pooled_shape = out.shape
        out, fc2_cache = fc_forward(out.reshape(out.shape[0], -1), p["W2"], p["b2"])
        out, relu2_cache = relu_forward(out)
        scores, fc3_cache = fc_forward(out, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dout = softmax_loss(scores, y)
        grads = {}
        dout, grads["W3"], grads["b3"] = fc_backward(dout, fc3_cache)
        dout = relu_backward(dout, relu2_cache)
        dout, grads["W2"], grads["b2"] = fc_backward(dout, fc2_cache)
        dout = max_pool_backward(dout.reshape(pooled_shape), pool_cache)
        dout = relu_backward(dout, relu1_cache)
        _, grads["W1"] = conv_backward(dout, conv_cache)
        for name in ("W1", "W2", "W3"):
            loss += 0.5 * self.reg * np.sum(p[name] * p[name])
            grads[name] += self.reg * p[name]
        return loss, grads
