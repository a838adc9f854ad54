import argparse
import concurrent.futures
import csv
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import util
from conftest import REPO, assert_user_error, run_script


def test_confusion_matrix_is_row_normalised_and_size_limits_the_shown_classes(tmp_path):
    actual = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    pred = [0, 0, 1, 2, 1, 1, 2, 2, 0, 0]
    shown = util.plot_confus_matrix(pred, actual, title="t", class_names=["a", "b", "c"], path=tmp_path / "cm.png")
    np.testing.assert_allclose(shown, [[0.5, 0.25, 0.25], [0, 1, 0], [0.5, 0, 0.5]])
    assert (tmp_path / "cm.png").stat().st_size > 1000
    first_two = util.plot_confus_matrix(pred, actual, size=2, path=tmp_path / "cm2.png")
    np.testing.assert_allclose(first_two, [[0.5, 0.25], [0, 1]])  # normalised over every prediction of the row


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        util.confusion_matrix([0, 1], [0])


def test_plot_curves_writes_png(tmp_path):
    util.plot_curves({"train_loss": [1.0, 0.5], "valid_accuracy": [0.5, 0.8]}, tmp_path / "c.png", title="x")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_atomic_path_leaves_nothing_when_the_write_fails(tmp_path):
    target = tmp_path / "model.bin"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with util.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
    with util.atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_save_torch_round_trip(tmp_path):
    import torch
    util.save_torch({"w": torch.arange(3)}, tmp_path / "m.pt")
    assert torch.load(tmp_path / "m.pt", weights_only=True)["w"].tolist() == [0, 1, 2]


def _args(**overrides):
    base = dict(seed=3, epochs=2, demo=True, results_dir=None)
    base.update(overrides)
    return argparse.Namespace(**base)


def test_run_folder_metrics_summary_and_history(isolated):
    run = util.start_run(_args(), "myscript", "demo_text", "lstm")
    assert run.dir == isolated / "results" / "myscript" / "demo_text_lstm"
    (run.path("model.pt")).write_text("first")
    metrics = run.finish({"test_accuracy": 0.75, "extra": 1})
    saved = json.loads(run.path("metrics.json").read_text())
    assert saved == metrics
    for key in util.METRIC_KEYS:
        assert key in saved
    assert saved["script"] == "myscript" and saved["seed"] == 3 and saved["demo"] is True
    summary = (isolated / "results" / "SUMMARY.md").read_text()
    assert "myscript/demo_text_lstm" in summary and "75.00%" in summary

    again = util.start_run(_args(), "myscript", "demo_text", "lstm")
    assert not again.path("model.pt").exists()
    archived = list((isolated / "results" / "myscript" / ".history").iterdir())
    assert len(archived) == 1 and (archived[0] / "model.pt").read_text() == "first"
    again.finish({"test_accuracy": 0.5})
    summary = (isolated / "results" / "SUMMARY.md").read_text()
    assert summary.count("myscript/demo_text_lstm") == 1  # history is not a run row
    assert "50.00%" in summary


FREED_AND_REUSED = """
import ctypes, resource, sys
import util
kept = util.keep_freed_memory() if sys.argv[1] == "kept" else util.FREED_MEMORY_KEPT
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
def use_once(size=64 * 2 ** 20):  # a training step's large tensor: allocated, written, freed
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
use_once()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    use_once()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_memory_is_kept_for_reuse_not_faulted_in_again(tmp_path):
    def page_faults(mode):
        result = subprocess.run([sys.executable, "-c", FREED_AND_REUSED, mode], capture_output=True, text=True,
                                cwd=REPO, check=True)
        kept, faults = result.stdout.split()
        return kept, int(faults)
    kept, faults = page_faults("kept")
    assert kept == "True" and faults < 100
    kept, faults = page_faults("default")
    assert kept == "False" and faults > 5 * 10000  # 64 MB is 16384 pages, each faulted in again


def test_run_json_records_the_environment_the_figures_came_from(isolated):
    run = util.start_run(_args(), "myscript", "demo_text")
    environment = json.loads(run.path("run.json").read_text())["environment"]
    assert environment["packages"]["numpy"] == np.__version__ and environment["python"] == platform.python_version()
    assert environment["cpus"] == os.cpu_count() and "torch" in environment["packages"]
    assert environment["freed_memory_kept"] is util.FREED_MEMORY_KEPT  # set by run_main, which scripts run in


def test_every_run_records_its_threads_and_cpu_time_its_helpers_included(isolated):
    run = util.start_run(_args(threads=1), "myscript", "demo_text")
    busy = "import time\nstarted = time.process_time()\nwhile time.process_time() - started < 0.5: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)  # CPU spent in a worker process, as benchmarks do
    saved = run.finish({"test_accuracy": 0.5})
    assert saved["threads"] == 1 and saved["cpu_seconds"] >= 0.5
    assert util.start_run(_args(), "myscript", "other").finish({})["threads"] is None  # the library's own choice


def test_results_dir_option_is_used_as_is(isolated):
    run = util.start_run(_args(results_dir=str(isolated / "mine")), "s", "d")
    assert run.dir == isolated / "mine"


def test_set_seed_makes_python_numpy_and_torch_repeatable():
    import torch
    util.set_seed(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    util.set_seed(5)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())


def test_group_table_covers_the_course_and_rejects_unknown_groups():
    models = {g["image_model"] for g in util.GROUPS.values()}
    assert models == {"alexnet", "vgg16", "resnet18", "inception_v3", "densenet121"}
    assert {g["unit"] for g in util.GROUPS.values()} == {"lstm", "gru"}
    assert util.group_settings(1)["text_datasets"] == ["sentiment", "questions"]
    with pytest.raises(util.UserError, match="no group 99"):
        util.group_settings(99)


def test_epoch_lr_constant_and_cosine():
    assert [util.epoch_lr(0.1, e, 5) for e in range(1, 6)] == [0.1] * 5
    cosine = [util.epoch_lr(0.1, e, 5, "cosine") for e in range(1, 6)]
    assert cosine[0] == pytest.approx(0.1) and cosine[-1] == pytest.approx(0.1 * (1 + np.cos(0.8 * np.pi)) / 2)
    assert all(a > b > 0 for a, b in zip(cosine, cosine[1:]))
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        util.epoch_lr(0.1, 1, 5, "step")


def test_positive_argument_type():
    parse = util.positive(int)
    assert parse("3") == 3
    for bad in ("0", "-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)
    counts = util.positive(int, zero=True)  # --glove-vocab 0: no GloVe words
    assert counts("0") == 0 and counts("5") == 5
    with pytest.raises(argparse.ArgumentTypeError, match=">= 0"):
        counts("-1")


def test_rate_argument_type():
    assert util.rate("0") == 0.0 and util.rate("0.1") == 0.1
    for bad in ("1", "-0.1", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            util.rate(bad)


def test_common_args_say_when_epochs_are_not_used():
    training = util.add_common_args(argparse.ArgumentParser(), epochs=5, lr=0.1)
    assert training.parse_args([]).epochs == 5
    for bad in (["--epochs", "0"], ["--lr", "-1"], ["--lr", "0"]):
        with pytest.raises(SystemExit):
            training.parse_args(bad)
    inference = util.add_common_args(argparse.ArgumentParser(), epochs=0)
    assert "not used" in inference.format_help()
    assert inference.parse_args([]).epochs == 0 and inference.parse_args(["--epochs", "3"]).epochs == 3
    with pytest.raises(SystemExit):  # not used, but not nonsense either
        inference.parse_args(["--epochs", "-5"])
    assert "not used" not in training.format_help()


def test_a_results_dir_that_is_a_file_is_refused_when_the_options_are_read(tmp_path, capsys):
    parser = util.add_common_args(argparse.ArgumentParser(), epochs=3)
    assert parser.parse_args(["--results-dir", str(tmp_path / "new")]).results_dir == str(tmp_path / "new")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:  # before any data is loaded (text_rnn read a whole dataset first)
        parser.parse_args(["--results-dir", str(tmp_path / "a_file")])
    assert exit_info.value.code == 2 and "a_file is a file: pass a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--results-dir", str(tmp_path / "a_file" / "below")])
    assert f"cannot write in {tmp_path / 'a_file' / 'below'} (Not a directory)" in capsys.readouterr().err


def test_common_args_say_which_options_a_script_has_no_use_for():
    parser = util.add_common_args(argparse.ArgumentParser(), epochs=0, unused=("data_dir",),
                                  results_help="also write predictions.csv here")
    help_text = parser.format_help()
    assert "not used: this script reads no dataset" in help_text
    assert "also write predictions.csv here" in help_text and "results/<script>" not in help_text
    assert "auto: CUDA when available" in help_text
    with pytest.raises(ValueError):
        util.add_common_args(argparse.ArgumentParser(), epochs=0, unused=("epochs",))
    no_seed = util.add_common_args(argparse.ArgumentParser(), epochs=0, unused=("seed",)).format_help()
    assert "not used: this script draws nothing at random" in no_seed and "random seed" not in no_seed


def test_command_options_pass_on_only_the_options_given_in_order():
    assert util.command_options(data_dir="d", seed=None, epochs=3, results_dir=Path("r/x")) == \
        ["--data-dir", "d", "--epochs", "3", "--results-dir", str(Path("r/x"))]
    assert util.command_options(seed=0) == ["--seed", "0"]  # 0 is a value, not a missing option
    assert util.command_options(device=None) == []


def test_run_all_counts_a_run_inside_another_run_folder_as_part_of_it(isolated):
    import run_all
    for folder, accuracy in (("seed_spread/x", 0.5), ("seed_spread/x/seed_0", 0.4), ("text/y", 0.7)):
        (isolated / "results" / folder).mkdir(parents=True)
        util.save_json({"test_accuracy": accuracy}, isolated / "results" / folder / "metrics.json")
    assert sorted(m["test_accuracy"] for m in run_all._new_metrics(since=0)) == [0.5, 0.7]


def test_run_all_fetches_glove_before_the_scripts_that_start_from_it():
    import run_all
    starts_from_glove = {script for script, _, real, _ in run_all.STEPS
                         if real is not None and 'embeddings="glove"' in (REPO / script).read_text()}
    assert "part1_pytorch/questions_lstm.py" in starts_from_glove
    assert all("glove" in needs for script, _, _, needs in run_all.STEPS if script in starts_from_glove)


def test_run_all_passes_a_relative_data_dir_on_as_the_folder_it_checked(tmp_path, monkeypatch):
    import run_all
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run_all.subprocess, "call", lambda command, **kwargs: calls.append(command) or 0)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "part1_pytorch/sentiment_lstm", "--data-dir", "mine",
                                      "--results-dir", "out"])
    monkeypatch.setattr(util, "RESULTS_ROOT", util.RESULTS_ROOT)  # main() sets it: put it back afterwards
    (tmp_path / "mine" / "sentiment").mkdir(parents=True)
    run_all.main()
    assert calls and calls[0][calls[0].index("--data-dir") + 1] == str(tmp_path / "mine")


def test_run_all_passes_a_relative_course_data_dir_on_to_the_steps_as_the_folder_it_checked(tmp_path, monkeypatch):
    # the steps run from the repository's folder: a relative $COURSE_DATA_DIR would name another folder there
    import run_all
    environments = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", "mine")
    monkeypatch.setattr(run_all.subprocess, "call", lambda command, **kwargs: environments.append(kwargs["env"]) or 0)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--only", "part1_pytorch/sentiment_lstm", "--results-dir", "out"])
    monkeypatch.setattr(util, "RESULTS_ROOT", util.RESULTS_ROOT)  # main() sets it: put it back afterwards
    (tmp_path / "mine" / "sentiment").mkdir(parents=True)
    run_all.main()
    assert environments and environments[0]["COURSE_DATA_DIR"] == str(tmp_path / "mine")


@pytest.mark.parametrize("options, message", [
    (["--only", "no_such_script"], "--only no_such_script matches no script with a demo step"),
    (["--results-dir", "a_file"], "a_file is a file, not a folder: pass a folder"),
    (["--data-dir", "a_file"], "a_file is a file: pass the folder"),
])
def test_run_all_checks_its_own_options_once_before_any_step(tmp_path, monkeypatch, options, message):
    import run_all
    calls = []
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setattr(run_all.subprocess, "call", lambda command, **kwargs: calls.append(command) or 0)
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--demo", *options])
    monkeypatch.setattr(util, "RESULTS_ROOT", util.RESULTS_ROOT)  # main() sets it: put it back afterwards
    with pytest.raises(util.UserError, match=re.escape(message)):
        run_all.main()
    assert not calls


def test_a_prediction_run_writes_its_csv_only_when_given_a_results_dir(tmp_path):
    rows = [["a fine film", "pos", "0.9000"], ["dull, long", "neg", "0.8000"]]
    args = argparse.Namespace(seed=0, epochs=0, demo=False, results_dir=None)
    util.save_prediction_run(args, "predict", ["text", "predicted", "probability"], rows, {"model_dir": "m"})
    assert not any(tmp_path.iterdir())
    args.results_dir = str(tmp_path / "out")
    util.save_prediction_run(args, "predict", ["text", "predicted", "probability"], rows, {"model_dir": "m"})
    with open(tmp_path / "out" / "predictions.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["text", "predicted", "probability"], *rows]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["predictions"] == 2 and metrics["model_dir"] == "m"


# One script of each family of thin entry scripts stands for the others: they share their parser.
FAMILY_MEMBERS = ("_gru.py", "spam_lstm.py", "questions_lstm.py", "newsgroups_lstm.py")
COMMON_OPTIONS = ("--seed", "--epochs", "--data-dir", "--results-dir", "--device")


def test_every_script_takes_the_common_options():
    scripts = sorted(path for folder in ("part1_pytorch", "part2_tensorflow", "numpy_layers", "benchmarks")
                     for path in (REPO / folder).glob("*.py")
                     if '__name__ == "__main__"' in path.read_text() and not path.name.endswith(FAMILY_MEMBERS))
    scripts.append(REPO / "run_all.py")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        helps = dict(zip(scripts, pool.map(lambda script: run_script(script, "--help", timeout=120), scripts)))
    missing = {script.relative_to(REPO).as_posix(): [o for o in COMMON_OPTIONS if o not in result.stdout]
               for script, result in helps.items()}
    assert all(result.returncode == 0 for result in helps.values())
    assert len(helps) > 15 and not any(missing.values()), {k: v for k, v in missing.items() if v}


def test_run_main_turns_user_errors_into_one_line_and_exit_2(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import util\n"
                      "def main():\n    util.fail('the thing is missing: make it')\n"
                      "util.run_main(main)\n")
    assert_user_error(run_script(script), "the thing is missing")


def test_get_device_cpu_and_auto():
    import torch
    assert util.get_device("cpu") == torch.device("cpu")
    # auto is CUDA exactly when a GPU is visible (CI has none: there it must be the CPU)
    assert util.get_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(util.UserError, match="no CUDA"):
            util.get_device("cuda")


def test_util_and_dataset_import_from_any_folder(tmp_path):
    # -c, not a script of the repository: Python puts a script's own folder on sys.path, which would hide a missing
    # editable install (the Makefile's `pip install -e .`)
    code = "import dataset, util; print(dataset.__file__, util.__file__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(REPO / "dataset.py"), str(REPO / "util.py")]


def test_a_run_that_fails_with_a_user_error_puts_the_previous_run_back(isolated, tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "import argparse, sys, util\n"
        "def main():\n"
        "    args = argparse.Namespace(seed=0, epochs=1, demo=False, results_dir=None)\n"
        "    run = util.start_run(args, 'fragile', 'data')\n"
        "    run.path('model.pt').write_text(sys.argv[1])\n"
        "    if sys.argv[1] == 'bad':\n"
        "        util.fail('the input is malformed: fix it')\n"
        "    run.finish({'test_accuracy': 0.9})\n"
        "util.run_main(main)\n")
    assert run_script(script, "good").returncode == 0
    folder = isolated / "results" / "fragile" / "data"
    assert_user_error(run_script(script, "bad"), "the input is malformed")
    assert folder.joinpath("model.pt").read_text() == "good"
    assert json.loads(folder.joinpath("metrics.json").read_text())["test_accuracy"] == 0.9
    assert not any((folder.parent / ".history").iterdir())


FRAGILE_RUN = (
    "import argparse, pathlib, sys, time, util\n"
    "def main():\n"
    "    args = argparse.Namespace(seed=0, epochs=1, demo=False, results_dir=None)\n"
    "    run = util.start_run(args, 'fragile', 'data')\n"
    "    if sys.argv[1] == 'early':\n"
    "        raise RuntimeError('a bug before any output')\n"
    "    run.path('model.pt').write_text(sys.argv[1])\n"
    "    if sys.argv[1] == 'crash':\n"
    "        raise RuntimeError('a bug')\n"
    "    if sys.argv[1] == 'interrupt':\n"
    "        raise KeyboardInterrupt\n"
    "    while sys.argv[1] == 'slow' and not pathlib.Path(sys.argv[2]).exists():\n"
    "        time.sleep(0.05)\n"
    "    run.finish({'test_accuracy': 0.9})\n"
    "util.run_main(main)\n")


@pytest.mark.parametrize("how, code", [("crash", 1), ("interrupt", 130)])
def test_a_run_that_crashes_or_is_interrupted_puts_the_previous_run_back(isolated, tmp_path, how, code):
    script = tmp_path / "s.py"
    script.write_text(FRAGILE_RUN)
    assert run_script(script, "good").returncode == 0
    folder = isolated / "results" / "fragile" / "data"
    assert run_script(script, how).returncode == code
    assert folder.joinpath("model.pt").read_text() == "good"
    assert json.loads(folder.joinpath("metrics.json").read_text())["test_accuracy"] == 0.9
    [unfinished] = (folder.parent / ".history").iterdir()  # what it wrote so far is kept, out of the way
    assert unfinished.name.endswith("-unfinished") and unfinished.joinpath("model.pt").read_text() == how


def test_a_second_run_into_the_folder_of_a_run_still_going_is_refused(isolated, tmp_path):
    script, go = tmp_path / "s.py", tmp_path / "go"
    script.write_text(FRAGILE_RUN)
    folder = isolated / "results" / "fragile" / "data"
    first = subprocess.Popen([sys.executable, str(script), "slow", str(go)], cwd=REPO)
    try:
        deadline = time.time() + 60
        while not folder.joinpath("model.pt").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert_user_error(run_script(script, "second"), "is being written by a run still going")
    finally:
        go.touch()
        assert first.wait(60) == 0
    assert folder.joinpath("model.pt").read_text() == "slow"
    assert run_script(script, "third").returncode == 0  # a finished run is moved aside as usual
    assert folder.joinpath("model.pt").read_text() == "third"


def test_a_second_start_run_in_the_same_process_takes_over_its_own_unfinished_run(isolated):
    # a notebook cell re-run after an exception: the run.json left behind names this very process, alive
    first = util.start_run(_args(), "myscript", "demo_text")
    first.path("model.pt").write_text("first try")
    again = util.start_run(_args(), "myscript", "demo_text")
    assert again.dir == first.dir and not again.path("model.pt").exists()
    [archived] = (isolated / "results" / "myscript" / ".history").iterdir()
    assert archived.joinpath("model.pt").read_text() == "first try"
    again.finish({"test_accuracy": 0.5})


@pytest.fixture
def live_child():
    """A live process other than this one: its pid, as a run.json left by another run might name it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield child.pid
    child.kill()
    child.wait()


@pytest.mark.parametrize("whose", ["pid_reused", "other_host"])
def test_a_run_json_naming_a_live_process_that_is_not_its_run_does_not_block_a_new_run(isolated, live_child, whose):
    # pid_reused: the pid is alive but started at another time, so it now belongs to another process (the run
    # ended, and its pid was handed out again); other_host: the pid is alive here, but the run went on elsewhere
    # (a results folder on a shared disk), where this machine's processes say nothing about it
    folder = isolated / "results" / "myscript" / "demo_text"
    folder.mkdir(parents=True)
    started = {"script": "myscript", "pid": live_child, "started": "2020-01-01T00:00:00",
               "host": socket.gethostname() if whose == "pid_reused" else "elsewhere",
               "process_start": "1" if whose == "pid_reused" else util._process_start(live_child)}
    assert started["process_start"] is not None  # /proc tells this pid's start, as on every Linux
    util.save_json(started, folder / util.RUN_STARTED)
    run = util.start_run(_args(), "myscript", "demo_text")
    assert json.loads(run.path(util.RUN_STARTED).read_text())["pid"] == os.getpid()
    [archived] = (folder.parent / ".history").iterdir()  # the unfinished run is moved aside as usual
    assert json.loads(archived.joinpath(util.RUN_STARTED).read_text())["pid"] == live_child


def test_a_run_that_fails_before_writing_anything_keeps_no_unfinished_folder(isolated, tmp_path):
    # its folder holds only run.json, which says nothing the restored run does not: nothing worth keeping
    script = tmp_path / "s.py"
    script.write_text(FRAGILE_RUN)
    assert run_script(script, "good").returncode == 0
    folder = isolated / "results" / "fragile" / "data"
    assert run_script(script, "early").returncode == 1
    assert folder.joinpath("model.pt").read_text() == "good"
    assert json.loads(folder.joinpath("metrics.json").read_text())["test_accuracy"] == 0.9
    assert not any((folder.parent / ".history").iterdir())


def test_atomic_writes_get_the_permissions_of_ordinary_files_and_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(util, "UMASK", 0o022)
    util.save_json({"a": 1}, tmp_path / "metrics.json")
    with util.atomic_dir(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("w")
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
    (tmp_path / "metrics.json").chmod(0o600)  # a file made private by its owner stays private when written again
    util.save_json({"a": 2}, tmp_path / "metrics.json")
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o600


def test_atomic_dir_puts_the_old_folder_back_if_the_new_one_cannot_take_its_place(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with util.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("first")
    real_replace = os.replace

    def failing_replace(source, destination):
        if Path(source).name.startswith(".model.") and ".old." not in Path(source).name:
            raise OSError("interrupted")  # the new folder's rename
        real_replace(source, destination)
    monkeypatch.setattr(util.os, "replace", failing_replace)
    with pytest.raises(OSError):
        with util.atomic_dir(target) as tmp:
            (tmp / "weights").write_text("second")
    assert (target / "weights").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_dir_replaces_a_folder_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "model"
    with util.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("first")
    with pytest.raises(RuntimeError):
        with util.atomic_dir(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("interrupted")
    assert (target / "weights").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with util.atomic_dir(target) as tmp:
        (tmp / "other").write_text("second")
    assert [p.name for p in target.iterdir()] == ["other"]


def test_atomic_dir_leaves_only_the_new_folder_with_the_mode_of_the_one_it_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(util, "UMASK", 0o022)  # a new folder would be 0o755
    target = tmp_path / "model"
    with util.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("first")
    # closed to others by its owner, so the folder replacing it is too: 0o750, which neither the umask (0o755) nor
    # mkdtemp (0o700) would give
    target.chmod(0o750)
    with util.atomic_dir(target) as tmp:
        (tmp / "weights").write_text("second")
    assert (target / "weights").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # the old folder, renamed aside, is gone
    assert target.stat().st_mode & 0o777 == 0o750


def test_demo_defaults_apply_only_to_options_not_given():
    parser = argparse.ArgumentParser()
    util.add_common_args(parser, epochs=20)
    assert util.parse_args(parser, [], epochs=3).epochs == 20
    assert util.parse_args(parser, ["--demo"], epochs=3).epochs == 3
    assert util.parse_args(parser, ["--demo", "--epochs", "7"], epochs=3).epochs == 7


def test_a_folder_is_checked_for_writing_without_leaving_anything_behind(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    assert util.unwritable(tmp_path / "new" / "deeper") is None
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a_file"]  # the probe made nothing
    assert util.unwritable(tmp_path / "a_file" / "below") == "Not a directory"
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")  # mkdir(exist_ok=True) would fail on it later
    assert util.unwritable(tmp_path / "dangling") == util.unwritable(tmp_path / "dangling" / "x") == "Not a directory"
    assert util.unwritable(tmp_path / ("x" * 300)) == "File name too long"  # os.lstat raises, not only exists()
    (tmp_path / "dangling").unlink()
    with pytest.raises(util.UserError, match=r"--cache-dir .*a_file is a file, not a folder: pass a folder"):
        util.writable_folder(tmp_path / "a_file", "--cache-dir")
    with pytest.raises(util.UserError, match=r"cannot write in .*below \(Not a directory\): pass a writable folder "
                                             r"as --cache-dir"):
        util.writable_folder(tmp_path / "a_file" / "below", "--cache-dir")

    def refused(dir=None):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(util.tempfile, "mkdtemp", refused)  # a read-only folder (root writes in any)
    assert util.unwritable(tmp_path / "new") == "Permission denied"


def test_a_results_dir_holding_other_things_is_refused_and_left_alone(isolated, monkeypatch):
    mine = isolated / "mywork"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(util.UserError, match="not empty and holds no earlier run"):
        util.start_run(_args(results_dir=str(mine)), "s", "d")
    assert (mine / "notes.txt").read_text() == "keep me" and not (isolated / ".history").exists()
    (isolated / "a_file").write_text("x")
    with pytest.raises(util.UserError, match="is a file"):
        util.start_run(_args(results_dir=str(isolated / "a_file")), "s", "d")
    with pytest.raises(util.UserError, match="cannot write the run folder .* pass a writable folder"):
        util.start_run(_args(results_dir=str(isolated / "a_file" / "below")), "s", "d")

    earlier = util.start_run(_args(results_dir=str(isolated / "run")), "train", "d")
    earlier.finish({"test_accuracy": 0.5})
    assert json.loads((isolated / "run" / util.RUN_STARTED).read_text())["script"] == "train"
    with pytest.raises(util.UserError, match="holds a run of train"):  # e.g. a prediction script aimed at it
        util.start_run(_args(results_dir=str(isolated / "run")), "predict", "d")
    monkeypatch.chdir(isolated / "run")
    with pytest.raises(util.UserError, match="contains the current folder"):
        util.start_run(_args(results_dir="."), "train", "d")
    monkeypatch.chdir(isolated)
    util.start_run(_args(results_dir=str(isolated / "run")), "train", "d")  # the same script: moved aside
    assert len(list((isolated / ".history").iterdir())) == 1


def test_numbers_and_seeds_out_of_range_are_refused():
    for text in ("nan", "inf", "-inf"):
        with pytest.raises(argparse.ArgumentTypeError, match="finite"):
            util.positive(float)(text)
    assert util.seed_number("0") == 0 and util.seed_number(str(2**32 - 1)) == 2**32 - 1
    for text in ("-1", str(2**32), "99999999999999999999", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            util.seed_number(text)
    assert util.positive(int)("99999999999999999999") == 99999999999999999999
    assert util.learning_rate("0.001") == 0.001 and util.learning_rate("100") == 100
    for text in ("0", "-0.1", "101", "1e300", "nan"):  # 1e300 overflowed Adam with a traceback
        with pytest.raises(argparse.ArgumentTypeError):
            util.learning_rate(text)


def test_a_loss_that_is_not_finite_stops_training_with_one_sentence():
    util.check_finite_loss(1e30, "of epoch 1")
    for loss in (float("nan"), float("inf")):
        with pytest.raises(util.UserError, match=f"training loss of epoch 2 is {loss}: lower --lr"):
            util.check_finite_loss(loss, "of epoch 2")


def test_a_run_without_pretrained_weights_says_so_in_its_last_line_and_the_summary(isolated, capsys):
    util.start_run(_args(demo=False), "features", "birds", "resnet18").finish({"test_accuracy": 0.5,
                                                                              "pretrained": False})
    util.start_run(_args(demo=True), "features", "demo_images", "resnet18").finish({"test_accuracy": 0.5,
                                                                                    "pretrained": True})
    printed = capsys.readouterr().out
    assert "(RANDOM weights: not pretrained)" in printed and "(DEMO DATA: not a real result)" in printed
    rows = {line.split(" | ")[0]: line for line in (isolated / "results" / "SUMMARY.md").read_text().splitlines()}
    assert rows["| features/birds_resnet18"].endswith("| RANDOM weights: not pretrained |")
    assert rows["| features/demo_images_resnet18"].endswith("| DEMO DATA: not a real result |")


@pytest.mark.parametrize("epochs", [1, 3, 30])
def test_curves_mark_the_kept_epoch_and_count_epochs_in_whole_numbers(tmp_path, monkeypatch, epochs):
    plt = util.pyplot()
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)  # keep the figure to look at it
    losses, accuracies = np.linspace(1, 0.5, epochs).tolist(), np.linspace(0.5, 0.8, epochs).tolist()
    util.plot_curves({"train_loss": losses, "valid_accuracy": accuracies}, tmp_path / "c.png", kept=1)
    loss_panel, accuracy_panel = drawn[0].axes
    assert accuracy_panel.get_ylabel() == "accuracy" and loss_panel.get_ylabel() == "loss"
    for panel in (loss_panel, accuracy_panel):
        assert "kept (epoch 1)" in [line.get_label() for line in panel.get_lines()]
        low, high = panel.get_xlim()
        shown = [float(tick) for tick in panel.get_xticks() if low <= tick <= high]
        # epochs count from 1: every tick shown is a whole epoch that exists, the first included
        assert shown and all(tick.is_integer() and 1 <= tick <= epochs for tick in shown)
        assert min(shown) <= max(1, epochs // 5)


def test_curves_of_several_models_mark_each_ones_kept_epoch(tmp_path, monkeypatch):
    plt = util.pyplot()
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    curves = {f"{model} {key}": [0.5, 0.6, 0.7] for model in ("finetune", "freeze")
              for key in ("train_loss", "valid_accuracy")}
    util.plot_curves(curves, tmp_path / "c.png", kept={"finetune": 3, "freeze": 2})
    for panel in drawn[0].axes:
        marks = {line.get_label(): (line.get_xdata()[0], line.get_linestyle()) for line in panel.get_lines()
                 if "kept" in line.get_label()}
        assert marks == {"finetune kept (epoch 3)": (3, "--"), "freeze kept (epoch 2)": (2, ":")}


def test_tensorflow_import_keeps_back_only_its_two_start_up_notices(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os, sys\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. You may see slightly different ...\\n')\n"
        "os.write(2, b'E0000 a real C++ error line\\n')\n"
        "print('a Python warning', file=sys.stderr)\n"
        "raise ImportError('broken install')\n")
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]; import util; " \
           "util.import_tensorflow_quietly()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "absl::InitializeLog" not in result.stderr and "oneDNN" not in result.stderr
    for kept in ("E0000 a real C++ error line", "a Python warning", "ImportError: broken install"):
        assert kept in result.stderr, result.stderr
    (fake / "__init__.py").write_text("loaded = True\n")  # with stderr closed the import still happens
    result = subprocess.run([sys.executable, "-c", code + "; print('imported')"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, timeout=60, pass_fds=(),
                            preexec_fn=lambda: os.close(2))
    assert result.returncode == 0 and result.stdout.strip() == "imported"
