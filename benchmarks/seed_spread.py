"""Run one script with several seeds and report the spread of its test accuracy (or another number it records).

    python benchmarks/seed_spread.py part2_tensorflow/sentiment_lstm.py --seeds 0 1 2 3 4 -- --threads 1
    python benchmarks/seed_spread.py part1_pytorch/text_classification.py --key models.lstm.test_accuracy \\
        --target 0.79 -- --all

One seed's test accuracy says little when the validation split, the initial weights and the batch order all
move with the seed: a miss of half a point against a target may be the seed. Each seed runs in its own
process (so TensorFlow and torchvision never share one), writes its usual run folder as `seed_<S>/` inside
this benchmark's folder, with its log beside it, and this script collects `--key` from each metrics.json.
Prints one row per seed and the mean, sample standard deviation (none for one seed), minimum and maximum; writes
spread.json and spread.png. Accuracies are shown as percentages and reach a `--target` from below; a key that
names a loss, bits per character, perplexity, an error or seconds is shown as it is and reaches it from above.
The defaults of the script under test are not changed: options after `--` go to it as given.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import util

REPO = Path(__file__).resolve().parents[1]


def lookup(metrics: dict, key: str):
    """metrics["a"]["b"] for key "a.b"; None where the path does not exist."""
    value = metrics
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def seed_command(args: argparse.Namespace, script: Path, seed: int, run_dir: Path) -> list[str]:
    options = util.command_options(seed=seed, results_dir=run_dir, data_dir=args.data_dir, epochs=args.epochs,
                                   device=None if args.device == "auto" else args.device)
    return [sys.executable, str(script), *options, *(["--demo"] if args.demo else []), *args.script_args]


def run_seed(args: argparse.Namespace, script: Path, seed: int, folder: Path) -> dict:
    """Run the script once; {"seed", "value", "best_epoch", "seconds"} or {"seed", "error"}."""
    run_dir = folder / f"seed_{seed}"
    log = folder / f"seed_{seed}.log"
    env = {**os.environ, "COURSE_QUIET": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        # in the caller's folder, so that relative paths after -- (--glove FILE, --text FILE) mean what they say
        code = subprocess.run(seed_command(args, script, seed, run_dir), stdout=out, stderr=subprocess.STDOUT,
                              env=env).returncode
    metrics_file = run_dir / "metrics.json"
    if code != 0 or not metrics_file.exists():
        last = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:] or ["no output"]
        reason = f"exit {code}: {last[0]}" if code else f"exit 0 but no {metrics_file} was written"
        return {"seed": seed, "error": f"{reason} (log: {log})"}
    metrics = json.loads(metrics_file.read_text())
    value = lookup(metrics, args.key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return {"seed": seed, "error": f"metrics.json has no finite number at {args.key!r} ({value!r}, "
                                       f"{metrics_file})"}
    return {"seed": seed, "value": value, "best_epoch": metrics.get("best_epoch"), "seconds": metrics.get("seconds")}


def lower_is_better(key: str) -> bool:
    """A loss or bits per character reaches its target from above; an accuracy from below."""
    return any(word in key.rsplit(".", 1)[-1] for word in ("loss", "bpc", "perplexity", "error", "seconds"))


def is_share(key: str) -> bool:
    """Accuracies are shares (0-1), shown as percentages; anything else is shown as it is."""
    return "accuracy" in key.rsplit(".", 1)[-1]


def shown(value: float, key: str) -> str:
    return f"{value:.2%}" if is_share(key) else f"{value:.4g}"


def summarise(values: list[float], target: float | None, key: str = "test_accuracy") -> dict:
    """n, mean, sample standard deviation (None for one value), min, max; with a target, the seeds reaching it."""
    summary = {"n": len(values), "mean": statistics.fmean(values), "min": min(values), "max": max(values),
               "std": statistics.stdev(values) if len(values) > 1 else None}
    if target is not None:
        summary["target"] = target
        reached = (lambda v: v <= target) if lower_is_better(key) else (lambda v: v >= target)
        summary["seeds_reaching_target"] = sum(map(reached, values))
    return summary


def plot_spread(rows: list[dict], summary: dict, path: Path, title: str, key: str) -> None:
    plt = util.pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    seeds = [row["seed"] for row in rows]
    scale = 100 if is_share(key) else 1
    ax.plot(seeds, [scale * row["value"] for row in rows], "o", label="one seed")
    ax.axhline(scale * summary["mean"], color="C0", alpha=0.5, label=f"mean {shown(summary['mean'], key)}")
    if "target" in summary:
        ax.axhline(scale * summary["target"], color="C3", linestyle="--",
                   label=f"target {shown(summary['target'], key)}")
    ax.set_xticks(seeds)
    ax.set_xlabel("seed")
    ax.set_ylabel(f"{key} (%)" if is_share(key) else key)
    ax.set_title(util.wrap_title(title, 6, fontsize=9), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    util.save_figure(fig, path)
    plt.close(fig)


def parse_args(argv: list[str]) -> argparse.Namespace:
    own, script_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     usage="%(prog)s SCRIPT [options] [-- options for SCRIPT]")
    parser.add_argument("script", help="the script to run, e.g. part1_pytorch/sentiment_lstm.py")
    parser.add_argument("--seeds", type=util.seed_number, nargs="+", default=[0, 1, 2, 3, 4], help="the seeds to run")
    parser.add_argument("--jobs", type=util.positive(int), default=1,
                        help="seeds run at once (each run uses its script's own thread count)")
    parser.add_argument("--key", default="test_accuracy",
                        help="the number to collect from each metrics.json; dots reach into nested entries")
    parser.add_argument("--target", type=float, default=None,
                        help="a target to count the seeds against (an accuracy as a share, 0-1; for a key that "
                             "names a loss, bpc, perplexity, error or seconds, values at or under it reach it)")
    util.add_common_args(parser, epochs=None, unused=("seed",),
                         results_help="this benchmark's folder (default: results/seed_spread/<script>/)")
    parser.epilog = "--seeds sets the seeds; --epochs, --data-dir, --device and --demo are passed on to SCRIPT."
    args = parser.parse_args(own)
    args.script_args = script_args
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Absolute, so that the logs and spread.json name them wherever they are read from.
    for option in ("results_dir", "data_dir"):
        if getattr(args, option):
            setattr(args, option, str(Path(getattr(args, option)).resolve()))
    script = (REPO / args.script) if not Path(args.script).is_absolute() else Path(args.script)
    if script.suffix != ".py" or not script.is_file():
        util.fail(f"no script {args.script}: give the path of a script of this repository, "
                  "e.g. part1_pytorch/sentiment_lstm.py")
    for option in ("--seed", "--results-dir"):
        if any(arg == option or arg.startswith(option + "=") for arg in args.script_args):
            util.fail(f"{option} after -- would reach every seed's run: give the seeds with --seeds and this "
                      "benchmark's folder with --results-dir before --")
    if args.target is not None and not math.isfinite(args.target):
        util.fail(f"--target {args.target} is not a finite number: give a number, e.g. 0.77 for an accuracy of 77%")
    if args.target is not None and is_share(args.key) and not 0 <= args.target <= 1:
        util.fail(f"--target {args.target:g} is not a share: give an accuracy target between 0 and 1, "
                  f"e.g. 0.77 for 77%")
    if len(set(args.seeds)) != len(args.seeds):
        util.fail(f"--seeds repeats a seed ({' '.join(map(str, args.seeds))}): give each seed once")
    name = script.relative_to(REPO).with_suffix("").as_posix().replace("/", "_") if script.is_relative_to(REPO) \
        else script.stem
    run = util.start_run(args, "seed_spread", "demo_" * args.demo + name)  # a demo never displaces a real run
    shown_command = " ".join([script.name, *args.script_args])
    print(f"{shown_command}: seeds {' '.join(map(str, args.seeds))}, "
          f"{args.jobs} at a time, collecting {args.key}")
    bar = util.progress(total=len(args.seeds), desc="seeds")

    def one(seed: int) -> dict:
        result = run_seed(args, script, seed, run.dir)
        bar.update()
        return result

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, args.seeds))
    bar.close()
    rows = [row for row in results if "value" in row]
    failed = [row for row in results if "error" in row]
    key = args.key
    for row in results:
        value = shown(row["value"], key) if "value" in row else f"failed: {row['error']}"
        extra = f"  best epoch {row['best_epoch']}" if row.get("best_epoch") is not None else ""
        print(f"seed {row['seed']}: {value}{extra}")
    summary = summarise([row["value"] for row in rows], args.target, key) if rows else {"n": 0}
    if rows:
        spread = "n/a (one seed)" if summary["std"] is None else shown(summary["std"], key)
        line = (f"{key} over {summary['n']} seeds: mean {shown(summary['mean'], key)}, std {spread}, "
                f"min {shown(summary['min'], key)}, max {shown(summary['max'], key)}")
        if args.target is not None:
            side = "<=" if lower_is_better(key) else ">="
            line += (f"; {summary['seeds_reaching_target']} of {summary['n']} seeds reach {side} "
                     f"{shown(args.target, key)}")
        print(line)
        plot_spread(rows, summary, run.path("spread.png"), shown_command, args.key)
    util.save_json({"script": args.script, "script_args": args.script_args, "key": args.key, "runs": results,
                    **summary}, run.path("spread.json"))
    # Finished even when seeds failed: the folder keeps their logs, which the error below points to.
    # "seed": None because this benchmark's own --seed is unused; the runs' seeds are "seeds".
    run.finish({"test_accuracy": summary["mean"] if rows and args.key == "test_accuracy" else None,
                "seed": None, "seeds": args.seeds, "failed_seeds": [row["seed"] for row in failed], **summary})
    if not rows:
        util.fail(f"every seed failed; the first error: {failed[0]['error']}")
    if failed:
        util.fail(f"{len(failed)} of {len(results)} seeds failed, e.g. {failed[0]['error']}")


if __name__ == "__main__":
    util.run_main(main)
