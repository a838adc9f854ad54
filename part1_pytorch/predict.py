"""Classify image files or folders with a model saved by finetune.py, transfer_learning.py or feature.py,
or exported with export.py (TorchScript): prints the top-k classes of each image.

Checkpoints are loaded with torch.load(..., weights_only=True), so a model file cannot run code.

    python part1_pytorch/predict.py results/finetune/hymenoptera_resnet18/model.pt ant.jpg bees/
    python part1_pytorch/predict.py results/finetune/hymenoptera_resnet18/model.scripted.pt ant.jpg
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

import dataset
import util
import vision

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}


def image_files(inputs: list[str]) -> tuple[list[Path], set[Path]]:
    """The given files, and the image files found (recursively, sorted) in the given folders; and the set of
    files named explicitly (an unreadable one of those is an error, one found in a folder is skipped)."""
    files, named = [], set()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                util.fail(f"folder {path} holds no image files: pass images or folders of images")
            files += found
        elif path.is_file():
            files.append(path)
            named.add(path)
        else:
            util.fail(f"{path} does not exist: pass image files or folders of images")
    return files, named


def read_image(path: Path, named: bool = True) -> Image.Image | None:
    """The image as RGB; if it cannot be read, a user error when it was named, else a warning and None."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        if named:
            util.fail(f"cannot read {path} as an image ({type(error).__name__}): pass a JPEG or PNG file")
        print(f"warning: skipping unreadable image {path} ({type(error).__name__})", file=sys.stderr)
        return None


@torch.inference_mode()
def classify(model, meta: dict, files: list[Path], batch_size: int = 16, device=None,
             named: set[Path] | None = None) -> tuple[list[Path], torch.Tensor]:
    """The files that could be read, and their (N, C) class probabilities (softmax of the classifier's logits;
    for an SVM, of its one-vs-rest scores). Files not in `named` (None: all are) are skipped if unreadable."""
    transform = vision.eval_transform(meta["preprocessing"])
    read, scores = [], []
    for start in util.progress(range(0, len(files), batch_size), desc="classify", unit="batch"):
        images = [(f, read_image(f, named is None or f in named)) for f in files[start:start + batch_size]]
        images = [(f, image) for f, image in images if image is not None]
        if images:
            read += [f for f, _ in images]
            batch = torch.stack([transform(image) for _, image in images])
            scores.append(vision.scores_of(model(batch.to(device))).float().cpu())
    if not read:
        util.fail(f"none of the {len(files)} image files found could be read: pass JPEG or PNG files")
    return read, torch.cat(scores).softmax(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model", nargs="?", default=None,
                        help="model.pt saved by a training script (or its run folder), or a TorchScript file from "
                             "export.py (default with --demo: the model of finetune.py --demo)")
    parser.add_argument("images", nargs="*", help="image files or folders (default with --demo: the demo test images)")
    parser.add_argument("--top-k", type=util.positive(int), default=3, help="classes shown per image")
    util.add_common_args(parser, epochs=0, batch_size=16,
                         results_help="also write predictions.csv (each image's top-k classes) and metrics.json "
                                      "into this folder (default: print only)",
                         demo_help="classify the demo test images with the model of `finetune.py --demo`")
    args = parser.parse_args(argv)
    vision.quiet_scripted_googlenet()

    if args.demo:
        args.model = vision.demo_model(args.model)
        args.images = args.images or [str(Path(dataset.image_folder("demo_images", args.data_dir, demo=True)) / "test")]
    if not args.model or not args.images:
        util.fail("no model or no images given: pass a model file, then image files or folders (or use --demo)")
    util.set_seed(args.seed)
    args.model = vision.model_file(args.model)
    model, meta = vision.load_any(args.model)
    device = util.get_device(args.device)
    model.to(device)
    files, named = image_files(args.images)
    print(f"model {args.model}: {meta['arch']} ({meta['kind']}, {meta['weights']}); {len(files)} images")
    if meta["kind"] == "svm":
        print("note: SVM scores are not calibrated; the probabilities are a softmax of its one-vs-rest scores")
    files, probabilities = classify(model, meta, files, args.batch_size, device, named)
    names = meta["class_names"]
    k = min(args.top_k, len(names))
    rows = []
    for file, row in zip(files, probabilities):
        top = row.topk(k)
        ranked = [(names[i], p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
        print(f"{file}: " + ", ".join(f"{name} {p:.3f}" for name, p in ranked))
        rows.append([str(file), *[f"{name} {p:.4f}" for name, p in ranked]])
    util.save_prediction_run(args, "predict", ["file", *[f"class {i + 1}" for i in range(k)]], rows,
                             {"model_file": str(args.model), "arch": meta["arch"]})


if __name__ == "__main__":
    util.run_main(main)
