"""The course's small convolutional network on a CIFAR-100 subset, in PyTorch.

conv 3->16 3x3 - ReLU - 2x2 max-pool - conv 16->32 3x3 - ReLU - 2x2 max-pool - linear to the classes,
trained with SGD (momentum 0.9) on `num_classes` CIFAR-100 classes chosen by the seed (dataset.cifar100). The
epoch with the best accuracy on a validation split carved from train is kept; the test split is used once.

The convolutions are unpadded (nn.Conv2d's default; this part's description names no padding): 32 -> 30 -> 15
-> 13 -> 6, so 6x6x32 = 1152 features reach the linear layer. Part 2's TensorFlow network pads "same", as its
description says: 2048.

    python part1_pytorch/cifar_pytorch.py --num-classes 4 --epochs 20
    python part1_pytorch/cifar_pytorch.py --demo
"""
from __future__ import annotations

import argparse
import copy

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dataset
import util


class CifarNet(nn.Module):
    """(N, 3, 32, 32) images -> (N, num_classes) logits."""

    def __init__(self, num_classes: int, lr: float = 0.01, momentum: float = 0.9):
        super().__init__()
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(3, 16, 3)   # (N, 16, 30, 30), pooled to 15x15
        self.conv2 = nn.Conv2d(16, 32, 3)  # (N, 32, 13, 13), pooled to 6x6
        self.fc = nn.Linear(32 * 6 * 6, num_classes)
        self.pool = nn.MaxPool2d(2)
        self.lr, self.momentum = lr, momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))

    def fit(self, trainloader: DataLoader, epochs: int = 1, validloader: DataLoader | None = None) -> dict:
        """SGD on cross-entropy; with validloader, keeps the weights of the best validation epoch.

        Returns curves {"train_loss": [...], "valid_accuracy": [...]} (one value per epoch).
        """
        device = self.fc.weight.device
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum)
        curves = {"train_loss": [], "valid_accuracy": []}
        best_accuracy, best_state = -1.0, None
        for epoch in range(1, epochs + 1):
            self.train()
            total, seen = 0.0, 0
            for images, labels in util.progress(trainloader, desc=f"epoch {epoch}", unit="batch"):
                images, labels = images.to(device), labels.to(device)
                loss = nn.functional.cross_entropy(self(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(labels)
                seen += len(labels)
            util.check_finite_loss(total / seen, f"of epoch {epoch}")
            curves["train_loss"].append(total / seen)
            message = f"epoch {epoch}/{epochs}: train loss {total / seen:.3f}"
            if validloader is not None:
                predicted, labels = self.predict(validloader)
                accuracy = float((predicted == labels).mean())
                curves["valid_accuracy"].append(accuracy)
                message += f", validation accuracy {accuracy:.2%}"
                if accuracy > best_accuracy:
                    best_accuracy, best_state = accuracy, copy.deepcopy(self.state_dict())
            print(message)
        if best_state is not None:
            self.load_state_dict(best_state)
        return curves

    @torch.inference_mode()
    def predict(self, testloader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
        """Returns (predicted classes (N,), true labels (N,))."""
        self.eval()
        predicted, labels = [], []
        for images, targets in testloader:
            predicted.append(self(images.to(self.fc.weight.device)).argmax(1).cpu())
            labels.append(targets)
        return torch.cat(predicted).numpy(), torch.cat(labels).numpy()


def to_loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """x (N, 3072) channel-major CIFAR rows -> batches of (B, 3, 32, 32) images and (B,) labels."""
    images = torch.from_numpy(x.reshape(-1, 3, 32, 32))
    return DataLoader(TensorDataset(images, torch.from_numpy(y)), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=20, batch_size=32, lr=0.01)
    parser.add_argument("--num-classes", type=util.positive(int), default=4,
                        help="CIFAR-100 classes to use (at least 2)")
    parser.add_argument("--valid-fraction", type=float, default=0.1, help="share of train held out for validation")
    util.add_threads_arg(parser)
    args = util.parse_args(parser, argv, epochs=3)
    util.use_threads(args.threads)
    util.check_valid_fraction(args.valid_fraction)
    device = util.get_device(args.device)

    (train_x, train_y), (test_x, test_y) = dataset.cifar100(args.seed, args.num_classes, args.data_dir, args.demo)
    classes = dataset.cifar100_class_names(args.seed, args.num_classes, args.data_dir, args.demo)
    name = f"{'demo_' if args.demo else ''}cifar100_{args.num_classes}classes"
    keep, held_out = dataset.stratified_split(train_y, args.valid_fraction, args.seed)
    util.check_split(name, len(keep), len(held_out), args.valid_fraction, items="images")
    run = util.start_run(args, "cifar_pytorch", name)
    print(f"{len(keep)} train / {len(held_out)} validation / {len(test_y)} test images of {', '.join(classes)}")

    model = CifarNet(args.num_classes, lr=args.lr).to(device)
    curves = model.fit(to_loader(train_x[keep], train_y[keep], args.batch_size, True, args.seed), args.epochs,
                       to_loader(train_x[held_out], train_y[held_out], 256, False))
    predicted, labels = model.predict(to_loader(test_x, test_y, 256, False))
    accuracy = float((predicted == labels).mean())

    util.plot_confus_matrix(predicted, labels, title=f"CifarNet on {name}", class_names=classes,
                            path=run.path("confusion_matrix.png"))
    best_epoch = int(np.argmax(curves["valid_accuracy"])) + 1  # fit keeps the first best epoch, as argmax does
    print(f"best epoch {best_epoch} (validation accuracy {max(curves['valid_accuracy']):.2%}), "
          f"test accuracy {accuracy:.2%}")
    util.plot_curves(curves, run.path("curves.png"), title=f"CifarNet on {name}", kept=best_epoch)
    util.save_torch({"num_classes": args.num_classes, "class_names": classes, "lr": args.lr,
                     "state_dict": model.cpu().state_dict()}, run.path("model.pt"))
    run.finish({"test_accuracy": accuracy, "num_classes": args.num_classes, "classes": classes, "lr": args.lr,
                "momentum": model.momentum, "batch_size": args.batch_size, "train_loss": curves["train_loss"],
                "valid_accuracy": curves["valid_accuracy"], "best_valid_accuracy": max(curves["valid_accuracy"]),
                "best_epoch": best_epoch})


if __name__ == "__main__":
    util.run_main(main)
