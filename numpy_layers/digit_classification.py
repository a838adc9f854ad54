"""Digit (or clothing) classification with the NumPy layer library: a two-layer network and a CNN.

    python numpy_layers/digit_classification.py                          # MNIST
    python numpy_layers/digit_classification.py --dataset fashion_mnist
    python numpy_layers/digit_classification.py --demo                   # generated digits, seconds

The 60000 training images are split into 55000 for training and 5000 for validation. For each model a
small grid (the two-layer network's hidden size; the CNN's filter size) is trained with Adam, the
configuration with the best validation accuracy is kept, and only that one is evaluated on the 10000
test images. Of the two, the model with the better validation accuracy is the run's result (the test set
chooses nothing). Outputs: learning curves, the selection table, that model's confusion matrix, the
selected parameters (.npz) and metrics.json (test_accuracy_two_layer, test_accuracy_cnn and their
best_valid_accuracy_*, selected_model and its test_accuracy and best_valid_accuracy).
"""
import argparse
import json

import numpy as np
from threadpoolctl import threadpool_limits

import dataset
import util
from cnn import ConvNet
from softmax import SoftmaxClassifier
from solver import Solver

NUM_VALIDATION = 5000
DEMO_VALIDATION = 200
HIDDEN_GRID = (100, 300)                 # two-layer network: hidden units
FILTER_GRID = (5, 7)                     # CNN: filter size (32 filters, 100 hidden units)
SOFTMAX_SETTINGS = dict(epochs=15, lr_decay=0.85, reg=1e-4)   # Adam, learning rate --lr for both models
CNN_SETTINGS = dict(epochs=8, lr_decay=0.7, reg=1e-4)
DEMO_EPOCHS = 2
TRAIN_ACC_SAMPLES = 2000                 # the train accuracy is measured on this many random training images
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"], help="which digits")
    parser.add_argument("--softmax-epochs", type=util.positive(int), default=SOFTMAX_SETTINGS["epochs"],
                        help="epochs of each two-layer network of the grid (--epochs: of each CNN)")
    util.add_common_args(parser, epochs=CNN_SETTINGS["epochs"], batch_size=100, lr=1e-3, unused=("device",))
    util.add_threads_arg(parser, 1, library="BLAS", why=util.ONE_THREAD)
    parser.epilog = f"With --demo both epoch defaults are {DEMO_EPOCHS}."
    return util.parse_args(parser, epochs=DEMO_EPOCHS, softmax_epochs=DEMO_EPOCHS)


def load_splits(args):
    """Train / validation / test arrays: images (N, 1, 28, 28) float32, standardised with the training
    mean and standard deviation; labels int64."""
    (x_train, y_train), (x_test, y_test) = dataset.load_mnist(args.dataset, data_dir=args.data_dir, demo=args.demo)
    num_val = DEMO_VALIDATION if args.demo else NUM_VALIDATION
    if len(x_train) <= num_val:
        util.fail(f"the training set has only {len(x_train)} images, fewer than the {num_val} needed for "
                  f"validation: prepare the full dataset with `python dataset.py download {args.dataset}`")
    order = np.random.default_rng(args.seed).permutation(len(x_train))
    val_idx, train_idx = order[:num_val], order[num_val:]
    scaled = x_train[train_idx].astype(np.float32) / 255
    mean, std = scaled.mean(), scaled.std()

    def prepare(x):
        return ((x.astype(np.float32) / 255 - mean) / std)[:, None]
    return {"X_train": prepare(x_train[train_idx]), "y_train": y_train[train_idx],
            "X_val": prepare(x_train[val_idx]), "y_val": y_train[val_idx],
            "X_test": prepare(x_test), "y_test": y_test}


def train(model, data, settings, args, label):
    """Train with Adam; the solver keeps the parameters of the best validation epoch."""
    print(f"training {label} ...", flush=True)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": settings["lr"]},
                    lr_decay=settings["lr_decay"], num_epochs=settings["epochs"], batch_size=args.batch_size,
                    num_train_samples=TRAIN_ACC_SAMPLES, verbose=False, progress=True, seed=args.seed)
    solver.train()
    print(f"  {label}: best validation accuracy {solver.best_val_acc:.4f}")
    return solver


def select(kind, grid, build, data, settings, args):
    """Train every configuration of the grid; the one with the best validation accuracy and the table."""
    best, table = None, []
    for value in grid:
        model = build(value)
        solver = train(model, data, settings, args, f"{kind} {value}")
        table.append({"model": kind, "setting": value, "best_valid_accuracy": solver.best_val_acc,
                      "final_train_accuracy": solver.train_acc_history[-1]})
        if best is None or solver.best_val_acc > best[2].best_val_acc:
            best = (value, model, solver)
    return best, table


def save_params(path, model, architecture):
    """The selected parameters plus what is needed to rebuild the model, written atomically."""
    with util.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, architecture=json.dumps(architecture), **model.params)


def train_sample(data):
    """The images the train accuracy is measured on, in words (the solver subsamples to save time)."""
    count = len(data["X_train"])
    if count > TRAIN_ACC_SAMPLES:
        return f"{TRAIN_ACC_SAMPLES} random training images"
    return f"all {count} training images"


def epoch_curves(solver, sample):
    """Per-epoch training loss (mean over the epoch) and accuracies (the histories' entry 0, before
    training, left out)."""
    per_epoch = np.array_split(np.array(solver.loss_history), solver.num_epochs)
    return {"train_loss": [float(np.mean(chunk)) for chunk in per_epoch],
            f"train_accuracy ({sample})": solver.train_acc_history[1:], "valid_accuracy": solver.val_acc_history[1:]}


def main():
    args = parse_args()
    name = "demo_digits" if args.demo else args.dataset
    data = load_splits(args)   # first: a missing dataset must not leave a run folder behind
    run = util.start_run(args, "digit_classification", name)
    print(f"{name}: {len(data['X_train'])} train, {len(data['X_val'])} validation, {len(data['X_test'])} test images")
    softmax_settings = {**SOFTMAX_SETTINGS, "lr": args.lr, "epochs": args.softmax_epochs}
    cnn_settings = {**CNN_SETTINGS, "epochs": args.epochs, "lr": args.lr}
    dtype, seed = np.float32, args.seed

    with threadpool_limits(limits=args.threads, user_api="blas"):
        (hidden, softmax_model, softmax_solver), softmax_table = select(
            "two-layer", HIDDEN_GRID, lambda h: SoftmaxClassifier(
                input_dim=784, hidden_dim=h, weight_scale=None, reg=softmax_settings["reg"], dtype=dtype, seed=seed),
            data, softmax_settings, args)
        (filter_size, cnn_model, cnn_solver), cnn_table = select(
            "cnn", FILTER_GRID, lambda f: ConvNet(
                filter_size=f, weight_scale=None, reg=cnn_settings["reg"], dtype=dtype, seed=seed),
            data, cnn_settings, args)
        print("evaluating the selected models on the test set ...")
        softmax_pred = softmax_solver.predict(data["X_test"])
        cnn_pred = cnn_solver.predict(data["X_test"])

    test_softmax = float(np.mean(softmax_pred == data["y_test"]))
    test_cnn = float(np.mean(cnn_pred == data["y_test"]))
    table = softmax_table + cnn_table
    sample = train_sample(data)
    lines = [f"| model | setting | validation accuracy | train accuracy (last epoch, {sample}) |", "|---|---|---|---|"]
    lines += [f"| {row['model']} | {'hidden' if row['model'] == 'two-layer' else 'filter'} {row['setting']} | "
              f"{row['best_valid_accuracy']:.4f} | {row['final_train_accuracy']:.4f} |" for row in table]
    run.path("selection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    softmax_label, cnn_label = f"two-layer network, hidden {hidden}", f"CNN, filter {filter_size}x{filter_size}"
    util.plot_curves(epoch_curves(softmax_solver, sample), run.path("curves_two_layer.png"),
                     title=f"{softmax_label} ({name})", kept=softmax_solver.best_epoch)
    util.plot_curves(epoch_curves(cnn_solver, sample), run.path("curves_cnn.png"),
                     title=f"{cnn_label} ({name})", kept=cnn_solver.best_epoch)
    # the model is chosen like its configuration, on validation accuracy (ties: the CNN)
    if cnn_solver.best_val_acc >= softmax_solver.best_val_acc:
        chosen, chosen_label, chosen_pred, test_accuracy = "cnn", cnn_label, cnn_pred, test_cnn
    else:
        chosen, chosen_label, chosen_pred, test_accuracy = "two-layer", softmax_label, softmax_pred, test_softmax
    class_names = FASHION_CLASSES if args.dataset == "fashion_mnist" and not args.demo else None
    util.plot_confus_matrix(chosen_pred, data["y_test"], class_names=class_names,
                            title=f"{chosen_label} (best on validation), {name} test set",
                            path=run.path("confusion_matrix.png"))
    save_params(run.path("two_layer.npz"), softmax_model,
                {"class": "SoftmaxClassifier", "input_dim": 784, "hidden_dim": hidden, "num_classes": 10})
    save_params(run.path("cnn.npz"), cnn_model,
                {"class": "ConvNet", "input_dim": [1, 28, 28], "num_filters": 32, "filter_size": filter_size,
                 "hidden_dim": 100, "num_classes": 10})
    print(f"test accuracy: two-layer (hidden {hidden}) {test_softmax:.4f}, CNN (filter {filter_size}) {test_cnn:.4f}; "
          f"best on validation: {chosen_label}")
    run.finish({"test_accuracy_two_layer": test_softmax, "test_accuracy_cnn": test_cnn,
                "best_valid_accuracy_two_layer": softmax_solver.best_val_acc,
                "best_valid_accuracy_cnn": cnn_solver.best_val_acc,
                "selected_model": chosen, "test_accuracy": test_accuracy,
                "best_valid_accuracy": max(softmax_solver.best_val_acc, cnn_solver.best_val_acc),
                "selected_hidden_dim": hidden,
                "selected_filter_size": filter_size, "selection": table,
                "softmax_epochs": softmax_settings["epochs"], "epochs": cnn_settings["epochs"]})


if __name__ == "__main__":
    util.run_main(main)
