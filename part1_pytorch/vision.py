"""Shared helpers of the transfer-learning scripts (feature.py, finetune.py, transfer_learning.py,
predict.py, export.py): command-line options, per-architecture preprocessing, cutting a network
before its last fully-connected layer, image loaders, the train / evaluate loop and saved models.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
import zipfile
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

import dataset
import util
from pretrained import (build_model, check_architecture, check_weights_option, drop_absent_aux_heads, head_layers,
                        known_architectures, random_model, replace_head)

# The auxiliary classifiers' loss weight by how many a network has: Inception v3's one 0.4 (Szegedy et al. 2016,
# torchvision's recipe), GoogLeNet's two 0.3 each (Szegedy et al. 2015).
AUX_LOSS_WEIGHTS = {1: 0.4, 2: 0.3}
DEMO_MODEL = "mobilenet_v2"  # light enough for --demo to train in seconds on one core
DEMO_IMAGE_SIZE = 96  # the demo images are 64x64: full-size inputs would only cost time
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
CONFUSION_SIZE = {"faces": 9, "caltech101": 9}  # the course shows the first 9 classes of these large tables


# --------------------------------------------------------------------------- command line

def add_training_args(parser: argparse.ArgumentParser, *, epochs: int, head_lr: float) -> None:
    """The options finetune.py and transfer_learning.py share: the common ones, add_model_args's, --head-lr,
    --valid-fraction and --label-smoothing."""
    util.add_common_args(parser, epochs=epochs, batch_size=32, lr=0.001)
    add_model_args(parser)
    parser.add_argument("--head-lr", type=util.learning_rate, default=head_lr,
                        help="learning rate of the new last layer")
    parser.add_argument("--valid-fraction", type=float, default=0.2, help="share of train held out for validation")
    util.add_label_smoothing_arg(parser)


def add_model_args(parser: argparse.ArgumentParser, *, model: str = "resnet18", dataset_name: str = "hymenoptera",
                   workers: int = 1) -> None:
    """--dataset, --group, --model, --weights, --image-size, --workers, --threads (shared by the vision scripts)."""
    # None, not the default name, so that apply_model_args can tell a --dataset given with --demo
    parser.add_argument("--dataset", default=None,
                        help=f"prepared ImageFolder dataset (hymenoptera, caltech101, animals, faces, places, "
                             f"household, scene9) or a path to a folder with train/ and test/ (or val/); "
                             f"when not given: {dataset_name}, or the demo images with --demo")
    parser.add_argument("--group", type=util.positive(int), default=None,
                        help="take --dataset and --model from this group of the course's group table")
    parser.add_argument("--model", default=None,
                        help=f"any torchvision classification model: alexnet, vgg16, resnet18, inception_v3, "
                             f"densenet121, mobilenet_v2, squeezenet1_1, ...; when not given: {model}, "
                             f"or {DEMO_MODEL} with --demo")
    parser.add_argument("--weights", default=None,
                        help="default: torchvision's ImageNet weights (cache or download); none: random "
                             "initialisation; or a path to a state_dict for --model; when not given: default, "
                             "or none with --demo")
    parser.add_argument("--image-size", type=util.positive(int), default=None,
                        help=f"input crop size; when not given: the architecture's (224, inception_v3 299), "
                             f"or {DEMO_IMAGE_SIZE} with --demo (not for inception_v3)")
    parser.add_argument("--workers", type=util.positive(int, zero=True), default=workers,
                        help="image-loading worker processes")
    util.add_threads_arg(parser, why="on a shared machine 1 is often fastest")
    parser.set_defaults(default_model=model, default_dataset=dataset_name)


def apply_model_args(args: argparse.Namespace) -> None:
    """Resolve --group and the --demo defaults, check --model and a --weights path early, set --threads."""
    given = [option for option, value in (("--dataset", args.dataset), ("--group", args.group)) if value is not None]
    if args.demo and given:  # --demo would silently train on the demo images instead
        util.fail(f"--demo uses the demo images, not {given[0]}: drop {given[0]} or --demo")
    if args.group is not None:
        settings = util.group_settings(args.group)
        args.dataset, args.model = settings["image_dataset"], settings["image_model"]
        print(f"group {args.group}: dataset {args.dataset}, model {args.model}")
    args.dataset = args.dataset or args.default_dataset
    args.model = args.model or (DEMO_MODEL if args.demo else args.default_model)
    args.weights = args.weights or ("none" if args.demo else "default")
    check_weights_option(args.weights)  # now, not after the run started
    if args.demo and not args.image_size and args.model != "inception_v3":  # its auxiliary head needs 299
        args.image_size = DEMO_IMAGE_SIZE
    check_architecture(args.model)
    util.use_threads(args.threads)


def demo_model(model: str | None) -> str:
    """The model predict.py and export.py use with --demo: the one given, else the one `finetune.py --demo` saved."""
    if model:  # checked as any model given is
        return model
    model = str(util.default_run_dir("finetune", "demo_images", DEMO_MODEL) / "model.pt")
    if not Path(model).is_file():
        util.fail(f"no demo model at {model}: run `python part1_pytorch/finetune.py --demo` first")
    return model


def model_file(name: str) -> Path:
    """The model predict.py or export.py was given: a file, or a run folder holding model.pt (as predict_text.py
    takes a run folder)."""
    path = Path(name)
    if not path.is_dir():
        return path
    if (path / "model.pt").is_file():
        return path / "model.pt"
    models = sorted(p.name for p in path.glob("*.pt"))  # transfer_learning.py saves one model per scenario
    util.fail(f"{path} is a folder, not a model file: pass "
              + (f"one of its models ({', '.join(models)})" if models else
                 "a model.pt saved by finetune.py, transfer_learning.py or feature.py"))


# --------------------------------------------------------------------------- preprocessing

def preprocessing_for(arch: str, image_size: int | None = None) -> dict:
    """Input size and normalisation the ImageNet weights of `arch` expect (inception_v3: 299, most: 224).

    image_size overrides the crop (the resize keeps torchvision's resize/crop ratio), e.g. to train faster.
    Returns {"resize": int, "crop": int, "mean": [3 floats], "std": [3 floats], "interpolation": str}; plain
    data so it can be saved with a model. The interpolation is the resampling the weights were trained with
    (bilinear for most, bicubic for EfficientNet, Swin, MaxViT and others).
    """
    reference = torchvision.models.get_model_weights(arch).DEFAULT.transforms()
    resize, crop = int(reference.resize_size[0]), int(reference.crop_size[0])
    if image_size:
        resize, crop = round(image_size * resize / crop), image_size
    return {"resize": resize, "crop": crop, "mean": [float(m) for m in reference.mean],
            "std": [float(s) for s in reference.std], "interpolation": reference.interpolation.value}


def resampling(prep: dict) -> transforms.InterpolationMode:
    """prep's interpolation; models saved before it was recorded were trained with bilinear resizing."""
    return transforms.InterpolationMode(prep.get("interpolation", "bilinear"))


def eval_transform(prep: dict) -> transforms.Compose:
    """PIL image -> normalised float tensor (3, crop, crop): resize the short side, centre crop."""
    return transforms.Compose([transforms.Resize(prep["resize"], interpolation=resampling(prep)),
                               transforms.CenterCrop(prep["crop"]),
                               transforms.ToTensor(), transforms.Normalize(prep["mean"], prep["std"])])


def train_transform(prep: dict, augment: bool) -> transforms.Compose:
    """The training transform: with augment, random resized crop, flip, small rotation and colour jitter."""
    if not augment:
        return eval_transform(prep)
    return transforms.Compose([
        transforms.RandomResizedCrop(prep["crop"], scale=(0.5, 1.0), interpolation=resampling(prep)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomRotation(10),
        transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        transforms.ToTensor(), transforms.Normalize(prep["mean"], prep["std"])])


def denormalise(images: torch.Tensor, prep: dict) -> torch.Tensor:
    """(N, 3, H, W) normalised -> (N, 3, H, W) in [0, 1] for display."""
    mean = torch.tensor(prep["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(prep["std"]).view(1, 3, 1, 1)
    return (images * std + mean).clamp(0, 1)


# --------------------------------------------------------------------------- models

def cut_before_last_fc(model: nn.Module) -> nn.Module:
    """Replace the final classifier layer by the identity (in place); drop Inception's auxiliary head.

    AlexNet / VGG then end with the classifier minus its last Linear (4096 features after ReLU);
    ResNet, Inception, DenseNet, MobileNet, SqueezeNet... with the pooled features.
    """
    parent_name, _, child = model.head_names[-1].rpartition(".")
    setattr(model.get_submodule(parent_name), child, nn.Identity())
    if getattr(model, "AuxLogits", None) is not None:
        model.AuxLogits = None  # only runs in training mode; dropping it saves memory and time
    return model


def feature_extractor(arch: str, weights: str, image_size: int | None = None) -> tuple[nn.Module, int, str]:
    """The pretrained network cut before its last fully-connected layer (image_size: as for preprocessing_for).

    Returns (model in eval mode mapping (N, 3, crop, crop) -> (N, D), D, description of the weights).
    """
    model, description = build_model(arch, weights)
    cut_before_last_fc(model)
    crop = preprocessing_for(arch, image_size)["crop"]
    check_image_size(model, arch, crop)
    with torch.inference_mode():
        dim = model.eval()(torch.zeros(1, 3, crop, crop)).flatten(1).shape[1]
    return model, dim, description


def runs_at(model: nn.Module, size: int, device=None, training: bool = False) -> bool:
    """Whether a batch of size x size images gets through the network, in eval mode or in training mode (where
    Inception's auxiliary head runs too; the caller passes a copy, as batch norm's statistics move)."""
    try:
        if training:
            with torch.no_grad(), torch.random.fork_rng():  # dropout's random numbers are given back
                model.train()(torch.zeros(2, 3, size, size, device=device))
        else:
            with torch.inference_mode():
                model.eval()(torch.zeros(1, 3, size, size, device=device))
        return True
    # a pooling or convolution window larger than what is left of the image; a transformer's fixed input size
    except (RuntimeError, AssertionError, ValueError):
        return False


def check_image_size(model: nn.Module, arch: str, crop: int, device=None, training: bool = False) -> None:
    """Refuse a --image-size the network cannot take, before any training or extraction: too small for its
    pooling layers (in training mode too, with training=True), or other than the one size a vision transformer
    takes. The model is left as it was.

    Only sizes other than the architecture's own crop are tried: at its own size a failure is a bug, not the user's.
    """
    reference = preprocessing_for(arch)["crop"]
    if crop == reference:
        return
    probe = copy.deepcopy(model) if training else model
    if runs_at(probe, crop, device, training):
        return
    smallest = next((size for size in range(crop + 1, reference) if runs_at(probe, size, device, training)),
                    reference)
    if crop < reference and (smallest < reference or runs_at(probe, reference + 1, device, training)):
        util.fail(f"--image-size {crop} is too small for {arch}: use at least {smallest}")
    util.fail(f"--image-size {crop} does not suit {arch}: leave it out ({arch} takes {reference} x {reference})")


def trainable_head(model: nn.Module) -> list[nn.Parameter]:
    """Parameters of the classifier layers (the final one and any auxiliary ones)."""
    return [p for name in model.head_names for p in model.get_submodule(name).parameters()]


def freeze_backbone(model: nn.Module) -> int:
    """Stop gradients everywhere except the head; returns the number of trainable parameters."""
    head = {id(p) for p in trainable_head(model)}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in head)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# The keys save_classifier / save_svm write and rebuild / model_meta read, by kind.
CHECKPOINT_KEYS = {"classifier": ("arch", "class_names", "preprocessing", "weights", "head_names",
                                  "pretrained_layout", "state_dict"),
                   "svm": ("arch", "class_names", "preprocessing", "weights", "pretrained_layout", "backbone", "svm")}


def save_classifier(path: Path, model: nn.Module, arch: str, class_names: list[str], prep: dict,
                    description: str, **extra) -> None:
    """Save what predict.py / export.py need to rebuild the model (plain data + tensors: weights_only-safe)."""
    util.save_torch({"kind": "classifier", "arch": arch, "class_names": list(class_names),
                     "preprocessing": prep, "weights": description, "head_names": model.head_names,
                     "pretrained_layout": model.pretrained_layout,
                     "state_dict": model.state_dict(), **extra}, path)


def save_svm(path: Path, backbone: nn.Module, arch: str, class_names: list[str], prep: dict,
             description: str, svm: dict) -> None:
    """Save the cut network and the SVM's arrays (SVMScores.parameters_of) as one weights_only-safe checkpoint."""
    util.save_torch({"kind": "svm", "arch": arch, "class_names": list(class_names), "preprocessing": prep,
                     "weights": description, "pretrained_layout": backbone.pretrained_layout,
                     "backbone": backbone.state_dict(), "svm": svm}, path)


def report_test(run: util.Run, dataset_name: str, title: str, predicted, labels, files: list[str],
                class_names: list[str], *, confusion: str, predictions: str) -> float:
    """Write the test split's confusion matrix and predictions CSV into the run folder; returns the accuracy."""
    util.plot_confus_matrix(predicted, labels, title=title, size=confusion_size(dataset_name),
                            class_names=class_names, path=run.path(confusion))
    save_predictions(run.path(predictions), files, labels, predicted, class_names)
    return float((predicted == labels).mean())


def save_predictions(path: Path, files: list[str], labels, predicted, class_names: list[str]) -> None:
    """CSV of file, true class, predicted class (one row per test image)."""
    rows = [[file, class_names[label], class_names[guess]] for file, label, guess in zip(files, labels, predicted)]
    util.save_csv(path, ["file", "true", "predicted"], rows)


def load_checkpoint(path: Path) -> dict:
    """torch.load(weights_only=True) with one-sentence errors for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        util.fail(f"model file {path} does not exist: pass a model.pt saved by finetune.py, "
                  f"transfer_learning.py or feature.py")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling, zip and format errors all mean "not one of our models"
        util.fail(f"cannot load {path} safely ({type(error).__name__}): pass a model.pt saved by these scripts")
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") not in CHECKPOINT_KEYS:
        util.fail(f"{path} is not a model saved by these scripts: pass a model.pt from finetune.py, "
                  f"transfer_learning.py or feature.py")
    missing = [key for key in CHECKPOINT_KEYS[checkpoint["kind"]] if key not in checkpoint]
    if missing:
        incomplete(path, f"missing {missing[0]!r}")
    return checkpoint


def incomplete(path, why: str) -> NoReturn:
    util.fail(f"{path} is not a complete saved model of this course ({why}): pass a model.pt written by "
              f"finetune.py, transfer_learning.py or feature.py")


def rebuild(checkpoint: dict, path) -> nn.Module:
    """The (N, 3, crop, crop) -> (N, num_classes) scores model a checkpoint (read from path) describes, in eval mode.

    An edited or truncated file (another arch, cut tensors) is a user error naming path.
    """
    arch = checkpoint["arch"]
    if arch not in known_architectures():
        incomplete(path, f"unknown arch {arch!r}")
    model = random_model(arch, pretrained_layout=checkpoint["pretrained_layout"])
    drop_absent_aux_heads(model, checkpoint["backbone" if checkpoint["kind"] == "svm" else "state_dict"])
    if checkpoint["kind"] == "svm":
        model.head_names = head_layers(model)
        cut_before_last_fc(model)
        state = checkpoint["backbone"]
    else:
        layers = dict(model.named_modules())
        absent = [name for name in checkpoint["head_names"] if name not in layers]
        if absent:  # the file names classifier layers of another architecture
            incomplete(path, f"{arch} has no layer {absent[0]!r}")
        replace_head(model, len(checkpoint["class_names"]), checkpoint["head_names"])
        state = checkpoint["state_dict"]
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # tensors missing, unexpected or mis-shaped; torch's 2nd line says which
        incomplete(path, f"its weights do not fit {arch}: {str(error).splitlines()[1].strip().split(':')[0]}")
    if checkpoint["kind"] == "svm":
        try:
            model = nn.Sequential(model, nn.Flatten(), SVMScores(**checkpoint["svm"]))
        except TypeError as error:  # the SVM's description lacks or adds arrays
            incomplete(path, f"its SVM does not fit: {error}")
        if len(checkpoint["svm"]["n_support"]) != len(checkpoint["class_names"]):
            incomplete(path, f"its SVM has {len(checkpoint['svm']['n_support'])} classes and "
                             f"{len(checkpoint['class_names'])} class names")
    return model.eval()


class SVMScores(nn.Module):
    """A fitted scikit-learn StandardScaler + SVC (linear or RBF kernel) as a torch layer.

    Reproduces SVC.decision_function (one-vs-one votes turned into one-vs-rest scores), so the
    SVM can be saved as tensors, reloaded with weights_only=True, and exported with TorchScript.
    Input (N, D) features, output (N, C) scores; argmax is the predicted class.
    """

    def __init__(self, mean, scale, support_vectors, dual_coef, intercept, n_support, gamma, kernel: str):
        super().__init__()
        for name, value in [("mean", mean), ("scale", scale), ("support_vectors", support_vectors),
                            ("dual_coef", dual_coef), ("intercept", intercept)]:
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.float32))
        self.n_support = [int(n) for n in n_support]
        self.gamma = float(gamma)
        self.kernel = kernel

    @staticmethod
    def parameters_of(pipeline) -> dict:
        """Plain arrays of a fitted Pipeline(StandardScaler, SVC) for the constructor (and a checkpoint)."""
        scaler, svc = pipeline[0], pipeline[-1]
        return {"mean": torch.from_numpy(scaler.mean_).float(), "scale": torch.from_numpy(scaler.scale_).float(),
                "support_vectors": torch.from_numpy(svc.support_vectors_).float(),
                "dual_coef": torch.from_numpy(svc._dual_coef_).float(),  # libsvm's signs (not flipped for 2 classes)
                "intercept": torch.from_numpy(svc._intercept_).float(),
                "n_support": [int(n) for n in svc.n_support_], "gamma": float(svc._gamma), "kernel": svc.kernel}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean) / self.scale
        if self.kernel == "linear":
            gram = x @ self.support_vectors.T
        else:
            gram = torch.exp(-self.gamma * torch.cdist(x, self.support_vectors).pow(2))
        num_classes = len(self.n_support)
        starts = [0]
        for n in self.n_support:
            starts.append(starts[-1] + n)
        votes = torch.zeros(x.shape[0], num_classes, dtype=x.dtype, device=x.device)
        confidence = torch.zeros_like(votes)
        pair = 0
        for i in range(num_classes):
            for j in range(i + 1, num_classes):
                # libsvm: the (i, j) classifier's coefficients for class i's vectors sit in row j-1, for j's in row i
                decision = (gram[:, starts[i]:starts[i + 1]] @ self.dual_coef[j - 1, starts[i]:starts[i + 1]]
                            + gram[:, starts[j]:starts[j + 1]] @ self.dual_coef[i, starts[j]:starts[j + 1]]
                            + self.intercept[pair])
                votes[:, i] += (decision > 0).to(x.dtype)
                votes[:, j] += (decision <= 0).to(x.dtype)
                confidence[:, i] += decision
                confidence[:, j] -= decision
                pair += 1
        # scikit-learn's _ovr_decision_function: votes, ties broken by confidences squashed into (-1/3, 1/3)
        return votes + confidence / (3 * (confidence.abs() + 1))


# --------------------------------------------------------------------------- data

def dataset_folders(name_or_path: str, data_dir=None, demo: bool = False) -> tuple[str, Path, Path]:
    """(display name, train folder, test folder); a folder with val/ instead of test/ (hymenoptera) is accepted."""
    root = Path(dataset.image_folder("demo_images" if demo else name_or_path, data_dir=data_dir, demo=demo))
    name = "demo_images" if demo else (name_or_path if not Path(name_or_path).exists()
                                       else Path(name_or_path).resolve().name)
    return name, root / "train", root / dataset.test_split_name(root)


def canonical_name(name: str) -> str:
    """caltech101_30 -> caltech101, hymenoptera_data -> hymenoptera (for per-dataset settings)."""
    for known in ("caltech101", "hymenoptera", "faces"):
        if name.startswith(known):
            return known
    return name


def check_classes(train_dir: Path, train_classes: list[str], test_dir: Path, test_classes: list[str]) -> None:
    """At least two classes, the same in train and test: checked before any image goes through a network."""
    if len(train_classes) < 2:
        util.fail(f"{train_dir} has only one class folder ({train_classes[0]}): a classifier needs at least two, "
                  f"one folder of images per class")
    if train_classes != test_classes:
        util.fail(f"{train_dir} and {test_dir} have different class folders: give both the same classes")


def image_splits(train_dir: Path, test_dir: Path, prep: dict, augment: bool, valid_fraction: float, seed: int):
    """ImageFolder datasets (train, valid, test) for train_classifier: train with train_transform(prep, augment);
    valid, a stratified part of train, and test with eval_transform(prep). The scripts make them before their run
    starts, so that bad class folders or --valid-fraction fail before a previous run is moved aside.

    Each item is (image tensor (3, crop, crop), class index).
    """
    util.check_valid_fraction(valid_fraction)
    train_full = dataset.image_dataset(train_dir, train_transform(prep, augment))
    test = dataset.image_dataset(test_dir, eval_transform(prep))
    check_classes(train_dir, train_full.classes, test_dir, test.classes)
    keep, held_out = dataset.stratified_split(np.asarray(train_full.targets), valid_fraction, seed)
    util.check_split(str(train_dir), len(keep), len(held_out), valid_fraction, items="images")
    valid_full = dataset.image_dataset(train_dir, eval_transform(prep))
    return Subset(train_full, keep), Subset(valid_full, held_out), test


def loader(data, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                      persistent_workers=workers > 0, generator=generator)


# --------------------------------------------------------------------------- training

def epoch_count(epochs: int) -> str:
    return f"{epochs} epoch{'s' * (epochs != 1)}"


def classification_loss(outputs, labels: torch.Tensor,
                        label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the main logits plus AUX_LOSS_WEIGHTS x that of any auxiliary head (Inception, GoogLeNet),
    each with the given label smoothing.

    Returns (loss, main logits (N, C)).
    """
    def loss_of(logits):
        return nn.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)

    if isinstance(outputs, tuple):  # InceptionOutputs / GoogLeNetOutputs in training mode
        logits, *aux = outputs
        aux = [extra for extra in aux if extra is not None]
        loss = loss_of(logits)
        for extra in aux:
            loss = loss + AUX_LOSS_WEIGHTS[len(aux)] * loss_of(extra)
        return loss, logits
    return loss_of(outputs), outputs


def run_epoch(model: nn.Module, data: DataLoader, device, optimizer=None, desc: str = "",
              label_smoothing: float = 0.0) -> tuple[float, float]:
    """One pass over `data`, training when an optimizer is given (with label_smoothing; evaluation always
    reports the plain cross-entropy). Returns (mean loss, accuracy)."""
    training = optimizer is not None
    model.train(training)
    if training:  # frozen layers keep their ImageNet statistics: batch norm trains only where its layer does
        for module in model.modules():
            if isinstance(module, BATCH_NORMS) and not any(p.requires_grad for p in module.parameters()):
                module.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for images, labels in util.progress(data, desc=desc, unit="batch"):
            images, labels = images.to(device), labels.to(device)
            loss, logits = classification_loss(model(images), labels, label_smoothing if training else 0.0)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
    return total_loss / seen, correct / seen


@torch.inference_mode()
def predict(model: nn.Module, data: DataLoader, device, desc: str = "predict") -> tuple[np.ndarray, np.ndarray]:
    """Returns (scores (N, C) float32, labels (N,)) of a classifier in eval mode."""
    model.eval()
    scores, labels = [], []
    for images, targets in util.progress(data, desc=desc, unit="batch"):
        scores.append(model(images.to(device)).float().cpu())
        labels.append(targets)
    return torch.cat(scores).numpy(), torch.cat(labels).numpy()


def fit(model: nn.Module, train: DataLoader, valid: DataLoader, optimizer, epochs: int, device,
        scheduler=None, label: str = "", label_smoothing: float = 0.0) -> tuple[dict[str, list[float]], int]:
    """Train for `epochs` (label_smoothing on the training loss only), keep (and load back) the weights of the
    epoch with the best validation accuracy.

    Returns (curves {train_loss, valid_loss, train_accuracy, valid_accuracy}, best epoch (1-based)).
    """
    curves = {"train_loss": [], "valid_loss": [], "train_accuracy": [], "valid_accuracy": []}
    best_accuracy, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        started = time.time()
        train_loss, train_accuracy = run_epoch(model, train, device, optimizer, desc=f"{label}epoch {epoch} train",
                                               label_smoothing=label_smoothing)
        util.check_finite_loss(train_loss, f"of {label}epoch {epoch}")
        valid_loss, valid_accuracy = run_epoch(model, valid, device, desc=f"{label}epoch {epoch} valid")
        if scheduler is not None:
            scheduler.step()
        for key, value in zip(curves, (train_loss, valid_loss, train_accuracy, valid_accuracy)):
            curves[key].append(value)
        improved = valid_accuracy > best_accuracy
        if improved:
            best_accuracy, best_epoch = valid_accuracy, epoch
            best_state = copy.deepcopy(model.state_dict())
        print(f"{label}epoch {epoch}/{epochs}: train loss {train_loss:.3f} acc {train_accuracy:.3f} | "
              f"valid loss {valid_loss:.3f} acc {valid_accuracy:.3f} | {time.time() - started:.0f} s"
              f"{' *' if improved else ''}")
    model.load_state_dict(best_state)
    return curves, best_epoch


def confusion_size(dataset_name: str) -> int | None:
    return CONFUSION_SIZE.get(canonical_name(dataset_name))


def train_classifier(arch: str, weights: str, prep: dict, splits, *, epochs: int, lr: float, head_lr: float,
                     batch_size: int, augment: bool, freeze: bool = False, warmup_epochs: int = 0, seed: int = 0,
                     workers: int = 1, label_smoothing: float = 0.0, device=None, label: str = "") -> dict:
    """Transfer learning: a pretrained network with a new last layer, trained on the train split of `splits`
    (image_splits's (train, valid, test), made with prep and augment), tested on its test split.

    freeze trains only the new layer; otherwise all layers train (backbone at lr, new layer at head_lr),
    after warmup_epochs on the new layer alone. SGD with momentum and a cosine schedule, the training loss with
    label_smoothing; the epoch with the best accuracy on the validation split is kept.
    Returns a dict: model, description, prep, class_names, curves, best_epoch, scores (N_test, C),
    labels (N_test,), test_files, valid (the validation loader, for pictures).
    """
    device = device or torch.device("cpu")
    train, valid, test = splits
    class_names = test.classes
    model, description = build_model(arch, weights, num_classes=len(class_names))
    model.to(device)
    check_image_size(model, arch, prep["crop"], device, training=True)
    train_loader = loader(train, batch_size, True, workers, seed)
    valid_loader = loader(valid, batch_size, False, workers)
    print(f"{label}{description}: {len(train)} train / {len(valid)} validation / {len(test)} test images, "
          f"input {prep['crop']}x{prep['crop']}{', augmented' if augment else ''}")

    def sgd(groups, epochs_here):
        optimizer = torch.optim.SGD(groups, momentum=0.9, weight_decay=1e-4)
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(epochs_here, 1))

    head = trainable_head(model)
    curves, best_epoch = {}, 0
    if freeze or warmup_epochs:
        trainable = freeze_backbone(model)
        stage_epochs = epochs if freeze else warmup_epochs
        print(f"{label}training the new last layer alone ({trainable} parameters) for {epoch_count(stage_epochs)}")
        optimizer, scheduler = sgd([{"params": head, "lr": head_lr}], stage_epochs)
        curves, best_epoch = fit(model, train_loader, valid_loader, optimizer, stage_epochs, device, scheduler,
                                 label=label, label_smoothing=label_smoothing)
    if not freeze:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        head_ids = {id(p) for p in head}
        backbone = [p for p in model.parameters() if id(p) not in head_ids]
        print(f"{label}training all layers for {epoch_count(epochs)}")
        optimizer, scheduler = sgd([{"params": backbone, "lr": lr}, {"params": head, "lr": head_lr}], epochs)
        warmup_state, warmup_best = copy.deepcopy(model.state_dict()), max(curves.get("valid_accuracy", [-1.0]))
        more, best = fit(model, train_loader, valid_loader, optimizer, epochs, device, scheduler, label=label,
                         label_smoothing=label_smoothing)
        if warmup_best > max(more["valid_accuracy"]):  # training all layers did not beat the new layer alone
            model.load_state_dict(warmup_state)
        else:
            best_epoch = len(curves.get("valid_accuracy", [])) + best
        curves = {key: curves.get(key, []) + values for key, values in more.items()}
    scores, labels = predict(model, loader(test, batch_size, False, workers), device, desc=f"{label}test")
    return {"model": model, "description": description, "prep": prep, "class_names": class_names,
            "curves": curves, "best_epoch": best_epoch, "scores": scores, "labels": labels,
            "test_files": [path for path, _ in test.samples], "valid": valid_loader,
            "train_images": len(train), "valid_images": len(valid)}


# --------------------------------------------------------------------------- saved models and TorchScript

# TorchScript still is the format C++ / mobile runtimes load; its deprecation notices would only confuse students
warnings.filterwarnings("ignore", category=FutureWarning, message=r"`torch\.jit")


def quiet_scripted_googlenet() -> None:
    """Scripted GoogLeNet warns on every call that it returns a tuple; scores_of takes the scores out of it. (Set
    in main(), not here at import: a test's warnings.catch_warnings would undo it.)"""
    warnings.filterwarnings("ignore", message="Scripted GoogleNet always returns GoogleNetOutputs Tuple",
                            category=UserWarning)


TORCHSCRIPT_META = "meta.json"  # extra file inside exported TorchScript archives: class names, preprocessing


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files holding a code/ folder; torch.save checkpoints do not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def model_meta(checkpoint: dict) -> dict:
    """What predict.py needs besides the network: kind (classifier / svm), class names, preprocessing, ..."""
    return {key: checkpoint[key] for key in ("kind", "arch", "class_names", "preprocessing", "weights")}


def load_any(path) -> tuple[nn.Module, dict]:
    """A model saved by these scripts (checkpoint, weights_only) or exported by export.py (TorchScript).

    Returns (model in eval mode mapping (N, 3, crop, crop) to (N, C) scores, or a tuple whose first
    element is those scores, meta from model_meta).
    """
    path = Path(path)
    if path.is_file() and is_torchscript(path):
        extra = {TORCHSCRIPT_META: ""}
        try:
            model = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except RuntimeError as error:
            util.fail(f"cannot load the TorchScript file {path} ({str(error).splitlines()[0]}): export it again")
        if not extra[TORCHSCRIPT_META]:
            util.fail(f"{path} is a TorchScript file without class names: export it with export.py")
        return model.eval(), json.loads(extra[TORCHSCRIPT_META])
    checkpoint = load_checkpoint(path)
    return rebuild(checkpoint, path), model_meta(checkpoint)


def scores_of(outputs) -> torch.Tensor:
    """Scripted Inception / GoogLeNet always return a tuple: the scores are its first element."""
    return outputs[0] if isinstance(outputs, tuple) else outputs
