"""Self-check of the NumPy layer library: PASS or FAIL for every layer and model.

    python numpy_layers/autograder.py

Each forward pass is compared with a case computed by hand, each backward pass with centred numerical
gradients (relative error below 1e-7 in float64; 1e-6 for convolution and pooling, whose sums are
longer), the fast convolution and pooling with their naive loop references. Exits with status 1 if
any check fails. The random inputs are fixed (seed 231) so that every run checks the same cases: a
gradient entry that happens to be close to 0 has a large relative error for numerical reasons alone.
Nothing is trained and no data is read: --seed, --epochs, --data-dir and --device are not used, and --demo
only names the run folder demo_checks.
"""
import argparse
import math
import sys

import numpy as np

import util
from cnn import ConvNet
from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from layers import *  # noqa: F403
from rnn import CaptioningRNN
from rnn_layers import *  # noqa: F403
from softmax import SoftmaxClassifier

TOLERANCE = 1e-7
CONV_TOLERANCE = 1e-6
MODEL_TOLERANCE = 1e-5      # whole models: a loss of ~10 limits the precision of centred differences
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


class Grader:
    def __init__(self, seed=231):
        self.rng = np.random.default_rng(seed)
        self.results = []

    def check(self, name, passed, detail):
        self.results.append((name, bool(passed)))
        print(f"{'PASS' if passed else 'FAIL'}  {name:42} {detail}")

    def close(self, name, actual, expected, reference="the hand-computed value"):
        error = rel_error(actual, expected)
        self.check(name, np.shape(actual) == np.shape(expected) and error < 1e-12,
                   f"max relative error {error:.1e} against {reference}")

    def gradients(self, name, forward, backward, inputs, tolerance=TOLERANCE):
        """forward(*inputs) -> (out, cache); backward(dout, cache) -> gradient(s) of the inputs in order."""
        out, cache = forward(*inputs)
        dout = self.rng.standard_normal(out.shape)
        analytic = backward(dout, cache)
        analytic = analytic if isinstance(analytic, tuple) else (analytic,)
        worst = 0.0
        for position, grad in enumerate(analytic):
            def partial(value, position=position):
                args = list(inputs)
                args[position] = value
                return forward(*args)[0]
            worst = max(worst, rel_error(grad, eval_numerical_gradient_array(partial, inputs[position], dout)))
        self.check(name, worst < tolerance, f"max relative error {worst:.1e} against numerical gradients "
                                            f"(tolerance {tolerance:.0e})")

    def model(self, name, model, X, y, tolerance=MODEL_TOLERANCE):
        _, grads = model.loss(X, y)
        worst = max(rel_error(grads[key], eval_numerical_gradient(lambda _: model.loss(X, y)[0], value))
                    for key, value in model.params.items())
        self.check(name, worst < tolerance, f"max relative error {worst:.1e} over all parameters "
                                            f"(tolerance {tolerance:.0e})")

    def normal(self, *shape, scale=1.0):
        return scale * self.rng.standard_normal(shape)


def check_feedforward(g):
    out, _ = fc_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]]), np.array([0.0, 1.0, 0.0]))
    g.close("fc_forward", out, np.array([[2.0, 3.0, 3.0]]))
    g.gradients("fc_backward", fc_forward, fc_backward, [g.normal(4, 5), g.normal(5, 3), g.normal(3)])

    g.close("relu_forward", relu_forward(np.array([-2.0, 0.0, 3.0]))[0], np.array([0.0, 0.0, 3.0]))
    x = g.normal(4, 6)
    x[np.abs(x) < 0.05] = 0.5                     # keep the numerical steps away from the kink
    g.gradients("relu_backward", relu_forward, relu_backward, [x])

    loss, _ = softmax_loss(np.zeros((3, 10)), np.array([0, 4, 9]))
    g.close("softmax_loss (value)", loss, math.log(10))
    y = g.rng.integers(0, 6, 5)
    x = g.normal(5, 6)
    _, dx = softmax_loss(x, y)
    error = rel_error(dx, eval_numerical_gradient(lambda v: softmax_loss(v, y)[0], x))
    g.check("softmax_loss (gradient)", error < TOLERANCE, f"max relative error {error:.1e} against numerical gradients")


def check_convolution_and_pooling(g):
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    g.close("conv_forward (filtering, not flipped)", conv_forward(x, np.array([[[[1.0, 0.0], [0.0, -1.0]]]]))[0],
            np.full((1, 1, 3, 3), -5.0))
    x, w = g.normal(2, 3, 7, 6), g.normal(4, 3, 3, 2)
    g.close("conv_forward = conv_forward_naive", conv_forward(x, w)[0], conv_forward_naive(x, w)[0],
            "the naive loops")
    g.gradients("conv_backward", conv_forward, conv_backward, [g.normal(2, 2, 6, 5), g.normal(3, 2, 3, 3)],
                CONV_TOLERANCE)
    g.gradients("conv_backward_naive", conv_forward_naive, conv_backward_naive,
                [g.normal(2, 2, 5, 5), g.normal(2, 2, 3, 2)], CONV_TOLERANCE)

    x = np.array([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    g.close("max_pool_forward", max_pool_forward(x, POOL)[0], np.array([[[[4.0, 5.0]]]]))
    x = g.normal(2, 3, 7, 8)
    g.close("max_pool_forward = max_pool_forward_naive", max_pool_forward(x, POOL)[0],
            max_pool_forward_naive(x, POOL)[0], "the naive loops")
    distinct = g.rng.permutation(np.linspace(-1, 1, 2 * 2 * 6 * 6)).reshape(2, 2, 6, 6)
    g.gradients("max_pool_backward", lambda v: max_pool_forward(v, POOL), max_pool_backward, [distinct],
                CONV_TOLERANCE)
    g.gradients("max_pool_backward_naive", lambda v: max_pool_forward_naive(v, POOL), max_pool_backward_naive,
                [distinct.copy()], CONV_TOLERANCE)


def check_recurrent(g):
    N, D, H, T = 3, 4, 5, 4
    b = g.normal(H)
    g.close("rnn_step_forward", rnn_step_forward(np.ones((1, D)), np.ones((1, H)), np.zeros((D, H)),
                                                 np.zeros((H, H)), b)[0], np.tanh(b)[None])
    g.gradients("rnn_step_backward", rnn_step_forward, rnn_step_backward,
                [g.normal(N, D), g.normal(N, H), g.normal(D, H), g.normal(H, H), g.normal(H)])
    g.gradients("rnn_forward / rnn_backward", rnn_forward, rnn_backward,
                [g.normal(T, N, D), g.normal(N, H), g.normal(D, H, scale=0.5), g.normal(H, H, scale=0.5), g.normal(H)])

    # Gate order [forget, input, candidate, output]: a large forget bias alone keeps the cell.
    prev_c = g.normal(1, H)
    forget = np.zeros(4 * H)
    forget[:H] = 50.0
    _, next_c, _ = lstm_step_forward(np.zeros((1, D)), np.zeros((1, H)), prev_c, np.zeros((D, 4 * H)),
                                     np.zeros((H, 4 * H)), forget)
    g.close("lstm_step_forward (gate order)", next_c, prev_c)

    def lstm_step(x, h, c, Wx, Wh, b):
        next_h, next_c, cache = lstm_step_forward(x, h, c, Wx, Wh, b)
        return np.stack([next_h, next_c]), cache
    g.gradients("lstm_step_backward", lstm_step, lambda d, cache: lstm_step_backward(d[0], d[1], cache),
                [g.normal(N, D, scale=0.5), g.normal(N, H, scale=0.5), g.normal(N, H, scale=0.5),
                 g.normal(D, 4 * H, scale=0.5), g.normal(H, 4 * H, scale=0.5), g.normal(4 * H, scale=0.5)])
    g.gradients("lstm_forward / lstm_backward", lstm_forward, lstm_backward,
                [g.normal(T, N, D, scale=0.5), g.normal(N, H, scale=0.5), g.normal(D, 4 * H, scale=0.5),
                 g.normal(H, 4 * H, scale=0.5), g.normal(4 * H, scale=0.5)])

    words, W = np.array([[0, 2], [2, 1]]), g.normal(3, 4)
    g.close("word_embedding_forward", word_embedding_forward(words, W)[0], W[[[0, 2], [2, 1]]])
    out, cache = word_embedding_forward(words, W)
    dout = g.normal(*out.shape)
    error = rel_error(word_embedding_backward(dout, cache),
                      eval_numerical_gradient_array(lambda v: word_embedding_forward(words, v)[0], W, dout))
    g.check("word_embedding_backward", error < TOLERANCE, f"max relative error {error:.1e} against numerical gradients")

    x, w, b = g.normal(2, 3, 4), g.normal(4, 5), g.normal(5)
    g.close("temporal_fc_forward", temporal_fc_forward(x, w, b)[0], np.einsum("ntd,dm->ntm", x, w) + b)
    g.gradients("temporal_fc_backward", temporal_fc_forward, temporal_fc_backward, [x, w, b])

    y = g.rng.integers(0, 6, (N, T))
    loss, _ = temporal_softmax_loss(np.zeros((N, T, 6)), y, np.ones((N, T), dtype=bool))
    g.close("temporal_softmax_loss (value)", loss, T * math.log(6))
    x, mask = g.normal(N, T, 6), g.rng.random((N, T)) > 0.3
    _, dx = temporal_softmax_loss(x, y, mask)
    error = rel_error(dx, eval_numerical_gradient(lambda v: temporal_softmax_loss(v, y, mask)[0], x))
    g.check("temporal_softmax_loss (gradient)", error < TOLERANCE,
            f"max relative error {error:.1e} against numerical gradients")


def check_models(g):
    X, y = g.normal(20, 30), g.rng.integers(0, 10, 20)
    loss, _ = SoftmaxClassifier(input_dim=30, hidden_dim=20, seed=0).loss(X, y)
    g.check("SoftmaxClassifier initial loss", abs(loss - math.log(10)) < 0.01, f"{loss:.4f}, log(10) = {math.log(10):.4f}")
    g.model("SoftmaxClassifier gradients", SoftmaxClassifier(input_dim=6, hidden_dim=5, num_classes=4,
                                                             weight_scale=0.5, reg=0.1, seed=1),
            g.normal(5, 6), g.rng.integers(0, 4, 5))
    X = g.normal(8, 1, 10, 10)
    loss, _ = ConvNet(input_dim=(1, 10, 10), num_filters=4, filter_size=3, hidden_dim=10, seed=0).loss(
        X, g.rng.integers(0, 10, 8))
    g.check("ConvNet initial loss", abs(loss - math.log(10)) < 0.01, f"{loss:.4f}, log(10) = {math.log(10):.4f}")
    g.model("ConvNet gradients", ConvNet(input_dim=(2, 8, 8), num_filters=3, filter_size=3, hidden_dim=6,
                                         num_classes=4, weight_scale=None, reg=0.05, seed=3),
            g.normal(3, 2, 8, 8), g.rng.integers(0, 4, 3))
    word_to_idx = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog"])}
    for cell in ("rnn", "lstm"):
        model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell,
                              dtype=np.float64, seed=0)
        # The initial word vectors are tiny (std 0.01), and so are the gradients through them: check at
        # a random point instead, where every gradient is large enough for centred differences.
        model.params = {key: g.normal(*value.shape, scale=0.4) for key, value in model.params.items()}
        captions = g.rng.integers(0, len(word_to_idx), (3, 5))
        g.model(f"CaptioningRNN ({cell}) gradients", model, g.normal(3, 5), captions)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=0, unused=("seed", "data_dir", "device"),
                         demo_help="the same checks (they read no data); the run folder is named demo_checks")
    args = parser.parse_args()
    run = util.start_run(args, "autograder", "demo_checks" if args.demo else "checks")
    grader = Grader()
    for section in (check_feedforward, check_convolution_and_pooling, check_recurrent, check_models):
        section(grader)
    failed = [name for name, passed in grader.results if not passed]
    print(f"\n{len(grader.results) - len(failed)} of {len(grader.results)} checks passed")
    util.save_json(grader.results, run.path("checks.json"))
    run.finish({"checks": len(grader.results), "checks_failed": len(failed), "failed": failed})
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    util.run_main(main)
