"""Tests of part1_pytorch's transfer-learning scripts (feature, finetune, transfer_learning, predict, export).

Scripts run end to end as subprocesses on the generated demo images with --weights none (the demo
default), one image-loading process and one torch thread, so the file stays fast on a busy machine.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PART = REPO / "part1_pytorch"
sys.path.insert(0, str(PART))

torch = pytest.importorskip("torch")
import dataset  # noqa: E402
import pretrained  # noqa: E402
import util  # noqa: E402
import vision  # noqa: E402

FAST = ["--workers", "0", "--threads", "1"]
TF_CIFAR = REPO / "part2_tensorflow" / "cifar_tensorflow.py"  # run with the part 1 CIFAR script where they share checks
needs_tensorflow = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="no tensorflow")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    return {**os.environ, "COURSE_DATA_DIR": str(root / "data"), "COURSE_RESULTS_DIR": str(root / "results"),
            "COURSE_QUIET": "1", "OMP_NUM_THREADS": "1"}


def run(script: str, *args, env: dict, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(PART / script), *map(str, args)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == expect, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one-sentence error of a failed script: exactly one 'error:' line and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_image_folder(root: Path, splits: dict[str, tuple[str, ...]]) -> Path:
    """An ImageFolder dataset: root/<split>/<class>/ with three small PNGs each."""
    from PIL import Image
    for split, classes in splits.items():
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (40, 40), (60 * i, 90, 120)).save(root / split / name / f"{i}.png")
    return root


def saved_predictions(path: Path) -> dict[str, str]:
    with open(path) as f:
        return {row["file"]: row["predicted"] for row in csv.DictReader(f)}


def reload_and_predict(model_file: Path, files: list[str]) -> list[str]:
    model, meta = vision.load_any(model_file)
    transform = vision.eval_transform(meta["preprocessing"])
    from PIL import Image
    with torch.inference_mode():
        batch = torch.stack([transform(Image.open(f).convert("RGB")) for f in files])
        scores = vision.scores_of(model(batch))
    return [meta["class_names"][i] for i in scores.argmax(1).tolist()]


# --------------------------------------------------------------------------- building and cutting models

@pytest.mark.parametrize("arch, dim", [("alexnet", 4096), ("vgg16", 4096), ("resnet18", 512),
                                       ("inception_v3", 2048), ("densenet121", 1024)])
def test_cut_before_last_fc_gives_the_course_feature_size(arch, dim):
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        model, found, description = vision.feature_extractor(arch, "none")
        crop = vision.preprocessing_for(arch)["crop"]
        features = model(torch.zeros(2, 3, crop, crop))
    assert found == dim and tuple(features.shape) == (2, dim)
    assert "RANDOM" in description
    assert crop == (299 if arch == "inception_v3" else 224)


def test_build_model_replaces_every_classifier_layer():
    model, description = pretrained.build_model("inception_v3", "none", num_classes=5)
    assert model.fc.out_features == 5 and model.AuxLogits.fc.out_features == 5
    assert model.head_names == ["AuxLogits.fc", "fc"] and "new 5-class last layer" in description
    model, _ = pretrained.build_model("squeezenet1_1", "none", num_classes=3)
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 3)


def test_googlenet_trained_from_imagenet_weights_without_aux_heads_rebuilds(tmp_path):
    # torchvision's GoogLeNet ImageNet weights come without auxiliary heads (aux_logits=False): mimic that layout
    model = pretrained.random_model("googlenet", pretrained_layout=True)
    model.aux1 = model.aux2 = None
    model.aux_logits, model.pretrained_layout = False, True
    model.head_names = pretrained.head_layers(model)
    pretrained.replace_head(model, 3, model.head_names)
    prep = vision.preprocessing_for("googlenet", 64)
    vision.save_classifier(tmp_path / "model.pt", model, "googlenet", ["a", "b", "c"], prep, "googlenet (test)")
    rebuilt, meta = vision.load_any(tmp_path / "model.pt")
    images = torch.randn(2, 3, 64, 64)
    assert rebuilt.aux1 is None and meta["class_names"] == ["a", "b", "c"]
    assert torch.allclose(rebuilt(images), model.eval()(images))


def test_backbone_only_weights_file_is_accepted_and_a_foreign_one_refused(tmp_path, capsys):
    source, _ = pretrained.build_model("squeezenet1_1", "none")
    backbone = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier.1.")}
    torch.save(backbone, tmp_path / "backbone.pth")
    model, description = pretrained.build_model("squeezenet1_1", str(tmp_path / "backbone.pth"), num_classes=4)
    assert "backbone only" in description and "classifier.1" in capsys.readouterr().out
    assert torch.equal(model.features[0].weight, source.features[0].weight)
    with pytest.raises(util.UserError, match="does not fit resnet18"):
        pretrained.build_model("resnet18", str(tmp_path / "backbone.pth"))
    with pytest.raises(util.UserError, match="unknown model 'resnet'.*resnet18"):
        pretrained.build_model("resnet", "none")


def test_offline_default_weights_fail_with_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache

    def offline(*args, **kwargs):
        raise OSError("no network")
    import torchvision.models._api
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(util.UserError, match=r"--weights PATH.*--weights none"):
        pretrained.build_model("squeezenet1_1", "default")


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_svm_as_torch_layer_matches_scikit_learn(kernel, classes):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(classes), 20)
    features = (rng.normal(size=(len(labels), 8)) + labels[:, None]).astype(np.float32)
    svm = make_pipeline(StandardScaler(), SVC(kernel=kernel, C=1.0)).fit(features, labels)
    scores = vision.SVMScores(**vision.SVMScores.parameters_of(svm))(torch.from_numpy(features)).numpy()
    expected = svm.decision_function(features)
    if classes == 2:  # scikit-learn gives one column for two classes; ours has the OvR form for both
        assert np.array_equal(scores.argmax(1), (expected > 0).astype(int))
    else:
        np.testing.assert_allclose(scores, expected, atol=1e-4)
    assert np.array_equal(scores.argmax(1), svm.predict(features))


def test_training_loop_learns_an_easy_problem():
    torch.manual_seed(0)
    images = torch.zeros(48, 3, 32, 32)
    labels = torch.arange(48) % 3
    images[torch.arange(48), labels] = 1.0  # class = which colour channel is lit
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=16, shuffle=True)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    curves, best = vision.fit(model, data, data, optimizer, epochs=8, device=torch.device("cpu"))
    assert curves["train_loss"][-1] < curves["train_loss"][0]
    assert max(curves["valid_accuracy"]) == 1.0 and curves["valid_accuracy"][best - 1] == 1.0


def test_a_diverged_training_stops_with_one_sentence(monkeypatch):
    monkeypatch.setattr(vision, "run_epoch", lambda *args, optimizer=None, **kwargs: (float("nan"), 0.5))
    model = torch.nn.Linear(3, 2)
    with pytest.raises(util.UserError, match=r"training loss of \[freeze\] epoch 1 is nan: lower --lr"):
        vision.fit(model, [], [], torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, device=torch.device("cpu"),
                   label="[freeze] ")


def test_fit_leaves_the_model_at_its_best_validation_epoch_not_its_last(monkeypatch):
    # every training epoch moves every weight by +1 (in place, as an optimiser does); validation accuracy
    # is 0.9, 0.5, 0.6, so the weights to keep are those after epoch 1: the start plus 1, not plus 3
    accuracies = iter([0.9, 0.5, 0.6])

    def fake_epoch(model, data, device, optimizer=None, desc="", label_smoothing=0.0):
        if optimizer is None:
            return 1.0, next(accuracies)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        return 1.0, 0.5
    monkeypatch.setattr(vision, "run_epoch", fake_epoch)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    start = {name: value.clone() for name, value in model.named_parameters()}
    curves, best = vision.fit(model, [], [], torch.optim.SGD(model.parameters(), lr=0.1), epochs=3,
                              device=torch.device("cpu"))
    assert best == 1 and curves["valid_accuracy"] == [0.9, 0.5, 0.6]
    for name, value in model.named_parameters():
        torch.testing.assert_close(value, start[name] + 1, msg=name)


def test_resnet18_preprocessing_is_imagenets_and_the_transform_applies_it():
    prep = vision.preprocessing_for("resnet18")
    assert prep["resize"] == 256 and prep["crop"] == 224
    assert prep["mean"] == pytest.approx([0.485, 0.456, 0.406]) and prep["std"] == pytest.approx([0.229, 0.224, 0.225])
    small = vision.preprocessing_for("resnet18", 112)  # a smaller crop keeps the 256 / 224 ratio
    assert (small["resize"], small["crop"]) == (128, 112) and small["mean"] == prep["mean"]
    from PIL import Image
    colour = (200, 100, 30)
    image = vision.eval_transform(prep)(Image.new("RGB", (300, 260), colour))
    assert image.shape == (3, 224, 224)
    expected = [(v / 255 - m) / s for v, m, s in zip(colour, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]
    for channel, value in enumerate(expected):
        torch.testing.assert_close(image[channel], torch.full((224, 224), value), atol=1e-5, rtol=0)
    shown = vision.denormalise(image.unsqueeze(0), prep)[0]  # and display undoes it
    torch.testing.assert_close(shown[:, 0, 0], torch.tensor(colour) / 255, atol=1e-5, rtol=0)


def test_inception_auxiliary_loss_has_weight_0_4_and_googlenets_two_0_3():
    labels = torch.tensor([0, 1])
    logits, aux = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    loss, main = vision.classification_loss((logits, aux), labels)
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(loss, ce(logits, labels) + 0.4 * ce(aux, labels)) and main is logits
    other = torch.tensor([[1.0, 3.0], [0.5, 0.0]])
    loss, main = vision.classification_loss((logits, aux, other), labels)  # GoogLeNet: main, aux2, aux1
    assert torch.allclose(loss, ce(logits, labels) + 0.3 * ce(aux, labels) + 0.3 * ce(other, labels))


def test_resizing_uses_the_interpolation_each_models_weights_were_trained_with():
    from torchvision.transforms import InterpolationMode
    assert vision.preprocessing_for("resnet18")["interpolation"] == "bilinear"
    prep = vision.preprocessing_for("efficientnet_b0")
    assert prep["interpolation"] == "bicubic"
    resize = next(t for t in vision.eval_transform(prep).transforms if type(t).__name__ == "Resize")
    crop = next(t for t in vision.train_transform(prep, augment=True).transforms
                if type(t).__name__ == "RandomResizedCrop")
    assert resize.interpolation == crop.interpolation == InterpolationMode.BICUBIC
    saved_before = {key: value for key, value in prep.items() if key != "interpolation"}
    resize = next(t for t in vision.eval_transform(saved_before).transforms if type(t).__name__ == "Resize")
    assert resize.interpolation == InterpolationMode.BILINEAR


def test_a_vision_transformer_is_built_for_its_weights_input_size(monkeypatch):
    built = {}
    monkeypatch.setattr(pretrained.torchvision.models, "get_model", lambda arch, **kwargs: built.update(kwargs))
    pretrained.random_model("vit_h_14", pretrained_layout=True)  # its DEFAULT weights take 518 x 518
    assert built["image_size"] == 518 == vision.preprocessing_for("vit_h_14")["crop"]
    pretrained.random_model("vit_b_16", pretrained_layout=False)
    assert built["image_size"] == 224


def test_the_chosen_svm_predicts_what_the_saved_model_predicts():
    import feature
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 12)
    features = (rng.normal(size=(len(labels), 5)) + 0.5 * labels[:, None]).astype(np.float32)
    svm = feature.choose_svm(features, labels, "auto", folds=3, seed=0).best_estimator_
    test = rng.normal(size=(400, 5)).astype(np.float32) * 3  # far from the classes: one-vs-one votes often tie
    saved = vision.SVMScores(**vision.SVMScores.parameters_of(svm))(torch.from_numpy(test)).numpy()
    assert np.array_equal(svm.predict(test), saved.argmax(1))


def test_the_feature_cache_knows_a_weights_file_by_its_content(tmp_path):
    import feature
    weights = tmp_path / "backbone.pth"
    weights.write_bytes(b"first weights")
    stat = weights.stat()
    prep = vision.preprocessing_for("resnet18")

    def key(weights, seed=0):
        identity = feature.weights_identity(Namespace(model="resnet18", weights=weights, seed=seed))
        return feature.cache_key("resnet18", identity, tmp_path, [], prep)

    first = key(str(weights))
    weights.write_bytes(b"other weights")  # same size, and the old timestamps put back, as `cp -p` would
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert key(str(weights)) != first
    assert key("default") != key("none") and key("none", seed=0) != key("none", seed=1)


def test_label_smoothing_trains_towards_eps_over_classes_and_evaluation_stays_plain():
    torch.manual_seed(0)
    logits, labels, eps = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1]), 0.1
    log_p = torch.log_softmax(logits, 1)
    expected = (1 - eps) * -log_p[torch.arange(6), labels].mean() + eps * -log_p.mean()
    loss, _ = vision.classification_loss(logits, labels, label_smoothing=eps)
    assert torch.allclose(loss, expected) and not torch.allclose(loss, torch.nn.functional.cross_entropy(logits, labels))

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
    data = [(torch.randn(6, 3, 2, 2), labels)]
    plain = vision.run_epoch(model, data, torch.device("cpu"))
    assert vision.run_epoch(model, data, torch.device("cpu"), label_smoothing=eps) == plain  # no optimizer: evaluation
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # trains without moving: only the loss differs
    smoothed, _ = vision.run_epoch(model, data, torch.device("cpu"), optimizer, label_smoothing=eps)
    with torch.no_grad():
        assert abs(smoothed - vision.classification_loss(model(data[0][0]), labels, eps)[0].item()) < 1e-6
    assert abs(smoothed - plain[0]) > 1e-3


def test_group_table_resolves_to_known_datasets_and_models():
    image_datasets = {name for name, spec in dataset.REGISTRY.items() if spec.kind == "images"}
    for group in util.GROUPS:
        args = Namespace(group=group, dataset="x", model=None, default_model="resnet18", weights=None,
                         demo=False, image_size=None, threads=None)
        vision.apply_model_args(args)
        assert args.model in pretrained.known_architectures() and args.dataset in image_datasets
        assert (args.dataset, args.model) == (util.GROUPS[group]["image_dataset"], util.GROUPS[group]["image_model"])


# --------------------------------------------------------------------------- scripts end to end

@pytest.fixture(scope="module")
def finetuned(env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("finetune")
    run("finetune.py", "--demo", "--results-dir", folder, *FAST, env=env)
    return folder


def test_finetune_demo_writes_run_and_a_model_that_reloads(env, finetuned):
    metrics = json.loads((finetuned / "metrics.json").read_text())
    assert metrics["demo"] and metrics["model"] == "mobilenet_v2" and "RANDOM" in metrics["weights"]
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["best_epoch"] >= 1
    assert len(metrics["curves"]["valid_accuracy"]) == 2  # the warm-up epoch and one epoch of all layers
    assert (metrics["warmup_epochs"], metrics["epochs"], metrics["total_epochs"]) == (1, 1, 2)
    assert metrics["best_epoch"] <= metrics["total_epochs"]
    for name in ("conf_finetune.png", "curves.png", "model.pt"):
        assert (finetuned / name).stat().st_size > 1000
    saved = saved_predictions(finetuned / "predictions.csv")
    assert len(saved) == 24
    assert reload_and_predict(finetuned / "model.pt", list(saved)) == list(saved.values())


def test_export_and_predict_round_trip(env, tmp_path):
    # the SVM of feature.py --demo tells the demo classes apart, so a predict.py that ignored the pixels
    # fails here (a finetune.py --demo network, a few epochs from random weights, says one class for all)
    run("feature.py", "--demo", "--results-dir", tmp_path, "--cache-dir", tmp_path / "cache", *FAST, env=env)
    run("export.py", tmp_path / "model.pt", env=env)
    report = json.loads((tmp_path / "model.export.json").read_text())
    for method in ("traced", "scripted"):
        assert report[method]["max_abs_difference"] <= 1e-5 and report[method]["reloaded_max_abs_difference"] <= 1e-5
    saved = saved_predictions(tmp_path / "predictions.csv")
    assert len(set(saved.values())) == 3
    model, meta = vision.load_any(tmp_path / "model.pt")
    transform = vision.eval_transform(meta["preprocessing"])
    from PIL import Image
    with torch.inference_mode():
        probabilities = model(torch.stack([transform(Image.open(f).convert("RGB")) for f in saved])).softmax(1)
    top = probabilities.topk(2)
    expected_classes = [[meta["class_names"][i] for i in row] for row in top.indices.tolist()]
    assert [row[0] for row in expected_classes] == list(saved.values())
    for name in ("model.pt", "model.scripted.pt", "model.traced.pt"):
        result = run("predict.py", tmp_path / name, *saved, "--top-k", "2", env=env)
        lines = [line for line in result.stdout.splitlines() if line.startswith(tuple(saved))]
        shown = [[item.split() for item in line.split(": ")[1].split(", ")] for line in lines]  # [class, p] pairs
        assert [[c for c, _ in row] for row in shown] == expected_classes, name
        assert [float(p) for row in shown for _, p in row] == pytest.approx(top.values.flatten().tolist(), abs=6e-4)


def test_feature_demo_trains_svm_caches_features_and_saves_a_model(env, tmp_path):
    first = run("feature.py", "--demo", "--results-dir", tmp_path / "first", *FAST, env=env)
    metrics = json.loads((tmp_path / "first" / "metrics.json").read_text())
    assert metrics["feature_dim"] == 1280 and not metrics["features_cached"]
    assert metrics["svm"]["kernel"] in ("linear", "rbf") and metrics["torch_svm_agreement"] == 1.0
    assert metrics["extraction_images_per_second"] > 0 and metrics["throughput_ratio"] > 0
    assert (tmp_path / "first" / "conf_feature.png").stat().st_size > 1000
    assert "extracting features" in first.stdout
    saved = saved_predictions(tmp_path / "first" / "predictions.csv")
    assert reload_and_predict(tmp_path / "first" / "model.pt", list(saved)) == list(saved.values())
    svm = torch.load(tmp_path / "first" / "model.pt", weights_only=True)
    torch.save({**svm, "class_names": svm["class_names"][:2]}, tmp_path / "two_names.pt")
    with pytest.raises(util.UserError, match="its SVM has 3 classes and 2 class names"):
        vision.load_any(tmp_path / "two_names.pt")

    second = run("feature.py", "--demo", "--svm", "linear", "--results-dir", tmp_path / "second", *FAST, env=env)
    assert "features from cache" in second.stdout and "extracting features" not in second.stdout
    metrics = json.loads((tmp_path / "second" / "metrics.json").read_text())
    assert metrics["features_cached"] and metrics["svm"]["kernel"] == "linear"


def test_transfer_learning_demo_runs_both_scenarios(env, tmp_path):
    run("transfer_learning.py", "--demo", "--label-smoothing", "0.05", "--results-dir", tmp_path, *FAST, env=env)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["scenarios"]) == {"finetune", "freeze"} and metrics["label_smoothing"] == 0.05
    assert metrics["test_accuracy"] == metrics["finetune_test_accuracy"]
    for scenario in ("finetune", "freeze"):
        for name in (f"visualize_{scenario}.png", f"conf_{scenario}.png", f"{scenario}_model.pt"):
            assert (tmp_path / name).stat().st_size > 1000
    frozen, _ = vision.load_any(tmp_path / "freeze_model.pt")
    tuned, _ = vision.load_any(tmp_path / "finetune_model.pt")
    util.set_seed(0)  # both scenarios start from the random network of the run's seed
    start, _ = pretrained.build_model("mobilenet_v2", "none", num_classes=3)
    first_conv = lambda model: model.features[0][0].weight  # noqa: E731
    assert torch.equal(first_conv(frozen), first_conv(start))  # freeze trained the new last layer only
    assert not torch.equal(first_conv(tuned), first_conv(start))
    assert not torch.equal(frozen.classifier[1].weight, start.classifier[1].weight)
    for scenario in ("finetune", "freeze"):  # each saved model predicts what its run reported
        saved = saved_predictions(tmp_path / f"predictions_{scenario}.csv")
        assert len(saved) == 24
        assert reload_and_predict(tmp_path / f"{scenario}_model.pt", list(saved)) == list(saved.values())


# --------------------------------------------------------------------------- bad input: exit 2, one sentence

def test_unknown_model_fails_cleanly(env):
    result = run("finetune.py", "--demo", "--model", "resnet", env=env, expect=2)
    assert "unknown model 'resnet'" in error_line(result)


def test_group_picks_its_dataset_and_a_missing_dataset_fails_cleanly(env):
    result = run("feature.py", "--group", "3", "--weights", "none", env=env, expect=2)
    assert "group 3: dataset places, model resnet18" in result.stdout
    assert "places" in error_line(result)


def test_unreadable_image_fails_cleanly(env, finetuned, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    result = run("predict.py", finetuned / "model.pt", broken, env=env, expect=2)
    assert "cannot read" in error_line(result) and "broken.jpg" in error_line(result)


@pytest.mark.parametrize("script", ["feature.py", "finetune.py"])
def test_train_and_test_with_other_classes_fail_cleanly(env, tmp_path, script):
    write_image_folder(tmp_path / "data", {"train": ("ants", "bees"), "test": ("ants", "wasps")})
    result = run(script, "--dataset", tmp_path / "data", "--model", "squeezenet1_1", "--weights", "none", *FAST,
                 "--results-dir", tmp_path / "results", env=env, expect=2)
    assert "different class folders" in error_line(result)
    assert "extracting" not in result.stdout  # found before any image went through the network


@pytest.mark.parametrize("script", ["feature.py", "finetune.py"])
def test_a_single_class_dataset_fails_cleanly(env, tmp_path, script):
    write_image_folder(tmp_path / "data", {"train": ("ants",), "test": ("ants",)})
    result = run(script, "--dataset", tmp_path / "data", "--model", "squeezenet1_1", "--weights", "none", *FAST,
                 "--results-dir", tmp_path / "results", env=env, expect=2)
    assert "only one class folder (ants): a classifier needs at least two" in error_line(result)
    assert "extracting" not in result.stdout and "epoch" not in result.stdout


@pytest.mark.parametrize("folds", ["1", "0"])
def test_fewer_than_two_folds_are_refused_by_the_command_line(env, folds):
    result = run("feature.py", "--demo", "--folds", folds, env=env, expect=2)
    assert f"argument --folds: expected a number >= 2, got {folds}" in result.stderr
    assert "Traceback" not in result.stderr and "extracting" not in result.stdout


@pytest.mark.parametrize("script", ["feature.py", "finetune.py"])
def test_too_small_image_size_fails_cleanly(env, tmp_path, script):
    result = run(script, "--demo", "--model", "squeezenet1_1", "--image-size", "8", *FAST,
                 "--results-dir", tmp_path, env=env, expect=2)
    assert "--image-size 8 is too small for squeezenet1_1: use at least 17" in error_line(result)
    model, _ = pretrained.build_model("squeezenet1_1", "none")
    assert vision.runs_at(model, 17) and not vision.runs_at(model, 16)


def test_inception_image_size_is_checked_in_training_mode_where_its_auxiliary_head_runs():
    model, _ = pretrained.build_model("inception_v3", "none", num_classes=3)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    vision.check_image_size(model, "inception_v3", 224)  # eval mode: the auxiliary head does not run
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    with pytest.raises(util.UserError, match="--image-size 224 is too small for inception_v3: use at least 299"):
        vision.check_image_size(model, "inception_v3", 224, training=True)
    assert torch.equal(torch.rand(1), expected)  # dropout's random numbers were given back
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())  # statistics too


def test_a_network_with_one_input_size_refuses_any_other():
    class FixedSize(torch.nn.Module):  # as torchvision's vision transformers: they assert the input size
        def forward(self, images):
            assert images.shape[-1] == 224, "Wrong image width"
            return images.mean((2, 3))

    vision.check_image_size(FixedSize(), "vit_b_16", 224)
    for size in (160, 256):
        with pytest.raises(util.UserError, match=f"--image-size {size} does not suit vit_b_16: leave it out"):
            vision.check_image_size(FixedSize(), "vit_b_16", size)


BREAKAGES = {  # an edited or truncated model.pt, the script loading it, the reason its error gives
    "no pretrained_layout": (lambda c: {k: v for k, v in c.items() if k != "pretrained_layout"}, "predict.py",
                             "missing 'pretrained_layout'"),
    "truncated state_dict": (lambda c: {**c, "state_dict": dict(list(c["state_dict"].items())[:10])}, "export.py",
                             "its weights do not fit mobilenet_v2: Missing key(s) in state_dict"),
    "other arch": (lambda c: {**c, "arch": "resnet18"}, "predict.py", "resnet18 has no layer 'classifier.1'"),
    "other class count": (lambda c: {**c, "class_names": ["a", "b"]}, "export.py",
                          "its weights do not fit mobilenet_v2: size mismatch for classifier.1.weight"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_broken_saved_model_fails_cleanly(env, finetuned, tmp_path, breakage):
    change, script, reason = BREAKAGES[breakage]
    broken = tmp_path / "model.pt"
    torch.save(change(torch.load(finetuned / "model.pt", weights_only=True)), broken)
    images = [finetuned / "curves.png"] if script == "predict.py" else []
    message = error_line(run(script, broken, *images, env=env, expect=2))
    assert f"{broken} is not a complete saved model of this course ({reason}): pass a model.pt" in message


def test_a_saved_classifier_as_weights_fails_cleanly(env, finetuned):
    result = run("feature.py", "--demo", "--weights", finetuned / "model.pt", *FAST, env=env, expect=2)
    assert (f"{finetuned / 'model.pt'} is a saved classifier of this course, not a state_dict: pass it to predict.py"
            in error_line(result))


def test_weights_for_another_architecture_fail_cleanly(env, tmp_path):
    model, _ = pretrained.build_model("squeezenet1_1", "none")
    torch.save(model.state_dict(), tmp_path / "squeezenet.pth")
    result = run("feature.py", "--demo", "--model", "resnet18", "--weights", tmp_path / "squeezenet.pth", env=env,
                 expect=2)
    assert "does not fit resnet18" in error_line(result)


def test_a_weights_folder_is_called_a_folder(tmp_path):
    args = Namespace(group=None, dataset=None, default_dataset="hymenoptera", model=None, default_model="resnet18",
                     weights=str(tmp_path), demo=False, image_size=None, threads=None)
    with pytest.raises(util.UserError, match=f"--weights {tmp_path} is a folder, not a file"):
        vision.apply_model_args(args)


@pytest.mark.parametrize("script, option", [("feature.py", ["--dataset", "nonexist"]),
                                            ("finetune.py", ["--group", "3"])])
def test_demo_with_an_explicit_dataset_or_group_fails_cleanly(env, tmp_path, script, option):
    result = run(script, "--demo", *option, *FAST, "--results-dir", tmp_path / "run", env=env, expect=2)
    assert f"--demo uses the demo images, not {option[0]}: drop {option[0]} or --demo" in error_line(result)
    assert "group 3" not in result.stdout and not (tmp_path / "run").exists()


@pytest.mark.parametrize("script", ["finetune.py", "transfer_learning.py", "cifar_pytorch.py",
                                    pytest.param(TF_CIFAR, marks=needs_tensorflow)])
def test_a_valid_fraction_leaving_nothing_to_train_on_fails_before_the_run(env, tmp_path, script):
    # 0.999 of the 72 demo images (600 demo CIFAR images) is all of them
    result = run(script, "--demo", "--valid-fraction", "0.999", "--threads", "1", "--results-dir", tmp_path / "run",
                 env=env, expect=2)
    assert ("--valid-fraction 0.999 of the" in error_line(result)
            and "leaves nothing to train on: lower --valid-fraction" in error_line(result))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where, message", [("file", "--cache-dir {} is a file, not a folder"),
                                            ("file/cache", "cannot write in {} (Not a directory)")])
def test_a_cache_dir_that_cannot_hold_the_cache_fails_before_the_run(env, tmp_path, where, message):
    (tmp_path / "file").write_text("mine")
    result = run("feature.py", "--demo", "--cache-dir", tmp_path / where, *FAST, "--results-dir", tmp_path / "run",
                 env=env, expect=2)
    assert message.format(tmp_path / where) in error_line(result)
    assert not (tmp_path / "run").exists() and (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_unreadable_feature_cache_file_is_extracted_again_and_overwritten(tmp_path, capsys, damage):
    import feature
    root = write_image_folder(tmp_path / "data", {"train": ("ants", "bees")})
    prep = vision.preprocessing_for("squeezenet1_1", 32)
    images = dataset.image_dataset(root / "train", vision.eval_transform(prep))
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())  # each image's mean colour
    args = Namespace(model="mean_colour", batch_size=4, workers=0)

    def features():
        return feature.cached_features(args, "none", model, root / "train", images, prep, tmp_path / "cache",
                                       torch.device("cpu"), "train")

    extracted = features()[0]
    [cache_file] = (tmp_path / "cache").glob("*.npz")
    cache_file.write_bytes(b"garbage" if damage == "garbage" else cache_file.read_bytes()[:300])
    np.testing.assert_array_equal(features()[0], extracted)
    assert "is unreadable" in capsys.readouterr().out
    features_again, *_, timing = features()
    assert timing is None and "features from cache" in capsys.readouterr().out  # the bad file was overwritten
    np.testing.assert_array_equal(features_again, extracted)


def test_an_unreadable_training_image_is_reported_once_without_a_raw_warning(tmp_path, capsys):
    root = write_image_folder(tmp_path / "data", {"train": ("ants", "bees")})
    (root / "train" / "ants" / "broken.png").write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # the training scripts read the training folder twice: training and validation images
            assert len(dataset.image_dataset(root / "train")) == 6
    assert capsys.readouterr().err.count("broken.png") == 1 and not caught


# --------------------------------------------------------------------------- the course's CIFAR network

def test_cifar_network_stops_with_one_sentence_when_its_loss_is_not_a_number():
    import cifar_pytorch
    images = torch.full((8, 3, 32, 32), float("inf"))  # what a diverged step leaves in the activations
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.arange(8) % 4), batch_size=4)
    with pytest.raises(util.UserError, match="training loss of epoch 1 is nan: lower --lr"):
        cifar_pytorch.CifarNet(4).fit(loader, 2)


def test_cifar_network_learns_the_demo_data_and_reloads(env, tmp_path):
    import cifar_pytorch
    run("cifar_pytorch.py", "--demo", "--threads", "1", "--results-dir", tmp_path, env=env)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.5  # 4 classes: chance is 0.25
    assert (metrics["dataset"], metrics["model"]) == ("demo_cifar100_4classes", None)  # as cifar_tensorflow names it
    assert len(metrics["train_loss"]) == 3 and metrics["train_loss"][-1] < metrics["train_loss"][0]
    for name in ("confusion_matrix.png", "curves.png"):
        assert (tmp_path / name).stat().st_size > 1000
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    model = cifar_pytorch.CifarNet(saved["num_classes"])
    model.load_state_dict(saved["state_dict"])
    _, (test_x, test_y) = dataset.cifar100(0, 4, data_dir=env["COURSE_DATA_DIR"], demo=True)
    predicted, labels = model.predict(cifar_pytorch.to_loader(test_x, test_y, 64, False))
    assert float((predicted == labels).mean()) == pytest.approx(metrics["test_accuracy"])
    assert model(torch.zeros(5, 3, 32, 32)).shape == (5, 4)


CIFAR_SCRIPTS = ["cifar_pytorch.py", pytest.param(TF_CIFAR, marks=needs_tensorflow)]


@pytest.mark.parametrize("script", CIFAR_SCRIPTS)
def test_one_cifar_class_is_refused(env, tmp_path, script):
    result = run(script, "--demo", "--num-classes", "1", "--threads", "1", "--results-dir", tmp_path / "run",
                 env=env, expect=2)
    assert "--num-classes must be between 2 and 8" in error_line(result) and not (tmp_path / "run").exists()


@pytest.mark.parametrize("script", CIFAR_SCRIPTS)
def test_garbage_cifar_files_fail_cleanly(env, tmp_path, script):
    (tmp_path / "data" / "cifar100").mkdir(parents=True)
    for name in ("meta", "train", "test"):
        (tmp_path / "data" / "cifar100" / name).write_text("garbage\n")  # unpickles to a ValueError
    result = run(script, "--data-dir", tmp_path / "data", "--threads", "1", env=env, expect=2)
    assert f"{tmp_path / 'data' / 'cifar100' / 'meta'} is not CIFAR-100 metadata" in error_line(result)
