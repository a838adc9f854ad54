"""The PyTorch transfer-learning tutorial's two scenarios, side by side, on ants vs bees (hymenoptera).

finetune: start from the pretrained network, replace the last layer, train all layers.
freeze:   the pretrained network as a fixed feature extractor: only the new last layer trains.
Both use the tutorial's augmentation (random resized crop, flip), keep the epoch with the best
accuracy on a validation split carved from train, and are tested once on the test (val/) split.
Outputs per scenario: <scenario>_model.pt, conf_<scenario>.png, visualize_<scenario>.png (validation
images with predicted and true labels); curves.png compares the two.

    python part1_pytorch/transfer_learning.py --model resnet18
    python part1_pytorch/transfer_learning.py --demo --weights none --model squeezenet1_1
"""
from __future__ import annotations

import argparse
import math

import torch

import util
import vision

SCENARIOS = ("finetune", "freeze")


def train_model(scenario: str, args, prep: dict, splits, device) -> dict:
    """Train one scenario (see vision.train_classifier); freeze uses the larger head learning rate only.

    Both scenarios get the same splits, and start from the same seed, so the same new last layer.
    """
    util.set_seed(args.seed)
    return vision.train_classifier(
        args.model, args.weights, prep, splits, epochs=args.epochs, lr=args.lr, head_lr=args.head_lr,
        batch_size=args.batch_size, augment=True, freeze=scenario == "freeze", seed=args.seed, workers=args.workers,
        label_smoothing=args.label_smoothing, device=device, label=f"[{scenario}] ")


@torch.inference_mode()
def visualize_model(model, data, class_names: list[str], prep: dict, path, title: str, num_images: int = 6) -> None:
    """Save a grid of the first num_images images of `data` titled with predicted and true labels."""
    plt = util.pyplot()
    model.eval()
    images, labels = next(iter(data))
    images, labels = images[:num_images], labels[:num_images]
    predicted = model(images.to(next(model.parameters()).device)).argmax(1).cpu()
    shown = vision.denormalise(images, prep).permute(0, 2, 3, 1).numpy()
    columns = min(3, len(shown))
    rows = math.ceil(len(shown) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, guess, truth in zip(axes.ravel(), shown, predicted, labels):
        ax.imshow(image)
        colour = "green" if guess == truth else "red"
        ax.set_title(f"predicted: {class_names[guess]}\ntrue: {class_names[truth]}", color=colour, fontsize=9)
    fig.suptitle(util.wrap_title(title, 3 * columns, fontsize=9), fontsize=9)
    fig.tight_layout(h_pad=1.5)
    util.save_figure(fig, path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    vision.add_training_args(parser, epochs=3, head_lr=0.01)
    args = util.parse_args(parser, argv, epochs=1)
    vision.apply_model_args(args)
    device = util.get_device(args.device)

    name, train_dir, test_dir = vision.dataset_folders(args.dataset, args.data_dir, args.demo)
    prep = vision.preprocessing_for(args.model, args.image_size)
    splits = vision.image_splits(train_dir, test_dir, prep, True, args.valid_fraction, args.seed)
    run = util.start_run(args, "transfer_learning", name, args.model)
    metrics, curves = {}, {}
    for scenario in SCENARIOS:
        result = train_model(scenario, args, prep, splits, device)
        title = f"{scenario}: {result['description']}"
        visualize_model(result["model"], result["valid"], result["class_names"], result["prep"],
                        run.path(f"visualize_{scenario}.png"), title)
        accuracy = vision.report_test(run, name, title, result["scores"].argmax(1), result["labels"],
                                      result["test_files"], result["class_names"], confusion=f"conf_{scenario}.png",
                                      predictions=f"predictions_{scenario}.csv")
        vision.save_classifier(run.path(f"{scenario}_model.pt"), result["model"], args.model, result["class_names"],
                               result["prep"], result["description"], scenario=scenario)
        curves.update({f"{scenario} {key}": values for key, values in result["curves"].items()})
        metrics[scenario] = {"test_accuracy": accuracy, "best_epoch": result["best_epoch"],
                             "best_valid_accuracy": max(result["curves"]["valid_accuracy"]),
                             "curves": result["curves"]}
        print(f"[{scenario}] test accuracy {accuracy:.2%}")
    util.plot_curves(curves, run.path("curves.png"), title=f"finetune vs freeze: {result['description']}",
                     kept={s: metrics[s]["best_epoch"] for s in SCENARIOS})
    print(" | ".join(f"{s}: {metrics[s]['test_accuracy']:.2%}" for s in SCENARIOS))
    run.finish({"test_accuracy": metrics["finetune"]["test_accuracy"],
                **{f"{s}_test_accuracy": metrics[s]["test_accuracy"] for s in SCENARIOS},
                "weights": result["description"], "pretrained": args.weights != "none", "lr": args.lr,
                "head_lr": args.head_lr,
                "label_smoothing": args.label_smoothing,
                "batch_size": args.batch_size, "image_size": result["prep"]["crop"],
                "train_images": result["train_images"], "valid_images": result["valid_images"],
                "test_images": len(result["labels"]), "scenarios": metrics})


if __name__ == "__main__":
    util.run_main(main)
