"""Fine-tune an ImageNet-pretrained network on an image dataset: new last layer, all layers trained.

All layers train with a small learning rate (the new last layer with a larger one), after warm-up
epochs on the new layer alone; the epoch with the best accuracy on a validation split carved
from train is kept and tested once. --augment adds random resized crops, flips, small rotations and
colour jitter, and writes a separate run (results/finetune/<dataset>_<model>_augment/) with its own
model, so the two runs can be compared side by side. Inception v3's auxiliary head is trained with
weight 0.4.

    python part1_pytorch/finetune.py --dataset hymenoptera --model resnet18 --augment
    python part1_pytorch/finetune.py --demo --weights none --model squeezenet1_1
"""
from __future__ import annotations

import argparse

import util
import vision


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=5, batch_size=32, lr=0.001)
    vision.add_model_args(parser)
    # Chosen on caltech101's validation split: the new layer trained two epochs at 0.03 before all layers train
    # (5 epochs, cosine schedule) reached 97.0% validation accuracy against 95.7% for 1 epoch at 0.01 then 3 epochs.
    parser.add_argument("--head-lr", type=util.positive(float), default=0.03, help="learning rate of the new last layer")
    parser.add_argument("--warmup-epochs", type=int, default=2, help="epochs training the new last layer alone first")
    parser.add_argument("--augment", action="store_true", help="train with data augmentation (a separate run)")
    parser.add_argument("--valid-fraction", type=float, default=0.2, help="share of train held out for validation")
    args = parser.parse_args()
    vision.apply_model_args(args)
    if args.demo:
        args.epochs, args.warmup_epochs = min(args.epochs, 1), min(args.warmup_epochs, 1)
    device = util.get_device(args.device)

    name, train_dir, test_dir = vision.dataset_folders(args.dataset, args.data_dir, args.demo)
    variant = f"{args.model}_augment" if args.augment else args.model
    run = util.start_run(args, "finetune", name, variant)
    result = vision.train_classifier(
        args.model, args.weights, train_dir, test_dir, epochs=args.epochs, lr=args.lr, head_lr=args.head_lr,
        batch_size=args.batch_size, augment=args.augment, warmup_epochs=args.warmup_epochs,
        valid_fraction=args.valid_fraction, image_size=args.image_size, seed=args.seed, workers=args.workers,
        device=device)

    predicted = result["scores"].argmax(1)
    accuracy = float((predicted == result["labels"]).mean())
    title = f"fine-tuned {result['description']}{' + augmentation' if args.augment else ''}"
    util.plot_confus_matrix(predicted, result["labels"], title=title, size=vision.confusion_size(name),
                            class_names=result["class_names"], path=run.path("conf_finetune.png"))
    util.plot_curves(result["curves"], run.path("curves.png"), title=title)
    vision.save_predictions(run.path("predictions.csv"), result["test_files"], result["labels"], predicted,
                            result["class_names"])
    vision.save_classifier(run.path("model.pt"), result["model"], args.model, result["class_names"], result["prep"],
                           result["description"], augment=args.augment)
    run.finish({"test_accuracy": accuracy, "weights": result["description"], "augment": args.augment,
                "best_epoch": result["best_epoch"], "warmup_epochs": args.warmup_epochs,
                "best_valid_accuracy": max(result["curves"]["valid_accuracy"]), "lr": args.lr,
                "head_lr": args.head_lr, "batch_size": args.batch_size, "image_size": result["prep"]["crop"],
                "train_images": result["train_images"], "valid_images": result["valid_images"],
                "test_images": len(result["labels"]), "curves": result["curves"]})


if __name__ == "__main__":
    util.run_main(main)
