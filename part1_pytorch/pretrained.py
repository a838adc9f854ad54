"""Build any torchvision classification model with ImageNet weights, random weights or a local file.

    model, description = build_model("resnet18")                    # torchvision's weights (cache or download)
    model, description = build_model("mobilenet_v2", "backbone.pth", num_classes=2)
    model, description = build_model("alexnet", "none")             # random initialisation, loudly

`description` says where the weights came from; it goes into metrics.json and plot titles, so a
randomly initialised network is never mistaken for a pretrained one.
"""
from __future__ import annotations

import difflib
import sys
import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn

import util

IMAGENET_CLASSES = 1000
COURSE_ARCHITECTURES = ("alexnet", "vgg16", "resnet18", "inception_v3", "densenet121")


def known_architectures() -> list[str]:
    """Every torchvision ImageNet classification model name (alexnet, resnet18, mobilenet_v2, ...)."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def check_architecture(arch: str) -> None:
    if arch not in known_architectures():
        close = difflib.get_close_matches(arch, known_architectures(), n=3)
        examples = ", ".join(close or COURSE_ARCHITECTURES)
        util.fail(f"unknown model {arch!r}: use a torchvision classification model such as {examples}")


def head_layers(model: nn.Module) -> list[str]:
    """Names of the layers producing the 1000 ImageNet scores: the final classifier last, aux heads before it.

    The final layer is a Linear for most models, a 1x1 Conv2d for SqueezeNet; Inception v3 and
    GoogLeNet also have auxiliary classifiers, which transfer learning has to replace too.
    """
    names = [name for name, module in model.named_modules()
             if (isinstance(module, nn.Linear) and module.out_features == IMAGENET_CLASSES)
             or (isinstance(module, nn.Conv2d) and module.out_channels == IMAGENET_CLASSES)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no layer with {IMAGENET_CLASSES} outputs")
    return names


def replace_head(model: nn.Module, num_classes: int, names: list[str] | None = None) -> None:
    """Swap each classifier layer (named in `names`, default: head_layers) for a fresh one with num_classes outputs."""
    for name in names or head_layers(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        old = getattr(parent, child)
        if isinstance(old, nn.Linear):
            new = nn.Linear(old.in_features, num_classes)
        else:
            new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding)
        setattr(parent, child, new)


def random_model(arch: str, pretrained_layout: bool) -> nn.Module:
    """A randomly initialised model; pretrained_layout mimics torchvision's weights=... layout
    (Inception/GoogLeNet: input transform on, auxiliary heads present) so ImageNet state_dicts fit."""
    kwargs = {}
    if arch in ("inception_v3", "googlenet"):
        kwargs = {"aux_logits": True, "init_weights": not pretrained_layout}
        if pretrained_layout:
            kwargs["transform_input"] = True
    if arch.startswith("vit_"):  # built for its default weights' input size, as torchvision does (vit_h_14: 518)
        kwargs["image_size"] = torchvision.models.get_model_weights(arch).DEFAULT.meta["min_size"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's FutureWarning about init_weights
        return torchvision.models.get_model(arch, weights=None, **kwargs)


AUX_HEADS = ("AuxLogits", "aux1", "aux2")  # Inception v3's, GoogLeNet's


def drop_absent_aux_heads(model: nn.Module, state: dict) -> None:
    """Remove the auxiliary heads a state_dict has no weights for, as torchvision does for GoogLeNet's ImageNet
    weights (aux_logits=False by default), so that a model trained from them rebuilds."""
    absent = [name for name in AUX_HEADS if getattr(model, name, None) is not None
              and not any(key.startswith(name + ".") for key in state)]
    for name in absent:
        setattr(model, name, None)
    if absent:
        model.aux_logits = False


def _torchvision_weights(arch: str) -> tuple[nn.Module, str]:
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        model = torchvision.models.get_model(arch, weights=weights)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a truncated download a RuntimeError
        file_name = Path(weights.url).name
        util.fail(f"cannot get torchvision's {arch} weights ({error}): download {weights.url} on a machine "
                  f"with internet into {cache / file_name}, or pass --weights PATH to a local state_dict, "
                  f"or --weights none for random initialisation")
    return model, f"{arch} (torchvision {weights.name} weights)"


def check_weights_option(weights: str) -> None:
    """A user error, before any run starts, for a --weights path that is no file (a folder, or nothing)."""
    if weights in ("default", "none"):
        return
    path = Path(weights)
    if path.is_dir():
        util.fail(f"--weights {path} is a folder, not a file: pass a state_dict file, default or none")
    if not path.is_file():
        util.fail(f"weights file {path} does not exist: pass an existing state_dict file, default or none")


def _file_weights(arch: str, path: Path, num_classes: int | None) -> tuple[nn.Module, str]:
    check_weights_option(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and tensor errors all mean the same thing to the user
        util.fail(f"cannot read {path} as a torch state_dict ({type(error).__name__}): pass a file saved with "
                  f"torch.save(model.state_dict(), path)")
    if isinstance(state, dict) and state.get("kind") in ("classifier", "svm"):  # what vision.save_classifier writes
        util.fail(f"{path} is a saved classifier of this course, not a state_dict: pass it to predict.py, or pass "
                  f"a torchvision state_dict as --weights")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        util.fail(f"{path} is not a state_dict (a dict of tensors): pass a file saved with "
                  f"torch.save(model.state_dict(), path)")

    model = random_model(arch, pretrained_layout=True)
    expected = model.state_dict()
    heads = head_layers(model)
    in_head = lambda key: any(key.startswith(head + ".") for head in heads)  # noqa: E731
    unexpected = [k for k in state if k not in expected]
    mismatched = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    # A head of another size is fine when the head is being replaced anyway (e.g. a 2-class fine-tuned file).
    replaceable = num_classes is not None and all(in_head(k) for k in mismatched)
    if unexpected or (mismatched and not replaceable) or any(not in_head(k) for k in missing):
        wrong = (unexpected or mismatched or missing)[0]
        util.fail(f"{path} does not fit {arch} ({len(unexpected)} unexpected, {len(mismatched)} mis-shaped, "
                  f"{len(missing)} missing keys, e.g. {wrong!r}): pass weights saved from a {arch} model")
    model.load_state_dict({k: v for k, v in state.items() if k not in mismatched}, strict=False)

    description = f"{arch} (weights from {path.name}"
    if missing or mismatched:
        skipped = sorted({k.rsplit(".", 1)[0] for k in missing + mismatched})
        print(f"{path.name} has no usable classifier layer ({', '.join(skipped)}): backbone only, "
              f"the last layer starts from random initialisation")
        description += ", backbone only"
    return model, description + ")"


def build_model(arch: str, weights: str = "default", num_classes: int | None = None) -> tuple[nn.Module, str]:
    """Build a torchvision classification model.

    Inputs:
    - arch: a name from known_architectures(), e.g. "resnet18".
    - weights: "default" (torchvision's ImageNet weights, from $TORCH_HOME/hub/checkpoints or downloaded),
      "none" (random initialisation), or a path to a state_dict for `arch` (a backbone-only file,
      missing just the classifier layer, is accepted).
    - num_classes: if given, the classifier layer (and any auxiliary one) is replaced by a fresh
      layer with this many outputs.

    Returns (model in eval mode, description of the weights for metrics and plot titles). The model
    also records `head_names` (its classifier layers) and `pretrained_layout` (Inception/GoogLeNet
    built as torchvision builds them for pretrained weights), which saved checkpoints need.
    """
    check_architecture(arch)
    if weights == "default":
        model, description = _torchvision_weights(arch)
    elif weights == "none":
        print(f"WARNING: {arch} is RANDOMLY INITIALISED (--weights none): its features are not pretrained "
              f"and results only show that the code runs", file=sys.stderr)
        model, description = random_model(arch, pretrained_layout=False), f"{arch} (RANDOM weights, not pretrained)"
    else:
        model, description = _file_weights(arch, Path(weights), num_classes)
    model.head_names = head_layers(model)  # remembered: after replace_head they no longer have 1000 outputs
    model.pretrained_layout = weights != "none"
    if num_classes is not None:
        replace_head(model, num_classes, model.head_names)
        description = description[:-1] + f", new {num_classes}-class last layer)"
    return model.eval(), description
