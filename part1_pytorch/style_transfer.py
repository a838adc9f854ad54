"""Neural style transfer (Gatys, Ecker & Bethge 2015): paint a content photo in the style of a painting.

A pretrained CNN is a fixed feature extractor; the generated image is the only thing optimised, to
keep the content photo's feature map at one layer (content loss), the painting's feature
correlations (Gram matrices) at several layers (style loss), and smooth pixels (total variation).

    python part1_pytorch/style_transfer.py --content photo.jpg --style painting.jpg           # vgg19
    python part1_pytorch/style_transfer.py --model squeezenet1_1 --weights squeezenet.pth \\
        --content tubingen.jpg --style starry_night.jpg --size 256 --steps 200
    python part1_pytorch/style_transfer.py --demo                      # generated pair, random net
    python part1_pytorch/style_transfer.py --sweep ...                 # the course notes' comparisons

Layers are named as in the papers: VGG's conv1_1 ... conv5_4 (outputs before the ReLU), relu1_1 ...
relu5_4 and pool1 ... pool5; SqueezeNet 1.1's conv1, relu1, pool1, fire2 ... fire9, pool3, pool5
(its Caffe names). Outputs: the stylised image, a grid of snapshots, the loss curves, metrics.json.
"""
from __future__ import annotations

import argparse
import copy
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, UnidentifiedImageError

import dataset
import pretrained
import util

SCRIPT = "style_transfer"
ARCHITECTURES = ("vgg19", "vgg16", "squeezenet1_1")
# The networks were trained on images normalised with these ImageNet statistics.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SQUEEZENET_LAYERS = ("conv1", "relu1", "pool1", "fire2", "fire3", "pool3", "fire4", "fire5", "pool5",
                     "fire6", "fire7", "fire8", "fire9")
SWEEP_RATIOS = (1e-4, 1e-3, 1e-2, 1e-1)
INITS = ("content", "style", "random")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclass(frozen=True)
class Settings:
    """What the generated image is asked to match, and how much each term counts.

    style_layers maps a layer name to its relative weight w_s^l; the style loss of a layer is
    multiplied by style_weight * w_s^l, so content_weight / style_weight is the content-to-style ratio.
    """
    content_layer: str
    style_layers: dict[str, float]
    content_weight: float
    style_weight: float
    tv_weight: float
    alternative_content_layer: str  # the sweep's second content layer (VGG: conv3_2, as the course notes)

    def layer_weights(self) -> dict[str, float]:
        return {name: self.style_weight * weight for name, weight in self.style_layers.items()}


# Gatys et al.'s layers: content conv4_2, style conv1_1 ... conv5_1. The weights translate the PyTorch
# tutorial's (style 1e6 on the mean squared Gram error, content 1 on the mean squared feature error)
# into sums: a layer weight of 1e6 / C^2 and a content weight of about 1 / (C*H*W), both times 1e3 so
# that the content-to-style ratio falls inside the sweep's range. Not tuned by eye: VGG's ImageNet
# weights were not available offline here (SqueezeNet's were).
VGG_SETTINGS = Settings(
    content_layer="conv4_2",
    style_layers={"conv1_1": 2.5e5, "conv2_1": 6e4, "conv3_1": 1.5e4, "conv4_1": 4e3, "conv5_1": 4e3},
    content_weight=1e-3, style_weight=1.0, tv_weight=1.0, alternative_content_layer="conv3_2")
DEFAULTS = {
    "vgg19": VGG_SETTINGS,
    "vgg16": VGG_SETTINGS,
    # cs231n's SqueezeNet layers; with the ImageNet SqueezeNet their style losses start within a factor
    # 20 of each other, so equal weights. Ratio and TV weight tuned by eye on tubingen + starry_night at
    # 256 pixels: a ratio of 1e-3 leaves the sky with little brushwork, 1e-4 starts washing out the houses.
    "squeezenet1_1": Settings(
        content_layer="fire2",
        style_layers={"relu1": 1.0, "fire3": 1.0, "fire4": 1.0, "fire5": 1.0},
        content_weight=3e-4, style_weight=1.0, tv_weight=3.0, alternative_content_layer="fire4"),
}


# --------------------------------------------------------------------------- the losses

def content_loss(content_weight: float, current: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """w_c * sum((F^l - P^l)^2).

    Inputs:
    - content_weight: scalar w_c.
    - current: features of the generated image at the content layer, shape (N, C, H, W).
    - target: features of the content image at the same layer, same shape.
    Returns a scalar tensor.
    """
    return content_weight * (current - target).pow(2).sum()


def gram_matrix(features: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Channel correlations of a feature map, summed over space.

    Inputs:
    - features: shape (N, C, H, W).
    - normalize: divide by the number of elements of one map, C * H * W.
    Returns shape (N, C, C): G[n, i, j] = sum_{h,w} F[n, i, h, w] * F[n, j, h, w].
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(1, 2)
    return gram / (c * h * w) if normalize else gram


def style_loss(features: dict[str, torch.Tensor], style_grams: dict[str, torch.Tensor],
               layer_weights: dict[str, float]) -> torch.Tensor:
    """sum_l w_s^l * sum((G^l - A^l)^2).

    Inputs:
    - features: layer name -> features of the generated image, shape (N, C_l, H_l, W_l).
    - style_grams: layer name -> Gram matrix A^l of the style image, shape (N or 1, C_l, C_l).
    - layer_weights: layer name -> w_s^l; the sum runs over these layers.
    Returns a scalar tensor.
    """
    return sum(weight * (gram_matrix(features[name]) - style_grams[name]).pow(2).sum()
               for name, weight in layer_weights.items())


def total_variation_loss(image: torch.Tensor, tv_weight: float) -> torch.Tensor:
    """w_t * (sum of squared differences of vertically and horizontally adjacent pixels).

    Inputs:
    - image: shape (N, 3, H, W).
    - tv_weight: scalar w_t.
    Returns a scalar tensor.
    """
    vertical = (image[:, :, 1:, :] - image[:, :, :-1, :]).pow(2).sum()
    horizontal = (image[:, :, :, 1:] - image[:, :, :, :-1]).pow(2).sum()
    return tv_weight * (vertical + horizontal)


# --------------------------------------------------------------------------- the frozen network

def layer_indices(arch: str, features: nn.Sequential) -> dict[str, int]:
    """Layer name -> index in torchvision's `features` (conv1_1 -> 0, relu1_1 -> 1, ... for VGG)."""
    if arch == "squeezenet1_1":
        return {name: index for index, name in enumerate(SQUEEZENET_LAYERS)}
    names, block, conv = {}, 1, 0
    for index, layer in enumerate(features):
        if isinstance(layer, nn.Conv2d):
            conv += 1
            names[f"conv{block}_{conv}"] = index
        elif isinstance(layer, nn.ReLU):
            names[f"relu{block}_{conv}"] = index
        elif isinstance(layer, nn.MaxPool2d):
            names[f"pool{block}"] = index
            block, conv = block + 1, 0
    return names


class FeatureExtractor(nn.Module):
    """The named feature maps of a frozen CNN, for images with pixels in [0, 1].

    Only the layers up to the deepest requested one are kept. The parameters never receive gradients:
    the generated image is the only thing optimised.
    """

    def __init__(self, arch: str, features: nn.Sequential, wanted: list[str]):
        super().__init__()
        indices = layer_indices(arch, features)
        unknown = [name for name in wanted if name not in indices]
        if unknown:
            util.fail(f"{arch} has no layer {unknown[0]!r}: use one of {', '.join(indices)}")
        self.names = {indices[name]: name for name in wanted}
        self.layers = features[:max(self.names) + 1]
        for module in self.layers.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = False  # an in-place ReLU would overwrite the conv outputs we return
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # dropout/batch-norm statistics must never change the features

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """image: (N, 3, H, W) in [0, 1]. Returns layer name -> features (N, C_l, H_l, W_l)."""
        x = (image - self.mean) / self.std
        out = {}
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index in self.names:
                out[self.names[index]] = x
        return out


def build_extractor(arch: str, weights: str, wanted: list[str]) -> tuple[FeatureExtractor, str]:
    if arch not in ARCHITECTURES:
        util.fail(f"style transfer supports the models {', '.join(ARCHITECTURES)}, not {arch!r}: pick one of them")
    model, description = pretrained.build_model(arch, weights)
    return FeatureExtractor(arch, model.features, wanted), description


def layer_too_big_for(extractor: FeatureExtractor, arch: str) -> Callable[[int, int], str | None]:
    """A function of (height, width): the name of the first layer an image of that size cannot pass, or None if it
    passes them all (every pooling layer shrinks the feature maps, until a kernel no longer fits). Shapes only, on
    a copy of the layers on the meta device, made once: no memory, no arithmetic."""
    names = {index: name for name, index in layer_indices(arch, extractor.layers).items()}
    layers = copy.deepcopy(extractor.layers).to("meta")

    def too_big(height: int, width: int) -> str | None:
        x = torch.zeros(1, 3, height, width, device="meta")
        for index, layer in enumerate(layers):
            try:
                x = layer(x)
            except RuntimeError:  # "Output size is too small" (the meta device has no other failure to report)
                return names.get(index, f"layer {index}")
        return None
    return too_big


def check_size(extractor: FeatureExtractor, arch: str, path: Path, size: int, what: str, option: str) -> None:
    """A user error naming the smallest `option` that works, unless the image at `path`, loaded at `size`, passes
    through every layer."""
    with Image.open(path) as image:
        original = image.size
    too_big = layer_too_big_for(extractor, arch)

    def fails(size: int) -> str | None:
        width, height = resized(original, size)
        return too_big(height, width)

    layer = fails(size)
    if layer is None:
        return
    low, high = size, size * 2  # larger images pass: double until one does, then halve the gap
    while fails(high) and high < 1 << 16:
        low, high = high, high * 2
    if fails(high):
        util.fail(f"the {what} image {path} ({original[0]}x{original[1]} pixels) is too narrow for {layer} of {arch} "
                  f"at any size: pass a less elongated image")
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if fails(middle) is None else (middle, high)
    width, height = resized(original, size)
    util.fail(f"the {what} image ({height}x{width} pixels at {option} {size}) is too small for {layer} of {arch}: "
              f"use {option} >= {high}")


# --------------------------------------------------------------------------- images

def resized(original: tuple[int, int], size: int) -> tuple[int, int]:
    """(width, height) of an image of (width, height) `original` scaled so that its longer side is `size`."""
    scale = size / max(original)
    return max(1, round(original[0] * scale)), max(1, round(original[1] * scale))


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """An RGB image resized so its longer side is `size` pixels: tensor (1, 3, H, W) in [0, 1]."""
    path = Path(path)
    if path.is_dir():
        util.fail(f"image {path} is a folder, not a file: pass the path of a JPEG or PNG file")
    if not path.is_file():
        util.fail(f"image {path} does not exist: pass the path of a JPEG or PNG file")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        util.fail(f"cannot read {path} as an image ({error}): pass a valid JPEG or PNG file")
    image = image.resize(resized(image.size, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) in [0, 1] -> PIL image."""
    pixels = image[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray((pixels * 255).round().astype(np.uint8))


def initial_image(init: str, content: torch.Tensor, style: torch.Tensor, seed: int) -> torch.Tensor:
    """The starting point, shaped like the content image: a copy of it, the style image resized to it, or noise."""
    if init == "content":
        return content.clone()
    if init == "style":
        return nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(content.shape, generator=generator).to(content.device)


# --------------------------------------------------------------------------- optimisation

@dataclass
class Result:
    image: torch.Tensor                  # (1, 3, H, W) in [0, 1]
    curves: dict[str, list[float]]       # loss term -> value before each step, and after the last one
    snapshots: list[tuple[int, torch.Tensor]]  # (step, image)


def stylize(extractor: FeatureExtractor, content: torch.Tensor, style: torch.Tensor, settings: Settings,
            steps: int, optimizer: str = "lbfgs", lr: float | None = None, init: str = "content",
            snapshot_every: int = 0, seed: int = 0) -> Result:
    """Optimise an image (the only parameter) to minimise content + style + total variation loss.

    Inputs:
    - content, style: (1, 3, H, W) and (1, 3, H', W') images in [0, 1].
    - steps: optimiser steps; one L-BFGS step is one L-BFGS iteration (one forward and backward pass).
    - snapshot_every: keep a copy of the image every this many steps (0: only the start and the end).
    Pixels are clamped to [0, 1] after each step, outside the optimiser: clamping inside the L-BFGS
    closure would change the point the line search and curvature pairs are computed at.
    """
    layer_weights = settings.layer_weights()
    with torch.no_grad():
        content_target = extractor(content)[settings.content_layer]
        style_features = extractor(style)
        style_grams = {name: gram_matrix(style_features[name]) for name in layer_weights}

    image = initial_image(init, content, style, seed).requires_grad_(True)
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=50)
    else:
        opt = torch.optim.Adam([image], lr=lr)

    def loss_terms() -> dict[str, torch.Tensor]:
        features = extractor(image)
        terms = {"content_loss": content_loss(settings.content_weight, features[settings.content_layer], content_target),
                 "style_loss": style_loss(features, style_grams, layer_weights),
                 "tv_loss": total_variation_loss(image, settings.tv_weight)}
        terms["total_loss"] = sum(terms.values())
        return terms

    curves = {name: [] for name in ("content_loss", "style_loss", "tv_loss", "total_loss")}
    evaluations = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        terms = loss_terms()
        terms["total_loss"].backward()
        evaluations.append({name: value.item() for name, value in terms.items()})
        return terms["total_loss"]

    snapshots = [(0, image.detach().clone())]
    bar = util.progress(range(1, steps + 1), desc=f"style transfer ({optimizer}, {init} start)")
    for step in bar:
        evaluations.clear()
        opt.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)
        for name, value in evaluations[0].items():  # the loss at the start of the step
            curves[name].append(value)
        util.check_finite_loss(curves["total_loss"][-1], f"at step {step}")
        bar.set_postfix(loss=f"{curves['total_loss'][-1]:.3g}")
        if snapshot_every and step % snapshot_every == 0 and step < steps:
            snapshots.append((step, image.detach().clone()))
    with torch.no_grad():
        for name, value in loss_terms().items():
            curves[name].append(value.item())
    snapshots.append((steps, image.detach().clone()))
    return Result(image.detach(), curves, snapshots)


# --------------------------------------------------------------------------- figures

def save_image(image: torch.Tensor, path: Path) -> None:
    with util.atomic_path(path) as tmp:
        to_pil(image).save(tmp, format="PNG")


def plot_image_grid(panels: list[list[tuple[str, torch.Tensor] | None]], path: Path, title: str) -> None:
    """Rows of (caption, image) panels in one figure; None leaves a cell empty."""
    plt = util.pyplot()
    rows, cols = len(panels), max(len(row) for row in panels)
    height, width = panels[0][0][1].shape[-2:]
    cell = 2.6
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows * height / width + 0.4 * rows),
                             squeeze=False)
    for ax_row, row in zip(axes, panels):
        for ax, panel in zip(ax_row, row + [None] * (cols - len(row))):
            ax.axis("off")
            if panel:
                ax.imshow(to_pil(panel[1]))
                ax.set_title(panel[0], fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    util.save_figure(fig, path, dpi=100)
    plt.close(fig)


def plot_losses(curves: dict[str, list[float]], path: Path, title: str) -> None:
    """One panel per loss term, log scale: the terms differ by orders of magnitude."""
    plt = util.pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3.2))
    for ax, (name, values) in zip(axes, curves.items()):
        ax.plot(range(len(values)), values)
        if min(values) > 0:
            ax.set_yscale("log")
        ax.set_title(f"{name}: {values[0]:.3g} -> {values[-1]:.3g}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (weight included)" if name != "total_loss" else "sum of the three")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    util.save_figure(fig, path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- the sweep

def sweep(extractor: FeatureExtractor, content: torch.Tensor, style: torch.Tensor, settings: Settings,
          steps: int, optimizer: str, lr: float | None, seed: int) -> tuple[list[list[tuple[str, torch.Tensor]]], list[dict]]:
    """The course notes' comparisons: content-to-style ratio, starting point, content layer.

    Returns the figure's rows of (caption, image) and one summary dict per distinct run.
    """
    cache: dict[tuple, Result] = {}

    def run(variant: Settings, init: str) -> Result:
        key = (variant.content_weight, variant.content_layer, init)
        if key not in cache:
            cache[key] = stylize(extractor, content, style, variant, steps, optimizer, lr, init, seed=seed)
        return cache[key]

    ratio_row, init_row, layer_row = [], [], []
    for ratio in SWEEP_RATIOS:
        variant = replace(settings, content_weight=ratio * settings.style_weight)
        ratio_row.append((f"content/style = {ratio:g}", run(variant, "content").image))
    for init in INITS:
        init_row.append((f"start: {init}", run(settings, init).image))
    for layer in (settings.content_layer, settings.alternative_content_layer):
        layer_row.append((f"content layer {layer}", run(replace(settings, content_layer=layer), "content").image))
    rows = [[("content", content), ("style", style)], ratio_row, init_row, layer_row]
    summary = [{"content_weight": key[0], "content_layer": key[1], "init": key[2],
                **{f"{name}_initial": values[0] for name, values in result.curves.items()},
                **{f"{name}_final": values[-1] for name, values in result.curves.items()}}
               for key, result in cache.items()]
    return rows, summary


# --------------------------------------------------------------------------- command line

def parse_style_layers(text: str) -> dict[str, float]:
    """"conv1_1:1,conv2_1:0.5" (a missing weight means 1) -> {"conv1_1": 1.0, "conv2_1": 0.5}."""
    layers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, text = item.partition(":")
        try:
            weight = float(text) if text else 1.0
        except ValueError:
            util.fail(f"--style-layers item {item!r} is not NAME or NAME:WEIGHT: write e.g. conv1_1:1,conv2_1:0.5")
        if not (math.isfinite(weight) and weight >= 0):
            util.fail(f"--style-layers item {item!r} has a weight that is not a finite number >= 0: "
                      "write e.g. conv1_1:1,conv2_1:0.5")
        layers[name.strip()] = weight
    if not layers:
        util.fail("--style-layers is empty: name at least one layer, e.g. conv1_1:1,conv2_1:0.5")
    return layers


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = DEFAULTS[args.model]
    overrides = {"content_layer": args.content_layer, "content_weight": args.content_weight,
                 "style_weight": args.style_weight, "tv_weight": args.tv_weight,
                 "style_layers": parse_style_layers(args.style_layers) if args.style_layers else None}
    return replace(settings, **{key: value for key, value in overrides.items() if value is not None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--content", help="content photo (with --demo: a generated one)")
    parser.add_argument("--style", help="style painting (with --demo: a generated one)")
    parser.add_argument("--model", default="vgg19", choices=ARCHITECTURES,
                        help="feature extractor; squeezenet1_1 is much lighter on a CPU")
    parser.add_argument("--weights", default="default",
                        help="default (torchvision's ImageNet weights), none (random, only shows the code runs) "
                             "or the path of a state_dict; --demo makes none the default")
    parser.add_argument("--content-layer", help="None: conv4_2 for VGG, fire2 for SqueezeNet")
    parser.add_argument("--style-layers", help="NAME:WEIGHT,... (None: conv1_1,conv2_1,...,conv5_1 for VGG, "
                                               "relu1,fire3,fire4,fire5 for SqueezeNet)")
    weight = util.positive(float, zero=True)
    parser.add_argument("--content-weight", type=weight, help="w_c (None: the model's tuned default)")
    parser.add_argument("--style-weight", type=weight,
                        help="multiplies every style layer's weight (None: the model's tuned default)")
    parser.add_argument("--tv-weight", type=weight, help="total variation weight (None: the model's default)")
    parser.add_argument("--init", default="content", choices=INITS, help="starting image")
    parser.add_argument("--optimizer", default="lbfgs", choices=tuple(DEFAULT_LR),
                        help="L-BFGS (the papers' choice) or Adam")
    parser.add_argument("--lr", type=util.learning_rate,
                        help=f"step size (None: {DEFAULT_LR['lbfgs']} for lbfgs, {DEFAULT_LR['adam']} for adam)")
    parser.add_argument("--size", type=util.positive(int), help="longer side of the content image in pixels "
                                                                "(None: 256, 64 with --demo)")
    parser.add_argument("--style-size", type=util.positive(int), help="longer side of the style image (None: --size)")
    parser.add_argument("--snapshot-every", type=util.positive(int), help="steps between progress snapshots (None: an eighth of the steps)")
    parser.add_argument("--sweep", action="store_true",
                        help="instead of one image, compare content/style ratios 1e-4..1e-1, starting points "
                             "and two content layers in one figure")
    util.add_threads_arg(parser)
    util.add_common_args(parser, epochs=None)
    parser.add_argument("--steps", dest="epochs", metavar="N", type=util.positive(int), default=argparse.SUPPRESS,
                        help="optimisation steps, the same as --epochs (None: 200, 30 with --demo)")
    args = util.parse_args(parser, weights="none")  # --demo promises no download
    steps = args.epochs = args.epochs or (30 if args.demo else 200)
    size = args.size or (64 if args.demo else 256)

    util.use_threads(args.threads)
    device = util.get_device(args.device)
    settings = settings_from_args(args)
    if args.demo:
        demo_content, demo_style = dataset.style_pair(data_dir=args.data_dir, demo=True)
        content_path, style_path = Path(args.content or demo_content), Path(args.style or demo_style)
    elif args.content and args.style:
        content_path, style_path = Path(args.content), Path(args.style)
    else:
        util.fail("style transfer needs --content IMAGE and --style IMAGE: give both, or use --demo for the generated pair")
    content = load_image(content_path, size).to(device)
    style = load_image(style_path, args.style_size or size).to(device)

    wanted = [settings.content_layer, *settings.style_layers]
    if args.sweep:
        wanted.append(settings.alternative_content_layer)
    pretrained.check_weights_option(args.weights)
    util.set_seed(args.seed)  # random weights (--weights none) depend on it
    extractor, description = build_extractor(args.model, args.weights, wanted)
    extractor.to(device)
    check_size(extractor, args.model, content_path, size, "content", "--size")
    check_size(extractor, args.model, style_path, args.style_size or size, "style",
               "--style-size" if args.style_size else "--size")
    # Only now that the inputs are known to be good: start_run moves a previous run aside.
    pair = "demo_style" if args.demo and not (args.content or args.style) else f"{content_path.stem}_{style_path.stem}"
    run = util.start_run(args, SCRIPT, pair + ("_sweep" if args.sweep else ""), args.model)
    print(f"{description}: content {settings.content_layer}, style {settings.style_layers}, weights "
          f"content {settings.content_weight:g} style {settings.style_weight:g} tv {settings.tv_weight:g}; "
          f"content image {tuple(content.shape[-2:])}, style image {tuple(style.shape[-2:])}")
    common = {"weights": description, "pretrained": args.weights != "none", "content": str(content_path),
              "style": str(style_path),
              "content_layer": settings.content_layer, "style_layers": settings.style_layers,
              "content_weight": settings.content_weight, "style_weight": settings.style_weight,
              "tv_weight": settings.tv_weight, "optimizer": args.optimizer, "steps": steps,
              "image_size": list(content.shape[-2:])}

    if args.sweep:
        rows, summary = sweep(extractor, content, style, settings, steps, args.optimizer, args.lr, args.seed)
        plot_image_grid(rows, run.path("sweep.png"), f"{pair}, {description}, {steps} {args.optimizer} steps")
        run.finish({**common, "sweep": summary})
        return

    started = time.time()
    snapshot_every = args.snapshot_every or -(-steps // 8)
    result = stylize(extractor, content, style, settings, steps, args.optimizer, args.lr, args.init,
                     snapshot_every, args.seed)
    seconds_optimising = time.time() - started
    save_image(result.image, run.path("stylized.png"))
    title = f"{pair}, {description}, {args.optimizer}, {args.init} start"
    plot_image_grid([[(f"step {step}", image) for step, image in result.snapshots[i:i + 5]]
                     for i in range(0, len(result.snapshots), 5)], run.path("progress.png"), title)
    plot_losses(result.curves, run.path("losses.png"), title)
    plot_image_grid([[("content", content), ("style", style), ("result", result.image)]],
                    run.path("comparison.png"), title)
    curves = result.curves
    run.finish({**common, "init": args.init,
                **{f"{name}_initial": values[0] for name, values in curves.items()},
                **{f"{name}_final": values[-1] for name, values in curves.items()},
                # None where there was no style loss to reduce (--style-weight 0)
                "style_loss_ratio": curves["style_loss"][-1] / curves["style_loss"][0] if curves["style_loss"][0]
                else None,
                "seconds_optimising": round(seconds_optimising, 1)})


if __name__ == "__main__":
    util.run_main(main)
