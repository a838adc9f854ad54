"""Training throughput of part 2's hand-written TensorFlow LSTM against PyTorch's nn.LSTM, as a ratio.

    python benchmarks/lstm_throughput.py                       # defaults below, 2 threads each
    python benchmarks/lstm_throughput.py --seq-len 200 --steps 20

Both sides train the same sentence classifier on the same random token batches: embedding (V, E) ->
one LSTM layer (H) -> the state after the last real token -> dense (C), softmax cross-entropy, Adam,
gradient clipping. TensorFlow: part2_tensorflow/text_rnn.py (tf.while_loop in a tf.function).
PyTorch: part1_pytorch/text_models.py's RNNClassifier (nn.LSTM on packed sequences). Each framework runs
in its own subprocess (TensorFlow and torchvision must not share one) with the same thread count, and is
timed over `--steps` training steps after `--warmup` untimed ones (tracing, allocation).
Prints sequences per second for each and the ratio TensorFlow / PyTorch, by the wall clock and per
CPU-second of the process (the fairer figure when other programs share the CPU; with --threads 1 it
counts no thread's idle spinning).
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import util

REPO = Path(__file__).resolve().parents[1]


def make_batches(args):
    """The same (tokens (B, T), lengths (B,), labels (B,)) batches on both sides, lengths in [T/2, T]."""
    rng = np.random.default_rng(args.seed)
    batches = []
    for _ in range(args.warmup + args.steps):
        lengths = rng.integers(max(1, args.seq_len // 2), args.seq_len + 1, args.batch_size)  # no empty sequence
        lengths[0] = args.seq_len
        tokens = rng.integers(2, args.vocab_size, (args.batch_size, args.seq_len))
        tokens[np.arange(args.seq_len)[None, :] >= lengths[:, None]] = 0
        batches.append((tokens, lengths, rng.integers(0, args.num_classes, args.batch_size)))
    return batches


def time_steps(step, batches, warmup: int) -> dict:
    """Wall-clock and CPU seconds (all threads of the process) of the steps after the warm-up."""
    for batch in batches[:warmup]:
        step(*batch)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches[warmup:]:
        step(*batch)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def worker_tensorflow(args) -> dict:
    sys.path.insert(0, str(REPO / "part2_tensorflow"))
    util.import_tensorflow_quietly()
    import tensorflow as tf
    import text_rnn
    from tf_training import use_device
    use_device("cpu")  # a CPU benchmark on both sides, even where TensorFlow would pick a GPU
    util.use_threads(args.threads, "tensorflow")
    tf.random.set_seed(args.seed)
    model = text_rnn.TextRNN(args.vocab_size, args.num_classes, args.embedding_dim, args.hidden_dim, "lstm")
    train_step = text_rnn.make_train_step(model, text_rnn.Adam(model.trainable_variables, 1e-3, clip=5.0))

    def step(tokens, lengths, labels):
        train_step(tokens.astype(np.int32), lengths.astype(np.int32), labels).numpy()
    return time_steps(step, make_batches(args), args.warmup)


def worker_torch(args) -> dict:
    import torch
    sys.path.insert(0, str(REPO / "part1_pytorch"))
    from text_models import RNNClassifier
    util.use_threads(args.threads)
    torch.manual_seed(args.seed)
    model = RNNClassifier(args.vocab_size, args.embedding_dim, args.hidden_dim, args.num_classes, unit="lstm")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(tokens, lengths, labels):
        optimizer.zero_grad()
        logits = model(torch.from_numpy(tokens.T.copy()), torch.from_numpy(lengths))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    return time_steps(step, make_batches(args), args.warmup)


WORKERS = {"tensorflow": worker_tensorflow, "pytorch": worker_torch}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--vocab-size", type=util.positive(), default=20000, help="vocabulary size V")
    parser.add_argument("--embedding-dim", type=util.positive(), default=128, help="embedding size E")
    parser.add_argument("--hidden-dim", type=util.positive(), default=128, help="hidden size H")
    parser.add_argument("--num-classes", type=util.positive(), default=2, help="classes C")
    parser.add_argument("--seq-len", type=util.positive(), default=50, help="longest sequence; lengths in [T/2, T]")
    parser.add_argument("--steps", type=util.positive(), default=30, help="timed training steps")
    parser.add_argument("--warmup", type=util.positive(), default=3, help="untimed steps first")
    util.add_threads_arg(parser, 2, library="torch and TensorFlow", why="each, in its own process")
    util.add_common_args(parser, epochs=0, batch_size=64, unused=("data_dir", "device"),
                         results_help="folder for metrics.json (default: results/lstm_throughput/random_tokens_lstm/)",
                         demo_help="3 small steps: shows that it runs, measures nothing")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    args = util.parse_args(parser, steps=3, warmup=1, vocab_size=2000)  # the workers receive the same arguments
    if args.vocab_size < 3:  # ids 0 and 1 are padding and <unk>: the random tokens are drawn from 2 .. V-1
        util.fail(f"--vocab-size {args.vocab_size} leaves no word ids (0 and 1 are padding and <unk>): use at least 3")
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return

    argv = [a for a in sys.argv[1:]]
    run = util.start_run(args, "lstm_throughput", "demo_" * args.demo + "random_tokens", "lstm")
    rates = {}
    for name in WORKERS:
        print(f"timing {name} ({args.steps} steps of {args.batch_size} sequences, T <= {args.seq_len}) ...")
        result = subprocess.run([sys.executable, __file__, *argv, "--worker", name], capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            util.fail(f"the {name} worker failed ({last}): run it alone with --worker {name} to see why")
        seconds = json.loads(result.stdout.strip().splitlines()[-1])
        rates[name] = {clock: args.steps * args.batch_size / seconds[clock] for clock in seconds}
        print(f"{name:>10}: {rates[name]['wall']:8.1f} sequences/s, {rates[name]['cpu']:8.1f} per CPU-second")
    print(f"configuration: V={args.vocab_size} E={args.embedding_dim} H={args.hidden_dim} C={args.num_classes} "
          f"B={args.batch_size} T<={args.seq_len}, {args.threads} threads; PyTorch side: "
          f"part1_pytorch/text_models.py RNNClassifier (nn.LSTM)")
    ratios = {clock: rates["tensorflow"][clock] / rates["pytorch"][clock] for clock in ("wall", "cpu")}
    for clock, what in (("wall", "sequences/s"), ("cpu", "sequences per CPU-second")):
        print(f"ratio TensorFlow / PyTorch, {what}: {ratios[clock]:.2f}")
    run.finish({"sequences_per_second": rates, "ratio_tensorflow_over_pytorch": ratios,
                "configuration": {k: getattr(args, k) for k in ("vocab_size", "embedding_dim", "hidden_dim",
                                                                 "num_classes", "batch_size", "seq_len", "steps",
                                                                 "threads")}})


if __name__ == "__main__":
    util.run_main(main)
