"""Speed of the vectorised NumPy convolution against the naive loops and torch.nn.functional.conv2d.

    python numpy_layers/benchmark_conv.py
    python numpy_layers/benchmark_conv.py --demo      # batch of 8, 3 repeats, naive loops on 1 example

Times forward plus backward (gradients of input and filters) on (64, 1, 28, 28) x (32, 1, 7, 7) and
(64, 16, 16, 16) x (32, 16, 3, 3), in float32 and float64, with the same number of threads for NumPy's
BLAS and PyTorch, and prints the ratios. Each figure is the best of --repeats runs. The naive loops are
timed on --naive-examples examples and scaled linearly to the batch (they are linear in it). The inputs are
random (--seed) and everything runs on the CPU: --data-dir and --device are not used.
"""
import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import util
from layers import conv_backward, conv_backward_naive, conv_forward, conv_forward_naive

CASES = [((64, 1, 28, 28), (32, 1, 7, 7)), ((64, 16, 16, 16), (32, 16, 3, 3))]


def best_time(step, repeats):
    """Shortest wall time of `repeats` calls of step() (after one warm-up call)."""
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_step(forward, backward, x, w):
    def step():
        out, cache = forward(x, w)
        backward(np.ones_like(out), cache)
    return step


def torch_step(x, w):
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def step():
        xt.grad = wt.grad = None
        out = torch.nn.functional.conv2d(xt, wt)
        out.backward(torch.ones_like(out))
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeats", type=util.positive(int), default=10, help="timed runs per figure (best kept)")
    parser.add_argument("--naive-examples", type=util.positive(int), default=2,
                        help="examples the naive loops are timed on (then scaled to the batch)")
    util.add_threads_arg(parser, 1, library="BLAS and torch")
    util.add_common_args(parser, epochs=0, unused=("data_dir", "device"),
                         demo_help="a batch of 8, 3 repeats, naive loops on 1 example (options given still win)")
    args = util.parse_args(parser, repeats=3, naive_examples=1)
    run = util.start_run(args, "benchmark_conv", "demo_" * args.demo + "random")
    rng = np.random.default_rng(args.seed)
    util.use_threads(args.threads)
    batch_scale = 8 if args.demo else 1       # the demo divides the batch by 8
    rows, metrics = [], {}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for x_shape, w_shape in CASES:
            x_shape = (x_shape[0] // batch_scale,) + x_shape[1:]
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal(x_shape).astype(dtype)
                w = rng.standard_normal(w_shape).astype(dtype)
                fast = best_time(numpy_step(conv_forward, conv_backward, x, w), args.repeats)
                reference = best_time(torch_step(x, w), args.repeats)
                few = min(args.naive_examples, x_shape[0])
                naive = best_time(numpy_step(conv_forward_naive, conv_backward_naive, x[:few], w), 1) * x_shape[0] / few
                label = f"{x_shape} x {w_shape} {np.dtype(dtype).name}"
                rows.append((label, fast, naive, reference))
                key = f"{'x'.join(map(str, x_shape))}_{'x'.join(map(str, w_shape))}_{np.dtype(dtype).name}"
                metrics[f"ratio_to_torch_{key}"] = fast / reference
                metrics[f"speedup_over_naive_{key}"] = naive / fast
                print(f"{label}: vectorised {fast * 1e3:.1f} ms, naive {naive * 1e3:.0f} ms, torch {reference * 1e3:.1f} ms")
    lines = [f"forward + backward, best of {args.repeats}, {args.threads} thread(s)", "",
             "| input x filters | vectorised (ms) | naive (ms) | torch conv2d (ms) | naive / vectorised | vectorised / torch |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {label} | {fast * 1e3:.1f} | {naive * 1e3:.0f} | {reference * 1e3:.1f} | {naive / fast:.0f}x | "
              f"{fast / reference:.2f}x |" for label, fast, naive, reference in rows]
    print("\n".join(lines))
    run.path("benchmark.md").write_text("\n".join(lines) + "\n")
    run.finish({**metrics, "threads": args.threads, "repeats": args.repeats})


if __name__ == "__main__":
    util.run_main(main)
