"""An ImageNet-pretrained network as a fixed feature extractor, and an SVM trained on its features.

The network is cut before its last fully-connected layer (vision.cut_before_last_fc); features of
every train and test image are extracted once, batched under torch.inference_mode(), and cached on
disk, so trying other SVM settings does not re-run the network. A StandardScaler + SVC (linear or
RBF kernel, C) is chosen by cross-validation on the training features only; the test split is
scored once at the end.

    python part1_pytorch/feature.py --dataset hymenoptera --model resnet18
    python part1_pytorch/feature.py --dataset ../shared/data/images/scene9 --model mobilenet_v2 \
        --weights ../shared/weights/mobilenet_v2_backbone_imagenet.pth
    python part1_pytorch/feature.py --demo --weights none --model squeezenet1_1
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import dataset
import util
import vision

SVM_GRID = {"linear": [{"svc__kernel": ["linear"], "svc__C": [1e-4, 1e-3, 1e-2, 1e-1]}],
            "rbf": [{"svc__kernel": ["rbf"], "svc__C": [1, 10, 100], "svc__gamma": ["scale"]}]}


def weights_identity(args) -> str:
    """What the features depend on of the weights; computed once per run (a file is hashed whole)."""
    if args.weights == "none":
        return f"none-seed{args.seed}"  # random initialisation differs per seed
    if args.weights == "default":  # what DEFAULT means changes with torchvision's versions
        default = torchvision.models.get_model_weights(args.model).DEFAULT
        return f"{default.name}-torchvision-{torchvision.__version__}"
    # the content: a copy that keeps the timestamps (cp -p, rsync -a) must not pass for the file it replaced
    return dataset.file_digest(Path(args.weights))


def cache_key(model: str, weights: str, split_dir: Path, samples: list[tuple[str, int]], prep: dict) -> str:
    """Hash of everything the features depend on: model, weights (weights_identity), the split's images, the
    transform."""
    images = [(path, label, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path, label in samples]
    text = json.dumps({"model": model, "weights": weights, "split": str(split_dir.resolve()),
                       "images": images, "transform": prep}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@torch.inference_mode()
def extract(model, data, device, desc: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run every batch through the cut network.

    Returns (features (N, D) float32, labels (N,), timing): the extraction throughput (images/s over
    the whole loop, loading included) and the bare network's forward throughput on the same batches
    (images/s over the forward calls alone, timed in the same loop so both see the same machine load).
    """
    model.eval()
    features, labels = [], []
    forward_seconds = 0.0
    started = time.perf_counter()
    for images, targets in util.progress(data, desc=desc, unit="batch"):
        forward_started = time.perf_counter()
        features.append(model(images.to(device)).flatten(1).float().cpu())
        forward_seconds += time.perf_counter() - forward_started
        labels.append(targets)
    seconds = time.perf_counter() - started
    count = sum(len(t) for t in labels)
    timing = {"images": count, "seconds": seconds, "forward_seconds": forward_seconds}
    return torch.cat(features).numpy(), torch.cat(labels).numpy(), timing


def cached_features(args, weights: str, model, split_dir: Path, images, prep: dict, cache_dir: Path, device,
                    desc: str):
    """Features of one split (`images`, the ImageFolder of split_dir) from the cache, or extracted and cached.

    Returns (features, labels, classes, paths, timing).
    """
    path = cache_dir / f"{args.model}-{cache_key(args.model, weights, split_dir, images.samples, prep)}.npz"
    if path.exists():
        try:
            with np.load(path) as saved:
                features, labels = saved["features"], saved["labels"]
        # a cut-short or overwritten file: extracting again (and overwriting it) beats failing on every later run
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            print(f"{desc}: cache file {path} is unreadable ({type(error).__name__}): extracting the features again")
        else:
            print(f"{desc}: features from cache {path}")
            return features, labels, list(images.classes), [p for p, _ in images.samples], None
    print(f"{desc}: extracting features of {len(images)} images with {args.model}")
    features, labels, timing = extract(model, vision.loader(images, args.batch_size, False, args.workers), device, desc)
    with util.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=features, labels=labels)
    return features, labels, list(images.classes), [p for p, _ in images.samples], timing


def choose_svm(features: np.ndarray, labels: np.ndarray, kernel: str, folds: int, seed: int) -> GridSearchCV:
    """Cross-validated StandardScaler + SVC on the training features (kernel: linear, rbf or both)."""
    grid = SVM_GRID["linear"] + SVM_GRID["rbf"] if kernel == "auto" else SVM_GRID[kernel]
    folds = min(folds, int(np.bincount(labels).min()))
    if folds < 2:
        util.fail("some class has fewer than 2 training images: cross-validation needs at least 2 per class")
    # break_ties: predict by the largest one-vs-rest score, as the saved model (vision.SVMScores) and predict.py do,
    # so that the reported test accuracy is the saved model's; plain SVC.predict breaks one-vs-one vote ties its own way
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC(break_ties=True)), grid,
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    print(f"choosing the SVM by {folds}-fold cross-validation over {sum(len(g['svc__C']) for g in grid)} settings")
    return search.fit(features, labels)


def fold_count(text: str) -> int:
    """An argparse type: cross-validation needs at least 2 folds (fit on some, score on another)."""
    try:
        folds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if folds < 2:
        raise argparse.ArgumentTypeError(f"expected a number >= 2, got {text}")
    return folds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=0, batch_size=32)
    vision.add_model_args(parser)
    parser.add_argument("--svm", default="auto", choices=["auto", "linear", "rbf"],
                        help="SVM kernel; auto lets cross-validation choose")
    parser.add_argument("--folds", type=fold_count, default=5, help="cross-validation folds (at least 2)")
    parser.add_argument("--cache-dir", default=None,
                        help="feature cache folder (default: <results root>/.feature_cache)")
    args = parser.parse_args(argv)
    vision.apply_model_args(args)
    device = util.get_device(args.device)

    name, train_dir, test_dir = vision.dataset_folders(args.dataset, args.data_dir, args.demo)
    cache_dir = Path(args.cache_dir) if args.cache_dir else util.RESULTS_ROOT / ".feature_cache"
    util.writable_folder(cache_dir, "--cache-dir")  # found now, not after minutes of extraction
    run = util.start_run(args, "feature", name, args.model)
    model, dim, description = vision.feature_extractor(args.model, args.weights, args.image_size)
    model.to(device)
    prep = vision.preprocessing_for(args.model, args.image_size)
    print(f"{description}: {dim} features per image, input {prep['crop']}x{prep['crop']}")

    # Classes are checked first: extracting a split can take minutes, a mismatch should not wait for it.
    train_images, test_images = (dataset.image_dataset(d, vision.eval_transform(prep)) for d in (train_dir, test_dir))
    vision.check_classes(train_dir, train_images.classes, test_dir, test_images.classes)
    weights = weights_identity(args)
    train_x, train_y, classes, _, train_timing = cached_features(args, weights, model, train_dir, train_images, prep,
                                                                 cache_dir, device, "train")
    test_x, test_y, _, test_paths, test_timing = cached_features(args, weights, model, test_dir, test_images, prep,
                                                                 cache_dir, device, "test")

    search = choose_svm(train_x, train_y, args.svm, args.folds, args.seed)
    chosen = {key.removeprefix("svc__"): value for key, value in search.best_params_.items()}
    print(f"chosen SVM: {chosen}, cross-validation accuracy {search.best_score_:.3f}")
    svm = search.best_estimator_
    predicted = svm.predict(test_x)
    accuracy = vision.report_test(run, name, f"SVM on {description}", predicted, test_y, test_paths, classes,
                                  confusion="conf_feature.png", predictions="predictions.csv")
    svm_parameters = vision.SVMScores.parameters_of(svm)
    torch_scores = vision.SVMScores(**svm_parameters)(torch.from_numpy(test_x)).numpy()
    agreement = float((torch_scores.argmax(1) == predicted).mean())
    vision.save_svm(run.path("model.pt"), model, args.model, classes, prep, description, svm_parameters)

    timings = [t for t in (train_timing, test_timing) if t]
    throughput = {}
    if timings:
        images = sum(t["images"] for t in timings)
        throughput = {
            "extraction_images_per_second": round(images / sum(t["seconds"] for t in timings), 2),
            "bare_forward_images_per_second": round(images / sum(t["forward_seconds"] for t in timings), 2)}
        throughput["throughput_ratio"] = round(throughput["extraction_images_per_second"]
                                               / throughput["bare_forward_images_per_second"], 3)
        print(f"feature extraction: {throughput['extraction_images_per_second']:.1f} images/s, bare network "
              f"{throughput['bare_forward_images_per_second']:.1f} images/s ({throughput['throughput_ratio']:.0%})")
    run.finish({"test_accuracy": accuracy, "weights": description, "pretrained": args.weights != "none",
                "feature_dim": dim, "svm": chosen,
                "cv_accuracy": float(search.best_score_), "cv_folds": search.n_splits_,
                "train_images": len(train_y), "test_images": len(test_y), "features_cached": not timings,
                "torch_svm_agreement": agreement, "batch_size": args.batch_size, "workers": args.workers,
                "threads": torch.get_num_threads(), **throughput})


if __name__ == "__main__":
    util.run_main(main)
