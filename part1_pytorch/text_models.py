"""Text classification in PyTorch: the models, the training loop, saving and prediction.

Every text script of part 1 (the eight `<dataset>_<unit>.py` scripts, `text_classification.py` and
`predict_text.py`) is a thin layer over this module. The validation figures in those scripts' comments were
measured before session 7, when the vocabulary also held the validation texts' words (README, "The vocabulary").

Shapes follow the torchtext convention the course uses: a batch of sentences is a LongTensor
`sentence` of shape (T, B) (sequence first, padded with 0 = `<pad>`) with its true lengths (B,).
Every model maps `(sentence, lengths)` to logits of shape (B, C); a binary model (C = 1) is trained
with binary cross-entropy, any other with softmax cross-entropy.
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import dataset
import util

UNITS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
EMBEDDINGS = ("random", "glove")
CHECKPOINT_FORMAT = "part1-text-classifier-v1"
# Confusion matrices of many-class sets show only the first classes, as the course does.
CONFUSION_CLASSES = 20


# --------------------------------------------------------------------------- models

def add_word_embedding(module: nn.Module, vocab_size: int, embedding_dim: int, fixed_words: int = 0) -> None:
    """module.embedding for the first vocab_size - fixed_words words (trained) and, when fixed_words > 0, a buffer
    module.fixed_embedding for the last ones: pretrained vectors of words no training text has, kept as they are
    (they get no gradient anyway; as a buffer they also cost the optimiser nothing)."""
    if not 0 <= fixed_words < vocab_size:
        raise ValueError(f"fixed_words must be in [0, {vocab_size}), got {fixed_words}")
    module.embedding = nn.Embedding(vocab_size - fixed_words, embedding_dim, padding_idx=0)
    if fixed_words:
        module.register_buffer("fixed_embedding", torch.zeros(fixed_words, embedding_dim))


def start_untrained_unk_at_zero(module: nn.Module, vocab) -> None:
    """Zero <unk>'s embedding row (a bag of words: its weights) when every training word has its own id
    (vocab.unk_in_training is False): then only an empty training text could train them, and their random start
    would add the same noise for every unseen word at test time."""
    if vocab.unk_in_training:
        return
    with torch.no_grad():
        if isinstance(module, BagOfWords):
            module.fc.weight[:, dataset.Vocabulary.UNK] = 0.0
        else:
            module.embedding.weight[dataset.Vocabulary.UNK] = 0.0


def embed(module: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The embedding rows of ids (any shape): ids.shape + (E,); ids past the trained rows read fixed_embedding."""
    fixed = getattr(module, "fixed_embedding", None)
    if fixed is None:
        return module.embedding(ids)
    trained = module.embedding.num_embeddings
    return torch.where((ids < trained).unsqueeze(-1), module.embedding(ids.clamp(max=trained - 1)),
                       F.embedding((ids - trained).clamp(min=0), fixed))


class RNNClassifier(nn.Module):
    """Embedding -> one recurrent layer -> linear layer over the classes.

    The recurrence starts from a zero hidden state and runs on packed sequences, so the padding of
    a batch never enters it: a sentence gets the same logits whatever it is batched with.
    pooling="last" classifies from the hidden state after the last real word (the course's model);
    pooling="max" from the element-wise maximum of the outputs over the real time steps, which
    keeps evidence from the whole of a long document. bidirectional=True makes the one layer read
    each text both ways (PyTorch's bidirectional=True): the features are the two directions' side by
    side (B, 2H), and with pooling="last" the backward direction's "last" state is the one after the
    first word. fixed_words: the vocabulary's last words keep their pretrained vectors (add_word_embedding).
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_dim: int, num_classes: int,
                 unit: str = "lstm", dropout: float = 0.0, pooling: str = "last", bidirectional: bool = False,
                 fixed_words: int = 0):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"unknown recurrent unit {unit!r}: choose one of {', '.join(UNITS)}")
        if pooling not in ("last", "max"):
            raise ValueError(f"unknown pooling {pooling!r}: choose last or max")
        self.unit, self.pooling = unit, pooling
        add_word_embedding(self, vocab_size, embedding_dim, fixed_words)
        self.rnn = UNITS[unit](embedding_dim, hidden_dim, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim * (2 if bidirectional else 1), num_classes)

    def forward(self, sentence: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """sentence: LongTensor (T, B); lengths: LongTensor (B,), each in 1..T. Returns logits (B, C)."""
        embedded = self.dropout(embed(self, sentence))                          # (T, B, E)
        packed = pack_padded_sequence(embedded, lengths.cpu(), enforce_sorted=False)
        outputs, hidden = self.rnn(packed)                                       # zero initial state
        if self.pooling == "last":
            if self.unit == "lstm":
                hidden = hidden[0]
            # (directions, B, H) in batch order -> (B, directions * H)
            features = hidden.transpose(0, 1).reshape(hidden.shape[1], -1)
        else:
            padded, _ = pad_packed_sequence(outputs, padding_value=float("-inf"))  # (T', B, directions * H)
            features = padded.max(dim=0).values
        return self.fc(self.dropout(features))


class BagOfWords(nn.Module):
    """Binary bag-of-words vector (which vocabulary words occur) -> linear layer."""

    def __init__(self, vocab_size: int, num_classes: int = 1):
        super().__init__()
        self.vocab_size = vocab_size
        self.fc = nn.Linear(vocab_size, num_classes)

    def forward(self, sentence: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """sentence: (T, B); lengths: (B,) (padding is index 0, dropped). Returns logits (B, C)."""
        present = torch.zeros(sentence.shape[1], self.vocab_size, device=sentence.device)
        present.scatter_(1, sentence.t(), 1.0)
        present[:, 0] = 0.0
        return self.fc(present)


class AverageEmbedding(nn.Module):
    """Word embeddings -> average over the real words of the sentence -> linear layer."""

    def __init__(self, vocab_size: int, embedding_dim: int, num_classes: int = 1, dropout: float = 0.0,
                 fixed_words: int = 0):
        super().__init__()
        add_word_embedding(self, vocab_size, embedding_dim, fixed_words)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(embedding_dim, num_classes)

    def forward(self, sentence: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """sentence: (T, B); lengths: (B,). Padding rows of the embedding are zero. Returns (B, C)."""
        summed = embed(self, sentence).sum(dim=0)                                # (B, E)
        average = summed / lengths.to(summed.device, summed.dtype).unsqueeze(1)
        return self.fc(self.dropout(average))


ARCHITECTURES = {cls.__name__: cls for cls in (RNNClassifier, BagOfWords, AverageEmbedding)}


def build_model(architecture: str, hyperparameters: dict) -> nn.Module:
    return ARCHITECTURES[architecture](**hyperparameters)


def _unless_a_demo_lacks_glove(read, demo: bool, path, instead: str):
    """read(), or None in a demo that found no GloVe file (the demo data need no download); a file the user
    named (path) must exist even then."""
    try:
        return read()
    except dataset.DatasetError as error:
        if not demo or path is not None:
            raise
        print(f"demo: {error}; {instead}")
        return None


def init_glove(model: nn.Module, vocab_words: list[str], data_dir=None, path=None, demo: bool = False,
               seed: int = 0) -> int | None:
    """Copy GloVe vectors into model.embedding (rows follow the vocabulary); returns how many words were found.

    With demo=True a missing GloVe file is not an error: the demo keeps its random embeddings (None).
    """
    dim = model.embedding.embedding_dim
    loaded = _unless_a_demo_lacks_glove(lambda: dataset.load_glove(list(vocab_words), dim=dim, data_dir=data_dir,
                                                                   path=path, seed=seed),
                                        demo, path, "keeping random embeddings")
    if loaded is None:
        return None
    matrix, found = loaded
    matrix = torch.as_tensor(np.asarray(matrix), dtype=torch.float32)
    trained = model.embedding.num_embeddings
    with torch.no_grad():
        model.embedding.weight.copy_(matrix[:trained])
        if getattr(model, "fixed_embedding", None) is not None:
            model.fixed_embedding.copy_(matrix[trained:])
    print(f"GloVe {dim}d: {found} of {len(vocab_words)} vocabulary words found")
    return found


def embeddings_used(asked: str | None, glove_found: int | None) -> str | None:
    """What a model's embeddings started from, for its metrics: `asked` ("glove", "random", None for a model
    without embeddings), except GloVe asked for and not found (a demo without the file): util.NO_GLOVE."""
    return util.NO_GLOVE if asked == "glove" and glove_found is None else asked


# --------------------------------------------------------------------------- training and evaluation

def _loss_and_predictions(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0):
    """Binary models (one logit) use BCE, the rest cross-entropy. Returns (mean loss, predicted classes).

    label_smoothing eps: the target is 1 - eps on the true class plus eps spread evenly over the classes (two
    for a binary model)."""
    if logits.shape[1] == 1:
        logits = logits.squeeze(1)
        target = labels.float() * (1 - label_smoothing) + label_smoothing / 2
        return F.binary_cross_entropy_with_logits(logits, target), (logits > 0).long()
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing), logits.argmax(dim=1)


def _move(batch, device):
    return batch.sentence.to(device), batch.lengths.to(device), batch.label.to(device)


def evaluate(model: nn.Module, batches, device=None) -> dict:
    """Mean loss, accuracy, and every prediction and label (in batch order) over an iterator."""
    device = device or next(model.parameters()).device
    model.eval()
    total_loss, predictions, labels = 0.0, [], []
    with torch.no_grad():
        for batch in batches:
            sentence, lengths, label = _move(batch, device)
            loss, predicted = _loss_and_predictions(model(sentence, lengths), label)
            total_loss += loss.item() * len(label)
            predictions.append(predicted.cpu())
            labels.append(label.cpu())
    predictions, labels = torch.cat(predictions).numpy(), torch.cat(labels).numpy()
    return {"loss": total_loss / len(labels), "accuracy": float((predictions == labels).mean()),
            "predictions": predictions, "labels": labels}


def train_epoch(model, batches, optimizer, device, clip: float, desc: str = "train",
                label_smoothing: float = 0.0) -> dict:
    """One pass over the training batches; gradients are clipped to norm `clip`. Returns loss (with the
    label smoothing) and accuracy."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = util.progress(batches, desc=desc, total=_length(batches), unit="batch")
    for batch in bar:
        sentence, lengths, label = _move(batch, device)
        loss, predicted = _loss_and_predictions(model(sentence, lengths), label, label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total_loss += loss.item() * len(label)
        correct += (predicted == label).sum().item()
        seen += len(label)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    return {"loss": total_loss / seen, "accuracy": correct / seen}


def _length(batches):
    try:
        return len(batches)
    except TypeError:
        return None


def fit(model: nn.Module, data, *, epochs: int, lr: float, device, clip: float = 5.0,
        weight_decay: float = 0.0, time_limit: float | None = None, lr_schedule: str = "constant",
        label_smoothing: float = 0.0) -> dict:
    """Train with Adam, keep the weights of the epoch with the best validation accuracy.

    data has .train and .valid iterators (the test split is not touched here). Ties in validation
    accuracy go to the lower validation loss. time_limit (seconds): no epoch starts that would, at the
    average pace so far, end after it. lr_schedule: each epoch's learning rate (util.epoch_lr).
    label_smoothing: of the training loss only (_loss_and_predictions).
    Returns {"curves": {...per epoch...}, "best_epoch", "valid_accuracy", "epochs_run"}; the model
    is left holding the best epoch's weights.
    """
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    curves = {"train_loss": [], "valid_loss": [], "train_accuracy": [], "valid_accuracy": []}
    best, best_key, best_epoch = None, None, 0
    started = time.time()
    for epoch in range(1, epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = util.epoch_lr(lr, epoch, epochs, lr_schedule)
        trained = train_epoch(model, data.train, optimizer, device, clip, desc=f"epoch {epoch}/{epochs}",
                              label_smoothing=label_smoothing)
        valid = evaluate(model, data.valid, device)
        for split, result in (("train", trained), ("valid", valid)):
            curves[f"{split}_loss"].append(result["loss"])
            curves[f"{split}_accuracy"].append(result["accuracy"])
        key = (valid["accuracy"], -valid["loss"])
        if best_key is None or key > best_key:
            best, best_key, best_epoch = copy.deepcopy(model.state_dict()), key, epoch
        util.check_finite_loss(trained["loss"], f"of epoch {epoch}")
        print(f"epoch {epoch:3d}: train loss {trained['loss']:.4f} acc {trained['accuracy']:.4f} | "
              f"valid loss {valid['loss']:.4f} acc {valid['accuracy']:.4f}"
              f"{'  *' if best_epoch == epoch else ''}  ({time.time() - started:.0f} s)")
        elapsed = time.time() - started
        if time_limit is not None and epoch < epochs and elapsed * (epoch + 1) / epoch > time_limit:
            print(f"stopping after epoch {epoch}: another epoch would pass the time limit of {time_limit:.0f} s")
            break
    model.load_state_dict(best)
    print(f"best validation accuracy {best_key[0]:.2%} at epoch {best_epoch}")
    return {"curves": curves, "best_epoch": best_epoch, "valid_accuracy": best_key[0],
            "epochs_run": len(curves["train_loss"])}


# --------------------------------------------------------------------------- saving, loading, predicting

def save_model(path, model: nn.Module, hyperparameters: dict, vocab_words: list[str], classes: list[str],
               max_seq_len: int | None, dataset_name: str) -> None:
    """Everything predict needs: architecture, its arguments, weights, vocabulary, class names."""
    util.save_torch({"format": CHECKPOINT_FORMAT, "architecture": type(model).__name__,
                     "hyperparameters": dict(hyperparameters), "state_dict": model.state_dict(),
                     "vocab": list(vocab_words), "classes": list(classes), "max_seq_len": max_seq_len,
                     "dataset": dataset_name}, path)


class TextPredictor:
    """A saved text classifier with its vocabulary: predict(sentences) -> class names and probabilities."""

    def __init__(self, model: nn.Module, vocab_words: list[str], classes: list[str], max_seq_len=None, device="cpu"):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.stoi = {word: index for index, word in enumerate(vocab_words)}
        self.classes, self.max_seq_len = list(classes), max_seq_len

    @classmethod
    def load(cls, path, device="cpu") -> "TextPredictor":
        path = Path(path)
        if path.is_dir():
            path = path / "model.pt"
        if not path.is_file():
            util.fail(f"no saved text model at {path}: train one with a part1_pytorch text script "
                      "and pass its run folder")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip and unpickler errors all mean "not a usable checkpoint"
            util.fail(f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}): "
                      "pass a model.pt saved by a text script")
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            util.fail(f"{path} is not a text classifier saved by part1_pytorch/text_models.py: "
                      "pass the model.pt of a text run")
        try:
            model = build_model(checkpoint["architecture"], checkpoint["hyperparameters"])
            model.load_state_dict(checkpoint["state_dict"])
            return cls(model, checkpoint["vocab"], checkpoint["classes"], checkpoint["max_seq_len"], device)
        except RuntimeError:  # missing, unexpected or mis-shaped weights (a message of many lines)
            problem = f"its weights do not fit the {checkpoint.get('architecture')} it describes"
        except (KeyError, TypeError, ValueError) as error:  # a part missing or changed by hand
            problem = f"{type(error).__name__}: {error}"
        util.fail(f"{path} is damaged ({problem}): train again or pass the model.pt of another text run")

    def encode(self, sentences: list[str]):
        """Token ids (T, B) padded with 0 and lengths (B,); unknown words map to 1, empty sentences to one <unk>."""
        ids = []
        for sentence in sentences:
            tokens = dataset.tokenize(sentence)[: self.max_seq_len] or ["<unk>"]
            ids.append([self.stoi.get(token, 1) for token in tokens])
        lengths = torch.tensor([len(row) for row in ids])
        batch = torch.zeros(int(lengths.max()), len(ids), dtype=torch.long)
        for column, row in enumerate(ids):
            batch[: len(row), column] = torch.tensor(row)
        return batch, lengths

    def probabilities(self, sentences: list[str], batch_size: int = 256) -> np.ndarray:
        """(N, C) class probabilities (C = number of classes, also for binary models)."""
        out = []
        with torch.no_grad():
            for start in range(0, len(sentences), batch_size):
                tokens, lengths = self.encode(sentences[start:start + batch_size])
                logits = self.model(tokens.to(self.device), lengths)
                if logits.shape[1] == 1:
                    positive = torch.sigmoid(logits)
                    out.append(torch.cat([1 - positive, positive], dim=1))
                else:
                    out.append(torch.softmax(logits, dim=1))
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, len(self.classes)))

    def predict(self, sentences: list[str]) -> list[str]:
        return [self.classes[i] for i in self.probabilities(sentences).argmax(axis=1)]


def show_predictions(predictor: TextPredictor, sentences: list[str], labels: list[str], count: int = 5) -> list[dict]:
    """Print (and return) the predictions for the first few test sentences: what `predict` gives a user."""
    examples = []
    for sentence, label, row in zip(sentences[:count], labels, predictor.probabilities(sentences[:count])):
        predicted = predictor.classes[int(row.argmax())]
        shown = sentence if len(sentence) <= 90 else sentence[:87] + "..."
        print(f"predict {shown!r} -> {predicted} ({row.max():.2f}), actual {label}")
        examples.append({"sentence": shown, "predicted": predicted, "probability": float(row.max()), "actual": label})
    return examples


# --------------------------------------------------------------------------- the <dataset>_<unit>.py scripts

def classifier_parser(description: str, *, unit: str, epochs: int, batch_size: int, lr: float,
                      embedding_dim: int, hidden_dim: int, dropout: float, max_seq_len: int | None,
                      max_vocab: int | None, min_freq: int, pooling: str = "last", clip: float = 5.0,
                      weight_decay: float = 0.0, embeddings: str = "random", freeze_embeddings: bool = False,
                      bidirectional: bool = False, time_limit: float | None = None,
                      glove_vocab: int = dataset.GLOVE_VOCAB, lr_schedule: str = "constant",
                      label_smoothing: float = 0.0) -> argparse.ArgumentParser:
    """The arguments of a <dataset>_<unit>.py script, with that script's tuned values as defaults."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=epochs, batch_size=batch_size, lr=lr)
    util.add_lr_schedule_arg(parser, lr_schedule)
    util.add_label_smoothing_arg(parser, label_smoothing)
    parser.add_argument("--unit", default=unit, choices=list(UNITS), help="recurrent unit")
    parser.add_argument("--embeddings", default=embeddings, choices=EMBEDDINGS,
                        help="random: learned from scratch; glove: initialised from GloVe 6B (then fine-tuned)")
    parser.add_argument("--embedding-dim", type=util.positive(int), default=embedding_dim,
                        help="embedding size for random embeddings (GloVe uses --glove-dim)")
    parser.add_argument("--glove-dim", type=util.positive(int), default=50, help="GloVe vector size")
    parser.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=freeze_embeddings,
                        help="keep the (GloVe) embeddings fixed instead of fine-tuning them")
    dataset.add_glove_args(parser, glove_vocab)
    parser.add_argument("--hidden-dim", type=util.positive(int), default=hidden_dim, help="recurrent state size")
    parser.add_argument("--pooling", default=pooling, choices=["last", "max"],
                        help="classify from the last hidden state or the max over all outputs")
    parser.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=bidirectional,
                        help="the recurrent layer reads each text both ways (twice the work)")
    parser.add_argument("--dropout", type=util.rate, default=dropout, help="dropout on embeddings and features")
    parser.add_argument("--max-seq-len", type=util.positive(int), default=max_seq_len,
                        help="truncate sentences to this many tokens")
    parser.add_argument("--max-vocab", type=util.positive(int), default=max_vocab, help="largest vocabulary")
    parser.add_argument("--min-freq", type=util.positive(int), default=min_freq,
                        help="rarer training words become <unk>")
    parser.add_argument("--clip", type=util.positive(float), default=clip, help="gradient norm clipping")
    parser.add_argument("--weight-decay", type=util.positive(float, zero=True), default=weight_decay,
                        help="Adam L2 penalty")
    parser.add_argument("--valid-fraction", type=float, default=0.1,
                        help="part of the training split held out for choosing the best epoch")
    parser.add_argument("--time-limit", type=util.positive(float), default=time_limit,
                        help="start no epoch that would end after this many seconds of training")
    util.add_threads_arg(parser, 1, why=util.ONE_THREAD)
    return parser


def classifier_args(description: str, argv, tuned: dict, glove: dict | None = None) -> argparse.Namespace:
    """Parse a <dataset>_<unit>.py command line: `tuned` are the defaults, `glove` overrides some of them
    when --embeddings glove is chosen (GloVe vectors want other settings than random ones)."""
    glove = glove or {}
    epilog = ("with --embeddings glove the defaults change to: " + ", ".join(f"{k}={v}" for k, v in glove.items())
              if glove else None)
    parser = classifier_parser(description, **tuned)
    parser.epilog = epilog
    if parser.parse_known_args(argv)[0].embeddings == "glove":
        parser.set_defaults(**glove)
    return parser.parse_args(argv)


def glove_vocabulary(args, dim: int) -> list[str]:
    """GloVe's --glove-vocab most frequent words, to join the vocabulary (none when it is 0, or in a demo without
    a GloVe file): a word no training text has then keeps its GloVe vector instead of becoming <unk>."""
    if args.glove_vocab <= 0:
        return []
    return _unless_a_demo_lacks_glove(lambda: dataset.glove_words(args.glove_vocab, dim, args.data_dir, args.glove),
                                      args.demo, args.glove, "the vocabulary holds the training words only") or []


def load_batches(args, name: str, extra_words=()):
    """The train / valid / test iterators of dataset `name` (its demo stand-in with --demo); the vocabulary is
    the training words, then extra_words."""
    util.check_valid_fraction(args.valid_fraction)
    threads = "; validation holds out whole threads" if name in dataset.THREADED else ""
    print(f"loading {name}{' (demo data)' if args.demo else ''}{threads} ...")
    data = dataset.load_text_iterators(name, args.batch_size, valid_fraction=args.valid_fraction, seed=args.seed,
                                       max_seq_len=getattr(args, "max_seq_len", None), data_dir=args.data_dir,
                                       demo=args.demo, min_freq=getattr(args, "min_freq", 1),
                                       max_vocab=getattr(args, "max_vocab", None), extra_words=extra_words)
    util.check_split(name, len(data.train.sequences), len(data.valid.sequences), args.valid_fraction)
    util.check_vocabulary(len(data.vocab) - 2 - data.vocab.extra, name)  # <pad>, <unk> and GloVe's own words
    return data


def run_classifier(args, script: str, name: str) -> dict:
    """Train, select the best epoch on validation, test once, and write the run folder."""
    util.use_threads(args.threads)
    device = util.get_device(args.device)
    data = load_batches(args, name, glove_vocabulary(args, args.glove_dim) if args.embeddings == "glove" else ())
    data_name = data.name
    vocab_words, classes = list(data.vocab.itos), list(data.classes)
    embedding_dim = args.glove_dim if args.embeddings == "glove" else args.embedding_dim
    hyperparameters = {"vocab_size": len(vocab_words), "embedding_dim": embedding_dim,
                       "hidden_dim": args.hidden_dim, "num_classes": len(classes), "unit": args.unit,
                       "dropout": args.dropout, "pooling": args.pooling, "bidirectional": args.bidirectional,
                       "fixed_words": data.vocab.extra}
    util.set_seed(args.seed)
    model = RNNClassifier(**hyperparameters)
    glove_found = None
    if args.embeddings == "glove":
        glove_found = init_glove(model, vocab_words, args.data_dir, args.glove, args.demo, args.seed)
    start_untrained_unk_at_zero(model, data.vocab)
    # A demo without a GloVe file keeps random embeddings (init_glove said so), with the GloVe settings: say so.
    embeddings = embeddings_used(args.embeddings, glove_found)
    missing = embeddings == util.NO_GLOVE
    model.embedding.weight.requires_grad_(not args.freeze_embeddings)
    run = util.start_run(args, script, data_name, f"{args.unit}_{'glove-missing' if missing else embeddings}")
    extra = f" ({data.vocab.extra:,} of them GloVe's, absent from training, kept fixed)" if data.vocab.extra else ""
    print(f"{args.unit.upper()} classifier, {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(vocab_words):,} words{extra}, {len(classes)} classes, on {device}")

    result = fit(model, data, epochs=args.epochs, lr=args.lr, device=device, clip=args.clip,
                 weight_decay=args.weight_decay, time_limit=args.time_limit, lr_schedule=args.lr_schedule,
                 label_smoothing=args.label_smoothing)
    test = evaluate(model, data.test, device)
    print(f"test accuracy {test['accuracy']:.2%} (best epoch {result['best_epoch']})")

    util.plot_curves(result["curves"], run.path("curves.png"), title=f"{script} on {data_name}",
                     kept=result["best_epoch"])
    util.plot_confus_matrix(test["predictions"], test["labels"], title=f"{script} on {data_name}",
                            size=CONFUSION_CLASSES if len(classes) > CONFUSION_CLASSES else None,
                            class_names=classes, path=run.path("confusion_matrix.png"))
    save_model(run.path("model.pt"), model, hyperparameters, vocab_words, classes, args.max_seq_len, data_name)
    examples = show_predictions(TextPredictor(model.cpu(), vocab_words, classes, args.max_seq_len),
                                *dataset.read_text_split(name, "test", args.data_dir, args.demo))
    return run.finish({"test_accuracy": test["accuracy"], "test_loss": test["loss"],
                       "best_valid_accuracy": result["valid_accuracy"], "best_epoch": result["best_epoch"],
                       "epochs_run": result["epochs_run"], "unit": args.unit, "embeddings": embeddings,
                       "freeze_embeddings": args.freeze_embeddings,
                       "glove_words_found": glove_found, "hyperparameters": hyperparameters,
                       "batch_size": args.batch_size, "lr": args.lr, "lr_schedule": args.lr_schedule,
                       "label_smoothing": args.label_smoothing,
                       "max_seq_len": args.max_seq_len,
                       "threads": torch.get_num_threads(), "examples": examples,
                       "curves": result["curves"]})
