"""Run every script of the repository in turn and print one summary table.

    python run_all.py --demo     small generated demo data, no download (what `make demo` runs)
    python run_all.py            the real datasets with default settings, downloading what is missing (`make all`)

Each script runs in its own process (TensorFlow and torchvision must not share one) and writes its
usual run folder under results/; the table at the end is read from the metrics.json files it wrote.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import dataset
import util

# (script, arguments for --demo, arguments for the real run, datasets the real run needs);
# None instead of arguments: the step does not run in that mode. Later steps may use earlier runs' models
# ({results} stands for the results root).
STEPS = [
    ("numpy_layers/autograder.py", [], [], []),
    ("numpy_layers/benchmark_conv.py", [], [], []),
    ("numpy_layers/digit_classification.py", [], [], ["mnist"]),
    ("numpy_layers/digit_classification.py", None, ["--dataset", "fashion_mnist"], ["fashion_mnist"]),
    ("numpy_layers/image_captioning.py", [], [], ["coco_captioning"]),
    ("part1_pytorch/cifar_pytorch.py", [], [], ["cifar100"]),
    ("part1_pytorch/feature.py", ["--weights", "none"], [], ["hymenoptera"]),
    ("part1_pytorch/finetune.py", ["--weights", "none"], [], ["hymenoptera"]),
    ("part1_pytorch/finetune.py", ["--weights", "none", "--augment"], ["--augment"], ["hymenoptera"]),
    ("part1_pytorch/predict.py", [], None, []),
    ("part1_pytorch/export.py", [], None, []),
    ("part1_pytorch/transfer_learning.py", ["--weights", "none"], [], ["hymenoptera"]),
    ("part1_pytorch/style_transfer.py", ["--weights", "none"], None, []),
    ("part1_pytorch/sentiment_lstm.py", [], [], ["sentiment"]),
    ("part1_pytorch/sentiment_gru.py", [], [], ["sentiment"]),
    ("part1_pytorch/spam_lstm.py", [], [], ["spam"]),
    ("part1_pytorch/spam_gru.py", [], [], ["spam"]),
    # part 1 questions and newsgroups start from GloVe by default
    ("part1_pytorch/questions_lstm.py", [], [], ["questions", "glove"]),
    ("part1_pytorch/questions_gru.py", [], [], ["questions", "glove"]),
    ("part1_pytorch/newsgroups_lstm.py", [], [], ["newsgroups", "glove"]),
    ("part1_pytorch/newsgroups_gru.py", [], [], ["newsgroups", "glove"]),
    ("part1_pytorch/predict_text.py", [], None, []),
    ("part1_pytorch/text_classification.py", ["--all"], ["--all"], ["sentiment", "glove"]),
    ("part1_pytorch/char_rnn.py", [], None, []),
    ("part2_tensorflow/cifar_tensorflow.py", [], [], ["cifar100"]),
    ("part2_tensorflow/sentiment_lstm.py", [], [], ["sentiment"]),
    ("part2_tensorflow/sentiment_gru.py", [], [], ["sentiment"]),
    ("part2_tensorflow/spam_lstm.py", [], [], ["spam"]),
    ("part2_tensorflow/spam_gru.py", [], [], ["spam"]),
    ("part2_tensorflow/questions_lstm.py", [], [], ["questions"]),
    ("part2_tensorflow/questions_gru.py", [], [], ["questions"]),
    ("part2_tensorflow/newsgroups_lstm.py", [], [], ["newsgroups"]),
    ("part2_tensorflow/newsgroups_gru.py", [], [], ["newsgroups"]),
    ("part2_tensorflow/text_rnn.py", ["--group", "1"], None, []),
    ("part2_tensorflow/predict.py", [], ["--model-dir", "{results}/tf_sentiment_lstm/sentiment_lstm/model",
                                         "--text", "a wonderful , charming film"], []),
    ("benchmarks/lstm_throughput.py", [], [], []),
    ("benchmarks/seed_spread.py", ["part1_pytorch/sentiment_lstm.py", "--seeds", "0", "1"], None, []),
]
# Not run here: the real-data runs of scripts that need inputs only the user has (style_transfer.py
# --content/--style, char_rnn.py --text, predict scripts on their own images/sentences).


def _new_metrics(since: float) -> list[dict]:
    """The metrics of the runs a step wrote; a run inside another's folder (seed_spread's seeds) is part of it."""
    new = [(path.parent, metrics) for path, metrics in util.run_metrics() if path.stat().st_mtime >= since]
    folders = {folder for folder, _ in new}
    return [metrics for folder, metrics in new if not any(parent in folders for parent in folder.parents)]


def _missing_data(names: list[str], data_dir) -> str | None:
    """Download what a real run needs; the reason it cannot run, or None."""
    root = dataset.data_root(data_dir)
    for name in names:
        if (root / name).is_dir():
            continue
        try:
            dataset.download(name, data_dir)
        except util.UserError as error:
            return str(error)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="run on the generated demo data")
    parser.add_argument("--only", default=None, help="run only the scripts whose path contains this text")
    parser.add_argument("--data-dir", default=None, help="root of the prepared datasets")
    parser.add_argument("--seed", type=util.seed_number, default=None,
                        help="passed on to every script (default: their own, 0)")
    parser.add_argument("--epochs", type=util.positive(int), default=None,
                        help="passed on to every script (default: each script's own number; scripts that train "
                             "nothing by epochs ignore it)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None,
                        help="passed on to every script (default: auto, CUDA when available)")
    parser.add_argument("--results-dir", default=None,
                        help="root of every script's run folders instead of results/ (sets $COURSE_RESULTS_DIR)")
    args = parser.parse_args()
    if args.data_dir:  # the scripts run from the repository's folder: a relative path must mean the same to them
        args.data_dir = str(Path(args.data_dir).resolve())
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if env.get("COURSE_DATA_DIR"):  # a relative one too
        env["COURSE_DATA_DIR"] = str(Path(env["COURSE_DATA_DIR"]).resolve())
    util.RESULTS_ROOT = Path(args.results_dir or util.RESULTS_ROOT).resolve()
    env["COURSE_RESULTS_DIR"] = str(util.RESULTS_ROOT)
    # checked once here rather than failing in every step
    if args.data_dir and Path(args.data_dir).exists() and not Path(args.data_dir).is_dir():
        util.fail(f"--data-dir {args.data_dir} is a file: pass the folder that holds the prepared datasets")
    util.writable_folder(util.RESULTS_ROOT, "--results-dir")
    try:
        util.RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # what the probe could not foresee: a full disk, a quota
        util.fail(f"cannot create {util.RESULTS_ROOT} ({error.strerror or error}): pass a writable folder as "
                  "--results-dir")
    if args.device == "cuda":
        util.get_device("cuda")  # one sentence when no CUDA GPU is visible
    passed_on = util.command_options(data_dir=args.data_dir, seed=args.seed, epochs=args.epochs, device=args.device)

    rows = []
    started_all = time.time()
    steps = [s for s in STEPS if (not args.only or args.only in s[0]) and s[1 if args.demo else 2] is not None]
    if not steps:
        util.fail(f"--only {args.only} matches no script{' with a demo step' * args.demo}: give part of a script's "
                  "path, e.g. --only part1_pytorch/sentiment")
    for number, (script, demo_args, real_args, needs) in enumerate(steps, 1):
        extra = demo_args if args.demo else real_args
        label = " ".join([script] + extra)
        if not (util.REPO_ROOT / script).exists():
            rows.append((label, "not present", 0.0, []))
            continue
        if not args.demo:
            reason = _missing_data(needs, args.data_dir)
            if reason:
                print(f"[{number}/{len(steps)}] skipping {label}: {reason}")
                rows.append((label, "no data", 0.0, []))
                continue
        extra = [a.replace("{results}", str(util.RESULTS_ROOT)) for a in extra]
        command = [sys.executable, str(util.REPO_ROOT / script)] + (["--demo"] if args.demo else []) + extra + passed_on
        print(f"\n[{number}/{len(steps)}] {' '.join(command[1:])}", flush=True)
        started = time.time()
        code = subprocess.call(command, cwd=util.REPO_ROOT, env=env)
        seconds = time.time() - started
        rows.append((label, "ok" if code == 0 else f"FAILED (exit {code})", seconds, _new_metrics(started)))

    print("\n" + ("DEMO DATA: these figures show that the scripts run, nothing about the methods.\n" if args.demo else ""))
    print(f"{'script':58} {'status':18} {'seconds':>8}  test accuracy")
    for label, status, seconds, metrics in rows:
        accuracies = ", ".join(f"{m['test_accuracy']:.1%}" for m in metrics
                               if isinstance(m.get("test_accuracy"), (int, float)))
        print(f"{label[:58]:58} {status:18} {seconds:8.1f}  {accuracies}")
    print(f"total {time.time() - started_all:.0f} s; every run's metrics: {util.RESULTS_ROOT / 'SUMMARY.md'}")
    if any(status.startswith("FAILED") for _, status, _, _ in rows):
        sys.exit(1)


if __name__ == "__main__":
    util.run_main(main)
