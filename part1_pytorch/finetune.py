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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    # Chosen on caltech101's validation split: the new layer trained two epochs at 0.03 before all layers train
    # (5 epochs, cosine schedule) reached 97.0% validation accuracy against 95.7% for 1 epoch at 0.01 then 3 epochs.
    vision.add_training_args(parser, epochs=5, head_lr=0.03)
    parser.add_argument("--warmup-epochs", type=util.positive(int, zero=True), default=2,
                        help="epochs training the new last layer alone first")
    parser.add_argument("--augment", action="store_true", help="train with data augmentation (a separate run)")
    parser.epilog = ("--epochs counts the epochs that train all layers, after the warm-up ones; metrics.json's "
                     "best_epoch counts from the first warm-up epoch, of total_epochs = warmup_epochs + epochs.")
    args = util.parse_args(parser, argv, epochs=1, warmup_epochs=1)
    vision.apply_model_args(args)
    device = util.get_device(args.device)

    name, train_dir, test_dir = vision.dataset_folders(args.dataset, args.data_dir, args.demo)
    prep = vision.preprocessing_for(args.model, args.image_size)
    splits = vision.image_splits(train_dir, test_dir, prep, args.augment, args.valid_fraction, args.seed)
    variant = f"{args.model}_augment" if args.augment else args.model
    run = util.start_run(args, "finetune", name, variant)
    result = vision.train_classifier(
        args.model, args.weights, prep, splits, epochs=args.epochs, lr=args.lr, head_lr=args.head_lr,
        batch_size=args.batch_size, augment=args.augment, warmup_epochs=args.warmup_epochs, seed=args.seed,
        workers=args.workers, label_smoothing=args.label_smoothing, device=device)

    title = f"fine-tuned {result['description']}{' + augmentation' if args.augment else ''}"
    accuracy = vision.report_test(run, name, title, result["scores"].argmax(1), result["labels"], result["test_files"],
                                  result["class_names"], confusion="conf_finetune.png", predictions="predictions.csv")
    span = "epoch 1" if args.warmup_epochs == 1 else f"epochs 1-{args.warmup_epochs}"
    warmup = f" ({span}: the new layer alone)" if args.warmup_epochs else ""
    util.plot_curves(result["curves"], run.path("curves.png"), title=title + warmup, kept=result["best_epoch"])
    vision.save_classifier(run.path("model.pt"), result["model"], args.model, result["class_names"], result["prep"],
                           result["description"], augment=args.augment)
    run.finish({"test_accuracy": accuracy, "weights": result["description"], "pretrained": args.weights != "none",
                "augment": args.augment,
                "best_epoch": result["best_epoch"], "warmup_epochs": args.warmup_epochs,
                "total_epochs": args.warmup_epochs + args.epochs,
                "best_valid_accuracy": max(result["curves"]["valid_accuracy"]), "lr": args.lr,
                "head_lr": args.head_lr, "label_smoothing": args.label_smoothing, "batch_size": args.batch_size,
                "image_size": result["prep"]["crop"],
                "train_images": result["train_images"], "valid_images": result["valid_images"],
                "test_images": len(result["labels"]), "curves": result["curves"]})


if __name__ == "__main__":
    util.run_main(main)
