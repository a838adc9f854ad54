"""numpy_layers scripts end to end (subprocesses on the demo data) and their error messages."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_user_error

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "numpy_layers"
SHARED = REPO.parent / "shared" / "data"


def run(script, *args, data_dir, timeout=240):
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "COURSE_QUIET": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPTS / script), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=REPO)


def metrics(folder):
    return json.loads((folder / "metrics.json").read_text())


@pytest.mark.parametrize("script", ["autograder.py", "digit_classification.py", "image_captioning.py"])
def test_help_lists_defaults(tmp_path, script):
    result = run(script, "--help", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--demo" in result.stdout and "(default:" in result.stdout


@pytest.mark.parametrize("script, unused, used", [
    ("autograder.py", ["--seed", "--data-dir", "--device"], []),
    ("benchmark_conv.py", ["--data-dir", "--device"], ["--seed"]),
    ("digit_classification.py", ["--device"], ["--seed", "--data-dir"]),
    ("image_captioning.py", ["--device"], ["--seed", "--data-dir"]),
])
def test_help_says_which_common_options_are_not_used(tmp_path, script, unused, used):
    result = run(script, "--help", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # argparse wraps the help lines
    metavars = {"--seed": "SEED", "--data-dir": "DATA_DIR", "--device": "{auto,cpu,cuda}"}
    for option in unused + used:
        described = text.rsplit(f"{option} {metavars[option]} ", 1)[1]  # the last one follows the usage line
        assert described.startswith("not used") == (option in unused), (option, described[:80])


def test_autograder_passes_everything(tmp_path):
    result = run("autograder.py", "--demo", "--results-dir", tmp_path / "out", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.count("PASS") == 32 and "32 of 32 checks passed" in result.stdout
    assert metrics(tmp_path / "out")["checks_failed"] == 0


def test_digit_classification_demo(tmp_path):
    out = tmp_path / "out"
    result = run("digit_classification.py", "--demo", "--results-dir", out, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    m = metrics(out)
    for key in ("test_accuracy_two_layer", "test_accuracy_cnn", "test_accuracy"):
        assert 0.0 <= m[key] <= 1.0
    best_val = {kind: max(row["best_valid_accuracy"] for row in m["selection"] if row["model"] == kind)
                for kind in ("two-layer", "cnn")}
    assert m["selected_model"] == ("cnn" if best_val["cnn"] >= best_val["two-layer"] else "two-layer")
    assert m["test_accuracy"] == m["test_accuracy_cnn" if m["selected_model"] == "cnn" else "test_accuracy_two_layer"]
    assert m["test_accuracy_two_layer"] > 0.3          # 10 classes: chance is 0.1
    assert m["dataset"] == "demo_digits" and m["demo"] is True
    assert "1800 train, 200 validation, 500 test images" in result.stdout
    environment = json.loads((out / "run.json").read_text())["environment"]
    assert environment["freed_memory_kept"] is (platform.libc_ver()[0] == "glibc")  # util.run_main asked malloc
    assert m["selected_hidden_dim"] in (100, 300) and m["selected_filter_size"] in (5, 7)
    assert len(m["selection"]) == 4
    for name in ("curves_two_layer.png", "curves_cnn.png", "confusion_matrix.png", "selection.md",
                 "two_layer.npz", "cnn.npz"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "selection.md").read_text().count("| cnn |") == 2
    assert (tmp_path / "demo_digits").is_dir()       # demo data generated under COURSE_DATA_DIR


@pytest.mark.parametrize("script, options, expected", [
    ("digit_classification.py", ["--epochs", "1", "--softmax-epochs", "1"], {"epochs": 1, "softmax_epochs": 1}),
    ("image_captioning.py", ["--epochs", "3"], {"epochs": 3}),
])
def test_demo_changes_defaults_but_explicit_options_win(tmp_path, script, options, expected):
    out = tmp_path / "out"
    result = run(script, "--demo", *options, "--results-dir", out, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {key: metrics(out)[key] for key in expected} == expected


def test_digit_classification_reports_missing_data(tmp_path):
    result = run("digit_classification.py", "--dataset", "fashion_mnist", "--results-dir", tmp_path / "out" / "run",
                 data_dir=tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "fashion_mnist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and "run folder" not in result.stdout   # no run was started


def digit_classification_on_stand_ins(out, monkeypatch, val_acc: dict):
    """digit_classification.main with stand-in training: each model's best validation accuracy is val_acc[its kind]
    ("cnn", "two-layer"); the CNN gets the test set all right, the two-layer network all wrong. Returns the
    plots it drew, {"curves": [(title, curve names, kept epoch)], "confusion": (predictions, keywords)}."""
    import types

    import numpy as np

    import util
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import digit_classification
    y_test = np.arange(30) % 10
    data = {"X_train": np.zeros((2500, 1, 28, 28), np.float32), "y_train": np.zeros(2500, np.int64),
            "X_val": np.zeros((10, 1, 28, 28), np.float32), "y_val": np.zeros(10, np.int64),
            "X_test": np.zeros((30, 1, 28, 28), np.float32), "y_test": y_test}

    def fake_train(model, data, settings, args, label):
        cnn = label.startswith("cnn")
        return types.SimpleNamespace(
            best_val_acc=val_acc["cnn" if cnn else "two-layer"], best_epoch=1 if cnn else 2, num_epochs=3,
            loss_history=[1.0] * 6, train_acc_history=[0.1, 0.2, 0.3, 0.4], val_acc_history=[0.1, 0.5, 0.9, 0.3],
            predict=lambda X: y_test if cnn else (y_test + 1) % 10)
    plots = {"curves": []}
    monkeypatch.setattr(digit_classification, "load_splits", lambda args: data)
    monkeypatch.setattr(digit_classification, "train", fake_train)
    monkeypatch.setattr(util, "plot_curves", lambda curves, path, title=None, kept=None:
                        plots["curves"].append((title, list(curves), kept)))
    monkeypatch.setattr(util, "plot_confus_matrix", lambda pred, actual, **kwargs:
                        plots.update(confusion=(pred, kwargs)))
    monkeypatch.setattr(sys, "argv", ["digit_classification.py", "--dataset", "fashion_mnist",
                                      "--results-dir", str(out)])
    digit_classification.main()
    return plots


def test_digit_classification_chooses_the_model_on_validation_never_on_test(tmp_path, monkeypatch):
    # the two-layer network is better on validation (0.9 against 0.5), the CNN on the test set (all right against
    # all wrong); the two-layer network is the run's result all the same
    import numpy as np

    out = tmp_path / "out"
    plots = digit_classification_on_stand_ins(out, monkeypatch, {"cnn": 0.5, "two-layer": 0.9})
    y_test = np.arange(30) % 10
    m = metrics(out)
    assert m["test_accuracy_two_layer"] == 0.0 and m["test_accuracy_cnn"] == 1.0
    assert m["selected_model"] == "two-layer" and m["test_accuracy"] == 0.0
    assert (m["best_valid_accuracy_two_layer"], m["best_valid_accuracy_cnn"]) == (0.9, 0.5)
    assert m["best_valid_accuracy"] == 0.9
    pred, kwargs = plots["confusion"]
    np.testing.assert_array_equal(pred, (y_test + 1) % 10)
    assert kwargs["title"].startswith("two-layer network") and kwargs["class_names"][9] == "Ankle boot"
    # each model's curves mark its kept (best validation) epoch; the train accuracy says what it is measured on
    assert [(title.split(",")[0], kept) for title, _, kept in plots["curves"]] == [("two-layer network", 2), ("CNN", 1)]
    assert all("train_accuracy (2000 random training images)" in keys for _, keys, _ in plots["curves"])
    assert "train accuracy (last epoch, 2000 random training images)" in (out / "selection.md").read_text()


def test_digit_classification_chooses_the_cnn_on_a_validation_tie(tmp_path, monkeypatch):
    # equal validation accuracy: the CNN is the run's result, as the script promises ("ties: the CNN")
    digit_classification_on_stand_ins(tmp_path / "out", monkeypatch, {"cnn": 0.8, "two-layer": 0.8})
    m = metrics(tmp_path / "out")
    assert m["selected_model"] == "cnn" and m["test_accuracy"] == m["test_accuracy_cnn"] == 1.0


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="needs /work/shared/data/fashion_mnist")
def test_fashion_mnist_splits(tmp_path, monkeypatch):
    (tmp_path / "fashion_mnist").symlink_to(SHARED / "fashion_mnist")
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import argparse

    import digit_classification
    args = argparse.Namespace(dataset="fashion_mnist", data_dir=str(tmp_path), demo=False, seed=0)
    data = digit_classification.load_splits(args)
    assert [len(data[k]) for k in ("X_train", "X_val", "X_test")] == [55000, 5000, 10000]
    assert data["X_train"].shape[1:] == (1, 28, 28) and data["X_train"].dtype.name == "float32"
    assert abs(float(data["X_train"].mean())) < 1e-3 and abs(float(data["X_train"].std()) - 1) < 1e-3


def test_digit_splits_are_standardised_with_the_training_images_statistics(tmp_path, monkeypatch):
    # the demo-data version of test_fashion_mnist_splits, which needs the real data
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import argparse

    import numpy as np

    import dataset
    import digit_classification
    args = argparse.Namespace(dataset="mnist", data_dir=str(tmp_path), demo=True, seed=0)
    data = digit_classification.load_splits(args)
    assert [data[k].shape for k in ("X_train", "X_val", "X_test")] == [(1800, 1, 28, 28), (200, 1, 28, 28),
                                                                       (500, 1, 28, 28)]
    assert all(data[k].dtype == np.float32 for k in ("X_train", "X_val", "X_test"))
    assert all(data[k].dtype == np.int64 for k in ("y_train", "y_val", "y_test"))
    assert abs(float(data["X_train"].mean())) < 1e-4 and abs(float(data["X_train"].std()) - 1) < 1e-4
    # one affine map, read off the test images (whose order is kept), takes every split back to its pixels:
    # validation and test images were standardised with the training images' mean and deviation
    (x_train, y_train), (x_test, y_test) = dataset.load_mnist(demo=True, data_dir=tmp_path)
    pixels = x_test.astype(np.float64)
    scale = pixels.std() / data["X_test"].astype(np.float64).std()
    shift = pixels.mean() - scale * data["X_test"].astype(np.float64).mean()

    def back_to_pixels(x):
        return x[:, 0].astype(np.float64) * scale + shift
    np.testing.assert_allclose(back_to_pixels(data["X_test"]), pixels, atol=1e-3)
    np.testing.assert_array_equal(data["y_test"], y_test)
    train, valid = back_to_pixels(data["X_train"]), back_to_pixels(data["X_val"])
    assert np.abs(np.concatenate([train, valid]) - np.round(np.concatenate([train, valid]))).max() < 1e-3
    # ...that mean and deviation are those of the training images alone, in [0, 1] pixel units
    assert shift / 255 == pytest.approx(train.mean() / 255, abs=1e-5)
    assert scale / 255 == pytest.approx(train.std() / 255, rel=1e-5)
    # and training plus validation images, with their labels, are the original training set

    def rows(images, labels):
        return sorted(np.round(image).astype(np.uint8).tobytes() + bytes([label])
                      for image, label in zip(images, labels))
    assert rows(np.concatenate([train, valid]), np.concatenate([data["y_train"], data["y_val"]])) == \
        rows(x_train, y_train)


def test_image_captioning_demo(tmp_path):
    out = tmp_path / "out"
    result = run("image_captioning.py", "--demo", "--results-dir", out, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    m = metrics(out)
    for cell in ("rnn", "lstm"):
        assert 0.5 < m[f"bleu_val_{cell}"] <= 1.0       # the generated captions are learnable
        assert m[f"final_train_loss_{cell}"] < 1.0
        samples = (out / f"samples_{cell}.md").read_text()
        assert "## train" in samples and "## val" in samples and "demo://val/" in samples
        assert samples.count("sampled:") == 20
        assert (out / f"curves_{cell}.png").stat().st_size > 0 and (out / f"captioner_{cell}.npz").exists()


def fake_coco(folder, captions_per_image=5, images=(12, 6)):
    """A tiny dataset in the cs231n COCO format: caption k of an image is "a <colour> cat k<k>"."""
    import h5py
    import numpy as np
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "red", "blue"] + \
        [f"k{k}" for k in range(captions_per_image)]
    index = {word: i for i, word in enumerate(words)}
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    with h5py.File(folder / "coco2014_captions.h5", "w") as f:
        for split, count in zip(("train", "val"), images):
            image_idxs = np.repeat(np.arange(count), captions_per_image)
            f[f"{split}_image_idxs"] = image_idxs
            f[f"{split}_captions"] = [[index[w] for w in ["<START>", "a", ["red", "blue"][i % 2], "cat", f"k{k}",
                                                           "<END>", "<NULL>"]]
                                      for i, k in zip(image_idxs, np.tile(np.arange(captions_per_image), count))]
    for split, count in zip(("train", "val"), images):
        with h5py.File(folder / f"{split}2014_vgg16_fc7_pca.h5", "w") as f:
            f["features"] = rng.standard_normal((count, 16)).astype(np.float32)
        (folder / f"{split}2014_urls.txt").write_text("".join(f"http://x/{split}{i}.jpg\n" for i in range(count)))
    (folder / "coco2014_vocab.json").write_text(json.dumps({"idx_to_word": words, "word_to_idx": index}))


def test_image_captioning_on_coco_is_seeded_and_scores_both_splits_and_cells_alike(tmp_path):
    fake_coco(tmp_path / "coco_captioning")
    options = ["--max-train", 20, "--epochs", 1, "--batch-size", 10, "--wordvec-dim", 8, "--hidden-dim", 8,
               "--num-samples", 5, "--bleu-images", 5, "--seed", 3]
    outputs = []
    for name in ("first", "second"):
        result = run("image_captioning.py", *options, "--results-dir", tmp_path / name, data_dir=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append([metrics(tmp_path / name)] + [(tmp_path / name / f"samples_{cell}.md").read_text()
                                                     for cell in ("rnn", "lstm")])
    (first, rnn, lstm), (second, *samples_again) = outputs
    keys = [key for key in first if key.startswith(("bleu_", "final_"))]
    assert len(keys) == 8 and {k: first[k] for k in keys} == {k: second[k] for k in keys}   # --seed decides all
    assert [rnn, lstm] == samples_again
    # both cells on the same images; every image, train or val, with all five references, shown plainly
    assert [line for line in rnn.splitlines() if line.startswith("- image")] == \
        [line for line in lstm.splitlines() if line.startswith("- image")]
    for samples in (rnn, lstm):
        for split, block in zip(("train", "val"), samples.split("## val")):
            listed = block.split("- image ")[1:]
            assert len(listed) == 5, split
            for entry in listed:
                assert sorted(line.split()[-1] for line in entry.splitlines() if line.startswith("    - ")) == \
                    ["k0", "k1", "k2", "k3", "k4"], (split, entry)
        assert "<START>" not in samples and "<END>" not in samples


def test_image_captioning_reports_missing_coco(tmp_path):
    result = run("image_captioning.py", "--results-dir", tmp_path / "out", data_dir=tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "coco_captioning" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["-1", "0", "1.5", "nan"])
def test_image_captioning_refuses_a_decay_outside_0_1(tmp_path, value):
    result = run("image_captioning.py", "--demo", "--lr-decay", value, data_dir=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument --lr-decay: expected a number in (0, 1], got {value}" in result.stderr


def test_image_captioning_names_a_damaged_h5_file(tmp_path):
    folder = tmp_path / "coco_captioning"
    folder.mkdir()
    (folder / "coco2014_captions.h5").write_bytes(b"not HDF5")
    result = run("image_captioning.py", "--results-dir", tmp_path / "out", data_dir=tmp_path)
    assert_user_error(result, f"{folder / 'coco2014_captions.h5'} is not a readable HDF5 file",
                      "dataset.py download coco_captioning")


def test_benchmark_demo(tmp_path):
    out = tmp_path / "out"
    result = run("benchmark_conv.py", "--demo", "--results-dir", out, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    m = metrics(out)
    ratios = [value for key, value in m.items() if key.startswith("ratio_to_torch_")]
    speedups = [value for key, value in m.items() if key.startswith("speedup_over_naive_")]
    assert len(ratios) == len(speedups) == 4
    assert all(s > 10 for s in speedups)             # vectorised must beat the loops by far
    assert "| vectorised / torch |" in (out / "benchmark.md").read_text()


def test_coco_loader_names_a_missing_or_damaged_small_file(tmp_path):
    import h5py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "numpy_layers"))
    import coco_utils
    import dataset
    with h5py.File(tmp_path / "coco2014_captions.h5", "w") as f:
        f["train_captions"] = [[1, 2]]
    for split in ("train", "val"):
        with h5py.File(tmp_path / f"{split}2014_vgg16_fc7_pca.h5", "w") as f:
            f["features"] = [[0.5]]
    with pytest.raises(dataset.DatasetError, match="train2014_urls.txt is missing: download the data again"):
        coco_utils.load_coco_data(tmp_path)
    for split in ("train", "val"):
        (tmp_path / f"{split}2014_urls.txt").write_text("http://a\n")
    (tmp_path / "coco2014_vocab.json").write_text('{"word_to_idx": ')
    with pytest.raises(dataset.DatasetError, match="coco2014_vocab.json is not valid JSON"):
        coco_utils.load_coco_data(tmp_path)
    (tmp_path / "coco2014_vocab.json").write_text('{"word_to_idx": {"<NULL>": 0}, "idx_to_word": ["<NULL>"]}')
    data = coco_utils.load_coco_data(tmp_path)
    assert data["train_urls"].tolist() == ["http://a"] and data["idx_to_word"] == ["<NULL>"]
