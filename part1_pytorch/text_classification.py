"""Simple text models against recurrent ones on the binary sentiment set (train / dev / test).

--model bow        binary bag-of-words vector -> linear -> sigmoid
--model avg        word embeddings (random) -> average over the words -> linear -> sigmoid
--model avg_glove  the same, embeddings initialised from GloVe 6B
--model rnn|lstm   GloVe embeddings -> recurrent layer -> linear -> sigmoid at the last real word
--model svm        the classical reference: TF-IDF word 1-2-grams with a linear SVM (scikit-learn)

Neural models train with binary cross-entropy and Adam; the dev split (carved from train) picks the
best epoch (and the SVM's C); the test split is used once. `--all` runs the six and writes a
comparison table and plot; the run's own `test_accuracy` is that of the model best on dev (`selected_model`). `--predict FILE` writes one 0/1 prediction (1 = the second class,
"pos" for sentiment) per line of an unlabelled file.

    python part1_pytorch/text_classification.py --demo --all
    python part1_pytorch/text_classification.py --model lstm --predict my_sentences.txt
    python part1_pytorch/text_classification.py --predict my_sentences.txt \
        --model-dir results/text_classification/sentiment_lstm
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import dataset
import text_models
import util

NEURAL = ("bow", "avg", "avg_glove", "rnn", "lstm")
GLOVE_MODELS = ("avg_glove", "rnn", "lstm")
MODELS = NEURAL + ("svm",)
# Each model's settings, chosen on the sentiment dev split (few trials: shared CPU); --epochs and --lr override them.
TUNED = {
    "bow": {"epochs": 10, "lr": 1e-3, "weight_decay": 1e-5},
    "avg": {"epochs": 15, "lr": 3e-3, "embedding_dim": 50, "dropout": 0.3},
    "avg_glove": {"epochs": 15, "lr": 3e-3, "embedding_dim": 50, "dropout": 0.3},
    "rnn": {"epochs": 8, "lr": 1e-3, "embedding_dim": 50, "hidden_dim": 64, "dropout": 0.5},
    # lstm: 12 epochs at 1e-3 beat 8 at 2e-3 on the dev split over seeds 0 and 1 (79.9% against 78.7% on average).
    "lstm": {"epochs": 12, "lr": 1e-3, "embedding_dim": 50, "hidden_dim": 128, "dropout": 0.5},
}
# The demo set is tiny: a few epochs at a higher learning rate show every model learning.
DEMO = {"epochs": 6, "lr": 1e-2}
SVM_C = (0.1, 0.3, 1.0, 3.0)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=None, batch_size=32)
    next(a for a in parser._actions if a.dest == "epochs").help = "training epochs (default: tuned per model)"
    parser.add_argument("--lr", type=util.learning_rate, default=None,
                        help="learning rate (default: tuned per model)")
    parser.add_argument("--lr-schedule", choices=util.LR_SCHEDULES, default=None,
                        help="learning rate per epoch, as in util.epoch_lr (default: tuned per model, else constant)")
    parser.add_argument("--model", default="lstm", choices=MODELS, help="which model to train")
    parser.add_argument("--all", action="store_true", help="train every model and write a comparison table and plot")
    parser.add_argument("--dataset", default="sentiment", choices=["sentiment", "spam"], help="a binary text set")
    parser.add_argument("--valid-fraction", type=float, default=0.1, help="dev split carved from train")
    dataset.add_glove_args(parser)
    parser.add_argument("--predict", metavar="FILE", default=None,
                        help="unlabelled text, one sentence per line: write one 0/1 prediction per line")
    parser.add_argument("--output", default=None, help="where --predict writes (default: predictions.txt in "
                                                       "the run folder, or stdout with --model-dir)")
    parser.add_argument("--model-dir", default=None,
                        help="with --predict: use this saved model (run folder or model.pt) instead of training")
    util.add_threads_arg(parser, 1, why=util.ONE_THREAD)
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def read_lines(path, option: str = "--predict") -> list[str]:
    """The lines of an unlabelled file (dataset.read_plain_text); every line gets a prediction, empty ones too.

    Lines end at "\n" only: str.splitlines() also breaks at cp1252's ellipsis byte 0x85 read as latin-1, and at
    other characters a sentence may hold, so it would misalign predictions with lines."""
    path = Path(path)
    if not path.is_file():
        util.fail(f"the file to predict, {path}, does not exist: pass a text file with one sentence per line")
    lines = [line.removesuffix("\r") for line in dataset.read_plain_text(path, option).split("\n")]
    if lines and lines[-1] == "":  # the newline that ends the last line starts no new one
        lines.pop()
    if not lines:
        util.fail(f"the file to predict, {path}, is empty: put one sentence per line in it")
    return lines


def check_output(output) -> None:
    """Refuse an --output that cannot be written before anything trains: a folder, or a file in a folder
    that cannot be created or written."""
    if output is None:
        return
    path = Path(output)
    if path.is_dir():
        util.fail(f"--output {path} is a folder: give a file name, e.g. {path / 'predictions.txt'}")
    reason = util.unwritable(path.parent)
    if reason:
        util.fail(f"--output {path} cannot be written: its folder {path.parent} cannot be created or written in "
                  f"({reason}); give a file in a writable folder")


def load_binary_predictor(model_dir) -> text_models.TextPredictor:
    """The saved model of --model-dir; --predict writes 0/1 labels, so it must have two classes."""
    predictor = text_models.TextPredictor.load(model_dir)
    if len(predictor.classes) != 2:
        util.fail(f"the model in {model_dir} has {len(predictor.classes)} classes ({', '.join(predictor.classes)}), "
                  "but --predict writes 0/1 labels: pass a binary model (sentiment or spam), or classify with "
                  "part1_pytorch/predict_text.py --file")
    return predictor


def write_labels(labels, classes: list[str], output) -> None:
    """One 0/1 label per line into `output` (atomically), or onto stdout when output is None."""
    text = "".join(f"{label}\n" for label in labels)
    if output is None:
        sys.stdout.write(text)
        return
    with util.atomic_path(output) as tmp:
        tmp.write_text(text)
    print(f"{len(labels)} predictions (0 = {classes[0]}, 1 = {classes[1]}) written to {output}")


def write_predictions(predictor: text_models.TextPredictor, lines: list[str], output) -> None:
    write_labels(predictor.probabilities(lines).argmax(axis=1), predictor.classes, output)


def build(name: str, settings: dict, vocab_words: list[str], fixed_words: int = 0):
    """The model `name` and the constructor arguments saved with it (binary: one output logit)."""
    vocab_size = len(vocab_words)
    if name == "bow":
        return text_models.BagOfWords(vocab_size, 1), {"vocab_size": vocab_size, "num_classes": 1}
    if name in ("avg", "avg_glove"):
        hyperparameters = {"vocab_size": vocab_size, "embedding_dim": settings["embedding_dim"], "num_classes": 1,
                           "dropout": settings["dropout"], "fixed_words": fixed_words}
        return text_models.AverageEmbedding(**hyperparameters), hyperparameters
    hyperparameters = {"vocab_size": vocab_size, "embedding_dim": settings["embedding_dim"],
                       "hidden_dim": settings["hidden_dim"], "num_classes": 1, "unit": name,
                       "dropout": settings["dropout"], "fixed_words": fixed_words}
    return text_models.RNNClassifier(**hyperparameters), hyperparameters


def load_data(args, names: list[str]) -> dict:
    """{"plain": ..., "glove": ...}: the batches of the models that need them. The GloVe models' vocabulary
    also holds GloVe's most frequent words (--glove-vocab); for the others such words would be untrained noise."""
    data = {}
    if any(n in NEURAL and n not in GLOVE_MODELS for n in names):
        data["plain"] = text_models.load_batches(args, args.dataset)
    if any(n in GLOVE_MODELS for n in names):
        dim = TUNED["avg_glove"]["embedding_dim"]  # the GloVe models' size: GloVe 6B 50d
        data["glove"] = text_models.load_batches(args, args.dataset, text_models.glove_vocabulary(args, dim))
    return data


def train_neural(name: str, args, data, device, run) -> tuple[dict, text_models.TextPredictor]:
    settings = {**TUNED[name], **(DEMO if args.demo else {})}
    settings.update({k: getattr(args, k) for k in ("epochs", "lr", "lr_schedule") if getattr(args, k) is not None})
    vocab_words = list(data.vocab.itos)
    util.set_seed(args.seed)
    model, hyperparameters = build(name, settings, vocab_words, data.vocab.extra)
    glove_found = None
    if name in GLOVE_MODELS:
        glove_found = text_models.init_glove(model, vocab_words, args.data_dir, args.glove, demo=args.demo,
                                             seed=args.seed)
    text_models.start_untrained_unk_at_zero(model, data.vocab)
    data.train.epoch = 0  # each model sees the batch order it would see run alone (--all shares the batches)
    print(f"== {name}: {sum(p.numel() for p in model.parameters()):,} parameters, {settings}")
    started = time.time()
    result = text_models.fit(model, data, epochs=settings["epochs"], lr=settings["lr"], device=device,
                             weight_decay=settings.get("weight_decay", 0.0),
                             lr_schedule=settings.get("lr_schedule", "constant"))
    test = text_models.evaluate(model, data.test, device)
    seconds = time.time() - started
    print(f"{name}: dev accuracy {result['valid_accuracy']:.2%}, test accuracy {test['accuracy']:.2%} "
          f"({seconds:.0f} s)")
    model_file = run.path("model.pt" if not args.all else f"model_{name}.pt")
    text_models.save_model(model_file, model.cpu(), hyperparameters, vocab_words, data.classes, None, data.name)
    util.plot_curves(result["curves"], run.path(f"curves_{name}.png"), title=f"{name} on {data.name}",
                     kept=result["best_epoch"])
    summary = {"model": name, "best_valid_accuracy": result["valid_accuracy"], "test_accuracy": test["accuracy"],
               "best_epoch": result["best_epoch"], "seconds": round(seconds, 1), "settings": settings,
               "glove_words_found": glove_found,
               "embeddings": text_models.embeddings_used("glove" if name in GLOVE_MODELS else None, glove_found),
               "parameters": sum(p.numel() for p in model.parameters())}
    return summary, text_models.TextPredictor(model, vocab_words, data.classes)


def train_svm(args) -> dict:
    """TF-IDF word uni+bigrams -> LinearSVC; C chosen on the same dev split the neural models use."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    sentences, labels = dataset.read_text_split(args.dataset, "train", args.data_dir, args.demo)
    test_sentences, test_labels = dataset.read_text_split(args.dataset, "test", args.data_dir, args.demo)
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    test_y = np.array([classes.index(label) for label in test_labels])
    keep, held = dataset.validation_split(args.dataset, sentences, y, args.valid_fraction, args.seed)
    util.check_split(args.dataset, len(keep), len(held), args.valid_fraction)
    started = time.time()
    vectorizer = TfidfVectorizer(tokenizer=dataset.tokenize, token_pattern=None, lowercase=False,
                                 ngram_range=(1, 2), sublinear_tf=True)
    features = vectorizer.fit_transform([sentences[i] for i in keep])
    dev_features = vectorizer.transform([sentences[i] for i in held])
    best = None
    for c in SVM_C:
        svm = LinearSVC(C=c).fit(features, y[keep])
        dev = float((svm.predict(dev_features) == y[held]).mean())
        print(f"svm C={c}: dev accuracy {dev:.2%}")
        if best is None or dev > best[0]:
            best = (dev, c, svm)
    dev, c, svm = best
    test = float((svm.predict(vectorizer.transform(test_sentences)) == test_y).mean())
    seconds = time.time() - started
    print(f"svm: C={c}, dev accuracy {dev:.2%}, test accuracy {test:.2%} ({seconds:.0f} s)")
    return {"model": "svm", "best_valid_accuracy": dev, "test_accuracy": test, "best_epoch": None,
            "seconds": round(seconds, 1), "settings": {"C": c, "features": "tf-idf word 1-2-grams"},
            "parameters": int(svm.coef_.size + svm.intercept_.size), "svm": (vectorizer, svm, classes)}


def shown_name(result: dict, note: str = " (no GloVe: random)") -> str:
    """The model's name, with `note` when a GloVe model ran without GloVe (a demo without the file)."""
    return result["model"] + (note if result.get("embeddings") == util.NO_GLOVE else "")


def write_comparison(results: list[dict], run, data_name: str) -> None:
    lines = [f"# Text classification on {data_name}", "",
             "| model | dev accuracy | test accuracy | parameters | seconds | settings |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {shown_name(r)} | {r['best_valid_accuracy']:.2%} | {r['test_accuracy']:.2%} | {r['parameters']:,} "
                     f"| {r['seconds']:.0f} | {r['settings']} |")
    with util.atomic_path(run.path("comparison.md")) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plt = util.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [shown_name(r, note="\n(no GloVe)") for r in results]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [r["best_valid_accuracy"] for r in results], 0.4, label="dev")
    ax.bar(x + 0.2, [r["test_accuracy"] for r in results], 0.4, label="test")
    ax.set_xticks(x, names)
    ax.set_ylim(0.5, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Text classification on {data_name}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    util.save_figure(fig, run.path("comparison.png"))
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    util.use_threads(args.threads)
    util.check_valid_fraction(args.valid_fraction)
    if args.all and args.predict:
        util.fail("--predict needs one model: drop --all and choose --model")
    if args.model_dir and not args.predict:
        util.fail("--model-dir only says which saved model --predict uses: add --predict FILE")
    lines = read_lines(args.predict) if args.predict else None
    if args.predict:
        check_output(args.output)
    if args.model_dir:
        write_predictions(load_binary_predictor(args.model_dir), lines, args.output)
        return

    device = util.get_device(args.device)
    names = list(MODELS) if args.all else [args.model]
    data = load_data(args, names)
    first = next(iter(data.values()), None)
    data_name = first.name if first else ("demo_text" if args.demo else args.dataset)
    if first is not None and len(first.classes) != 2:
        util.fail(f"{args.dataset} has {len(first.classes)} classes, this script needs exactly 2")
    run = util.start_run(args, "text_classification", data_name, "all" if args.all else args.model)
    results, predictor = [], None
    for number, name in enumerate(names, 1):
        if len(names) > 1:  # each model has its own progress bars; one around them would tangle with their lines
            print(f"-- model {number} of {len(names)}: {name}")
        if name == "svm":
            results.append(train_svm(args))
        else:
            summary, predictor = train_neural(name, args, data["glove" if name in GLOVE_MODELS else "plain"],
                                              device, run)
            results.append(summary)
    if lines is not None:
        if args.model == "svm":
            vectorizer, svm, classes = results[0]["svm"]
            write_labels(svm.predict(vectorizer.transform(lines)), classes, args.output or run.path("predictions.txt"))
        else:
            write_predictions(predictor, lines, args.output or run.path("predictions.txt"))
    for r in results:
        r.pop("svm", None)
    if args.all:
        write_comparison(results, run, data_name)
        # the run's own figure is the model a user would pick without the test set: the best on dev (first of a tie)
        selected = max(results, key=lambda r: r["best_valid_accuracy"])
        print(f"best on dev: {shown_name(selected)} ({selected['best_valid_accuracy']:.2%}), "
              f"test accuracy {selected['test_accuracy']:.2%}")
        run.finish({"test_accuracy": selected["test_accuracy"], "best_valid_accuracy": selected["best_valid_accuracy"],
                    "selected_model": selected["model"],
                    "models": {r["model"]: r for r in results}})
    else:
        run.finish({**results[0], "model": args.model, "epochs": results[0]["settings"].get("epochs")})


if __name__ == "__main__":
    util.run_main(main)
