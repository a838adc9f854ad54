"""Two-layer fully-connected network with a softmax loss: fc - relu - fc - softmax."""
import numpy as np

from layers import fc_backward, fc_forward, relu_backward, relu_forward, softmax_loss


class SoftmaxClassifier:
    """
    Two-layer network for inputs of dimension D = input_dim and C = num_classes classes:
    fc (D -> hidden_dim) - relu - fc (hidden_dim -> C) - softmax. With hidden_dim=None the hidden
    layer is left out and the model is plain multinomial logistic regression (fc - softmax).

    Learnable parameters live in self.params: W1 (D, hidden_dim), b1 (hidden_dim,), W2 (hidden_dim, C),
    b2 (C,) (or only W1 (D, C), b1 (C,) without a hidden layer). Biases start at 0, weights at
    N(0, weight_scale^2), or with weight_scale=None at He initialisation N(0, 2 / fan_in) layer by layer;
    reg is the L2 strength on the weights (loss += reg/2 * sum W^2).
    """

    def __init__(self, input_dim=784, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float64, seed=None):
        rng = np.random.default_rng(seed)
        self.reg = reg
        sizes = [input_dim, num_classes] if hidden_dim is None else [input_dim, hidden_dim, num_classes]
        self.num_layers = len(sizes) - 1
        self.params = {}
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            scale = np.sqrt(2 / fan_in) if weight_scale is None else weight_scale
            self.params[f"W{layer}"] = (scale * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{layer}"] = np.zeros(fan_out, dtype=dtype)

    def loss(self, X, y=None):
        """
        Inputs:
        - X: array of shape (N, input_dim) (or (N, d_1, ..., d_k) with product input_dim)
        - y: labels of shape (N,), y[i] in 0..C-1, or None

        Returns:
        - without y: scores of shape (N, C)
        - with y: (loss, grads), grads a dict with the keys and shapes of self.params
        """
        caches = []
        out = X
        for layer in range(1, self.num_layers + 1):
            out, cache = fc_forward(out, self.params[f"W{layer}"], self.params[f"b{layer}"])
            caches.append(cache)
            if layer < self.num_layers:
                out, cache = relu_forward(out)
                caches.append(cache)
        if y is None:
            return out

        loss, dout = softmax_loss(out, y)
        grads = {}
        for layer in range(self.num_layers, 0, -1):
            if layer < self.num_layers:
                dout = relu_backward(dout, caches.pop())
            dout, dW, db = fc_backward(dout, caches.pop())
            W = self.params[f"W{layer}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{layer}"] = dW + self.reg * W
            grads[f"b{layer}"] = db
        return loss, grads
