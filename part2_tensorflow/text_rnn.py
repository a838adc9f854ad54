"""Sentence classification with a hand-written recurrent layer in low-level TensorFlow 2 (part 2).

The shared model and training loop of the `<dataset>_<unit>.py` scripts; run on its own it trains
the datasets and unit of a group from the course's table, with the tuned settings of those scripts:

    python part2_tensorflow/text_rnn.py --group 1            # e.g. sentiment + questions, LSTM
    python part2_tensorflow/text_rnn.py --dataset spam --unit rnn
    python part2_tensorflow/text_rnn.py --group 2 --demo

Model (B batch, T time steps, V vocabulary, E embedding size, H hidden size, C classes):

    tokens (B, T) --tf.nn.embedding_lookup--> x (B, T, E) --recurrent layer--> h at each sequence's
    last real token (B, H) --dense--> logits (B, C) --sparse softmax cross-entropy--> loss

The recurrent layer, from the course's equations (s = sigmoid, * = element-wise product):

    RNN   h_t = tanh(x_t W + h_{t-1} U + b)
    LSTM  i_t = s(x_t W_i + h_{t-1} U_i + b_i)          input gate
          f_t = s(x_t W_f + h_{t-1} U_f + b_f)          forget gate
          o_t = s(x_t W_o + h_{t-1} U_o + b_o)          output gate
          g_t = tanh(x_t W_g + h_{t-1} U_g + b_g)       candidate memory
          c_t = f_t * c_{t-1} + i_t * g_t               memory cell
          h_t = o_t * tanh(c_t)
    GRU   z_t = s(x_t W_z + h_{t-1} U_z + b_z)          update gate
          r_t = s(x_t W_r + h_{t-1} U_r + b_r)          reset gate
          n_t = tanh(x_t W_n + (r_t * h_{t-1}) U_n + b_n)
          h_t = z_t * h_{t-1} + (1 - z_t) * n_t

The gates' matrices sit side by side, W (E, G*H), U (H, G*H), b (G*H,) with G = 1 (RNN), 4 (LSTM: i f o g)
or 3 (GRU: z r n), so the input projections x_t W + b of all time steps are one matrix product before
the loop, and a step costs one product with U (the GRU two, as its reset gate acts before U_n).
The state starts at zero; LSTM forget-gate biases start at 1 so that early training remembers.

Padding is masked, never read as data: at step t a sequence whose length is <= t keeps its state
(tf.where), so the final state is the one after its last real token, whatever the batch is padded to.

The time loop is a tf.while_loop over a TensorArray of the step inputs, inside tf.function. Measured on this
2-core machine (LSTM, B=64, E=H=128, train steps/s as sequences/s): while_loop 1245 (T=50) and 238 (T=200);
tf.scan 1012 and 120 (it stacks every step's state); a Python loop unrolled into the graph 513 and 85, after
4 s and 23 s of tracing. The while_loop is fastest, traces in about a second whatever T is, and one traced
graph serves every batch length, so batches are cut to their longest sequence and bucketed by length: short
batches run few steps. The loop being explicit, the tf.functions are traced with autograph=False: nothing to
convert, and tracing never re-reads the source file. (Indexing the inputs x[t] inside the loop instead of
reading a TensorArray makes the backward pass accumulate a full (T, B, G*H) gradient per step: 74 seq/s at
T=200.)

Training: Adam (written here, a few lines of tf.Variable updates) with gradient clipping by global norm,
dropout on the embeddings and on the final state, optionally word dropout (training words replaced by
<unk>); a validation split carved from the training split (whole threads for newsgroups, see
dataset.validation_split) picks the best epoch; the test split is used once, at the end. Options beyond
the course's model, off unless a script's settings say otherwise: `--reverse` reads each text backwards
(so the state ends on its start: a post's From and Subject lines), `--bidirectional` reads it both ways with
two sets of the layer's weights (the state after its last word beside the state after its first; on in
spam_lstm.py's settings, which `--unit rnn` and this runner's spam LSTM and RNN runs borrow), `--embeddings
glove` starts from GloVe vectors instead of random ones (and, as in part 1, adds GloVe's most frequent words to
the vocabulary at their fixed GloVe vectors: `--glove-vocab`), `--lr-schedule cosine` lowers the learning rate
epoch by epoch, and
`--label-smoothing EPS` trains towards smoothed targets (the sparse cross-entropy plus a uniform term).
The saved model is a tf.saved_model of the tf.Module (signature
`predict_logits(tokens, lengths)`) plus its vocabulary and settings (predict.py).
"""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import numpy as np

import util

util.import_tensorflow_quietly()  # before `import tensorflow`: its start-up notices are noise
import tensorflow as tf  # noqa: E402

import dataset  # noqa: E402
from tf_training import train_keeping_best, use_device

DATASETS = ("sentiment", "spam", "questions", "newsgroups")
UNITS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
DEMO_EPOCHS = 10
CONFUSION_CLASSES = 20  # the course shows the first 20 classes of larger tables


# --------------------------------------------------------------------------- cells: one time step

def rnn_step(xw, state, U):
    """xw: (B, H) = x_t W + b; state: (h,) with h (B, H); U: (H, H). Returns (h_t,)."""
    (h,) = state
    return (tf.tanh(xw + tf.matmul(h, U)),)


def lstm_step(xw, state, U):
    """xw: (B, 4H) = x_t W + b, gates i f o g; state: (h, c) each (B, H); U: (H, 4H). Returns (h_t, c_t)."""
    h, c = state
    i, f, o, g = tf.split(xw + tf.matmul(h, U), 4, axis=1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def gru_step(xw, state, U):
    """xw: (B, 3H) = x_t W + b, gates z r n; state: (h,) with h (B, H); U: (H, 3H). Returns (h_t,)."""
    (h,) = state
    hidden = h.shape[-1] or tf.shape(h)[-1]
    x_zr, x_n = xw[:, :2 * hidden], xw[:, 2 * hidden:]
    z, r = tf.split(tf.sigmoid(x_zr + tf.matmul(h, U[:, :2 * hidden])), 2, axis=1)
    n = tf.tanh(x_n + tf.matmul(r * h, U[:, 2 * hidden:]))
    return (z * h + (1 - z) * n,)


CELLS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


def last_real_state(step, U, xw, lengths, state):
    """Run `step` over time, freezing each sequence after its last real token.

    xw: (T, B, G*H) step inputs x_t W + b; lengths: (B,) int32 in 1..T; state: tuple of (B, H) zeros.
    Returns h (B, H) after step lengths[b] - 1 of sequence b.
    """
    steps = tf.minimum(tf.shape(xw)[0], tf.reduce_max(lengths))
    inputs = tf.TensorArray(xw.dtype, size=tf.shape(xw)[0]).unstack(xw)

    def body(t, state):
        new_state = step(inputs.read(t), state, U)
        real = (t < lengths)[:, None]  # (B, 1): padding from here on for the others
        return t + 1, tuple(tf.where(real, new, old) for new, old in zip(new_state, state))

    _, state = tf.while_loop(lambda t, _: t < steps, body, (tf.constant(0), state))
    return state[0]


# --------------------------------------------------------------------------- the model

def _orthogonal(size, rng):
    q, r = np.linalg.qr(rng.normal(size=(size, size)))
    return q * np.sign(np.diag(r))


class TextRNN(tf.Module):
    """Embedding -> one hand-written recurrent layer -> dense layer over the classes.

    Variables: embedding (V, E), W (E, G*H), U (H, G*H), b (G*H,), W_out (H, C), b_out (C,); with
    bidirectional=True also W_back, U_back, b_back for a second reading from each text's last real word back to
    its first, whose final state joins the first's: W_out (2H, C).
    Training only: word_dropout replaces that share of the real tokens by <unk> (which otherwise never
    occurs in training when every training word is in the vocabulary, yet stands for every unseen word
    at test time); dropout drops embedding units and final-state units. reverse=True reads each text
    backwards, so that the final state is the one after its first words: for long documents whose start
    (a post's From and Subject lines) says the most, the recurrence then need not carry it to the end.
    embedding: optional initial (V, E) matrix (GloVe); by default N(0, 0.1) random, as the course asks.
    fixed_embedding: optional (F, E) vectors of the vocabulary's last F words (ids V .. V+F-1), pretrained words
    that no training text has: a non-trainable variable, so they keep their meaning and cost Adam nothing.
    """

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int, hidden_dim: int,
                 unit: str = "lstm", dropout: float = 0.0, word_dropout: float = 0.0, reverse: bool = False,
                 seed: int = 0, embedding=None, fixed_embedding=None, bidirectional: bool = False):
        super().__init__(name=f"text_{unit}")
        if unit not in CELLS:
            raise ValueError(f"unknown recurrent unit {unit!r}: choose one of {', '.join(UNITS)}")
        rng = np.random.default_rng(seed)
        gates = GATES[unit]
        self.unit, self.hidden_dim, self.dropout, self.word_dropout = unit, hidden_dim, dropout, word_dropout
        self.reverse = reverse
        limit = np.sqrt(6.0 / (embedding_dim + hidden_dim))  # Glorot-uniform for each gate's W
        bias = np.zeros(gates * hidden_dim)
        if unit == "lstm":
            bias[hidden_dim:2 * hidden_dim] = 1.0
        if embedding is None:
            embedding = rng.normal(0, 0.1, (vocab_size, embedding_dim))
        self.embedding = tf.Variable(embedding, dtype=tf.float32, name="embedding")
        self.fixed_embedding = (None if fixed_embedding is None or not len(fixed_embedding) else
                                tf.Variable(fixed_embedding, dtype=tf.float32, trainable=False, name="fixed_embedding"))

        def reading(suffix: str = ""):  # the weights of one reading direction: W, U, b
            return (tf.Variable(rng.uniform(-limit, limit, (embedding_dim, gates * hidden_dim)), dtype=tf.float32,
                                name="W" + suffix),
                    tf.Variable(np.concatenate([_orthogonal(hidden_dim, rng) for _ in range(gates)], axis=1),
                                dtype=tf.float32, name="U" + suffix),
                    tf.Variable(bias, dtype=tf.float32, name="b" + suffix))

        self.W, self.U, self.b = reading()
        self.bidirectional = bidirectional
        if bidirectional:
            self.W_back, self.U_back, self.b_back = reading("_back")
        features = hidden_dim * (2 if bidirectional else 1)
        limit = np.sqrt(6.0 / (features + num_classes))
        self.W_out = tf.Variable(rng.uniform(-limit, limit, (features, num_classes)), dtype=tf.float32,
                                 name="W_out")
        self.b_out = tf.Variable(np.zeros(num_classes), dtype=tf.float32, name="b_out")

    def __call__(self, tokens, lengths, training: bool = False):
        """tokens: (B, T) int32, 0 = padding; lengths: (B,) int32 in 1..T. Returns logits (B, C)."""
        if self.reverse:  # read each text from its last real word back to its first
            tokens = tf.reverse_sequence(tokens, lengths, seq_axis=1, batch_axis=0)
        if training and self.word_dropout:  # some real words become <unk>: its embedding learns to stand in
            dropped = tf.random.uniform(tf.shape(tokens)) < self.word_dropout
            tokens = tf.where(dropped & (tokens != dataset.Vocabulary.PAD), dataset.Vocabulary.UNK, tokens)
        x = self.embed(tokens)                                                  # (B, T, E)
        if training and self.dropout:
            x = tf.nn.dropout(x, self.dropout)
        batch = tf.shape(tokens)[0]
        zeros = tf.zeros([batch, self.hidden_dim])
        state = (zeros, zeros) if self.unit == "lstm" else (zeros,)

        def read(x, W, U, b):
            xw = tf.transpose(tf.tensordot(x, W, axes=1) + b, [1, 0, 2])      # (T, B, G*H)
            return last_real_state(CELLS[self.unit], U, xw, lengths, state)    # (B, H)

        h = read(x, self.W, self.U, self.b)
        if self.bidirectional:
            back = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
            h = tf.concat([h, read(back, self.W_back, self.U_back, self.b_back)], axis=1)   # (B, 2H)
        if training and self.dropout:
            h = tf.nn.dropout(h, self.dropout)
        return tf.matmul(h, self.W_out) + self.b_out

    def embed(self, tokens):
        """Embedding rows of tokens (B, T): (B, T, E); ids past the trained rows read fixed_embedding."""
        if self.fixed_embedding is None:
            return tf.nn.embedding_lookup(self.embedding, tokens)
        trained = tf.shape(self.embedding)[0]
        own = tf.nn.embedding_lookup(self.embedding, tf.minimum(tokens, trained - 1))
        fixed = tf.nn.embedding_lookup(self.fixed_embedding, tf.maximum(tokens - trained, 0))
        return tf.where((tokens < trained)[..., None], own, fixed)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)],
                 autograph=False)
    def predict_logits(self, tokens, lengths):
        """The saved model's entry point: logits (B, C) for padded tokens (B, T) and lengths (B,)."""
        return self(tokens, lengths)


# --------------------------------------------------------------------------- training

class Adam(tf.Module):
    """Adam (Kingma & Ba) on a list of tf.Variables, gradients clipped to a global norm first.

    lr is a tf.Variable, so that a schedule can change it between steps without retracing the step."""

    def __init__(self, variables, lr: float, clip: float, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.variables_, self.clip = list(variables), clip
        self.lr = tf.Variable(lr, dtype=tf.float32, trainable=False)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [tf.Variable(tf.zeros_like(v)) for v in self.variables_]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in self.variables_]
        self.step = tf.Variable(0.0)

    def apply(self, grads):
        grads, _ = tf.clip_by_global_norm([tf.convert_to_tensor(g) for g in grads], self.clip)
        self.step.assign_add(1.0)
        lr = self.lr * tf.sqrt(1 - self.beta2 ** self.step) / (1 - self.beta1 ** self.step)
        for var, g, m, v in zip(self.variables_, grads, self.m, self.v):
            m.assign(self.beta1 * m + (1 - self.beta1) * g)
            v.assign(self.beta2 * v + (1 - self.beta2) * tf.square(g))
            var.assign_sub(lr * m / (tf.sqrt(v) + self.eps))


BATCH_SIGNATURE = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32),
                   tf.TensorSpec([None], tf.int64)]


def make_train_step(model: TextRNN, optimizer: Adam, label_smoothing: float = 0.0):
    """A tf.function doing one Adam step on a batch; returns the mean loss.

    label_smoothing eps: the target is 1 - eps on the true class plus eps spread evenly over the classes,
    which is the sparse cross-entropy weighted 1 - eps plus eps times the mean of -log p over the classes."""
    @tf.function(input_signature=BATCH_SIGNATURE, autograph=False)
    def train_step(tokens, lengths, labels):
        with tf.GradientTape() as tape:
            logits = model(tokens, lengths, training=True)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            if label_smoothing:  # a Python number: decided once, when the step is traced
                uniform = -tf.reduce_mean(tf.nn.log_softmax(logits), axis=1)
                loss = (1 - label_smoothing) * loss + label_smoothing * uniform
            loss = tf.reduce_mean(loss)
        optimizer.apply(tape.gradient(loss, model.trainable_variables))
        return loss
    return train_step


def batches(x, lengths, y, batch_size: int, rng=None):
    """Yield (tokens (b, t), lengths (b,), labels (b,), indices (b,)), tokens cut to the batch's longest.

    With rng: shuffled, and sorted by length within pools of 50 batches (similar lengths share a batch, so
    few steps are wasted on padding) before the batch order is shuffled. Without: in length order.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        pool = 50 * batch_size
        order = rng.permutation(n)
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in np.split(order, range(pool, n, pool))])
    starts = np.arange(0, n, batch_size)
    if rng is not None:
        rng.shuffle(starts)
    for start in starts:
        idx = order[start:start + batch_size]
        longest = int(lengths[idx].max())
        yield x[idx, :longest], lengths[idx].astype(np.int32), y[idx], idx


def predict(model: TextRNN, x, lengths, batch_size: int = 256) -> np.ndarray:
    """Predicted class ids (N,) for padded tokens x (N, T) and lengths (N,)."""
    pred = np.zeros(len(lengths), dtype=np.int64)
    for tokens, lens, _, idx in batches(x, lengths, np.zeros(len(lengths), np.int64), batch_size):
        pred[idx] = np.argmax(model.predict_logits(tokens, lens).numpy(), axis=1)
    return pred


def fit(model: TextRNN, train, valid, epochs: int, batch_size: int, lr: float, clip: float, seed: int,
        desc: str = "train", lr_schedule: str = "constant", label_smoothing: float = 0.0):
    """Train on `train` = (x, lengths, y), keep the weights of the epoch with the best accuracy on `valid`.

    lr_schedule: each epoch's learning rate (util.epoch_lr). label_smoothing: see make_train_step.
    Returns the curves {"train_loss": [...], "valid_accuracy": [...]} and the best epoch (1-based).
    """
    optimizer = Adam(model.trainable_variables, lr, clip)
    train_step = make_train_step(model, optimizer, label_smoothing)
    rng = np.random.default_rng(seed)
    num_batches = -(-len(train[1]) // batch_size)

    def epoch_batches(epoch):
        optimizer.lr.assign(util.epoch_lr(lr, epoch, epochs, lr_schedule))
        return ((tokens, lens, labels) for tokens, lens, labels, _ in batches(*train, batch_size, rng)), num_batches

    return train_keeping_best(model.trainable_variables, epochs, epoch_batches, train_step,
                              lambda: np.mean(predict(model, valid[0], valid[1]) == valid[2]), desc)


# --------------------------------------------------------------------------- saving and loading

def save_model(model: TextRNN, vocab: dataset.Vocabulary, settings: dict, directory) -> None:
    """Write directory/{saved_model/, vocab.json, settings.json} atomically (built beside, then renamed)."""
    with util.atomic_dir(directory) as scratch:
        tf.saved_model.save(model, str(scratch / "saved_model"))
        vocab.save(scratch / "vocab.json")
        util.save_json(settings, scratch / "settings.json")


def load_model(directory):
    """(loaded tf.Module with .predict_logits(tokens, lengths), vocabulary, settings) saved by save_model.

    A missing or damaged file of the folder is a user error naming it."""
    directory = Path(directory)
    needed = [directory / "saved_model" / "saved_model.pb", directory / "vocab.json", directory / "settings.json"]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        util.fail(f"{directory} is not a saved text model (no {', '.join(missing)}): pass the model folder "
                  f"written by a training run, e.g. results/tf_sentiment_lstm/sentiment_lstm/model")
    again = "train again or pass the model folder of another run"

    def read_json(path, read=json.loads):
        try:
            return read(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            util.fail(f"{path} is damaged (not JSON): {again}")

    settings = read_json(directory / "settings.json")
    if not isinstance(settings, dict) or not {"classes", "max_seq_len"} <= settings.keys():
        util.fail(f"{directory / 'settings.json'} lacks the classes or max_seq_len of the model: {again}")
    vocab = read_json(directory / "vocab.json", dataset.Vocabulary.from_json)
    try:
        loaded = tf.saved_model.load(str(directory / "saved_model"))
    except OSError:  # TensorFlow's "Cannot parse file .../saved_model.pb"
        util.fail(f"{directory / 'saved_model' / 'saved_model.pb'} is damaged (TensorFlow cannot parse it): {again}")
    except tf.errors.OpError:  # a truncated or corrupt checkpoint of the weights
        util.fail(f"the weights in {directory / 'saved_model' / 'variables'} are damaged (TensorFlow cannot read "
                  f"them): {again}")
    return loaded, vocab, settings


def encode_texts(texts, vocab: dataset.Vocabulary, max_seq_len: int):
    """Tokenise and pad like the training data: (tokens (N, T) int32, lengths (N,) int32)."""
    ids = dataset.encode_all(texts, vocab, max_seq_len)
    tokens, lengths = dataset.pad(ids, max(len(i) for i in ids))
    return tokens, lengths.astype(np.int32)


# --------------------------------------------------------------------------- command line

def add_model_args(parser: argparse.ArgumentParser, hp: dict, unit: str) -> None:
    """The options of a text run, with `hp` (one entry script's tuned settings) as defaults."""
    util.add_common_args(parser, epochs=hp["epochs"], batch_size=hp["batch_size"], lr=hp["lr"])
    util.add_lr_schedule_arg(parser, hp["lr_schedule"])
    util.add_label_smoothing_arg(parser, hp["label_smoothing"])
    parser.add_argument("--unit", choices=UNITS, default=unit, help="recurrent unit")
    parser.add_argument("--embedding-dim", type=util.positive(), default=hp["embedding_dim"], help="embedding size E")
    parser.add_argument("--hidden-dim", type=util.positive(), default=hp["hidden_dim"], help="hidden size H")
    parser.add_argument("--max-seq-len", type=util.positive(), default=hp["max_seq_len"],
                        help="texts are cut to this many tokens")
    parser.add_argument("--min-freq", type=util.positive(), default=hp["min_freq"],
                        help="rarer training tokens become <unk>")
    parser.add_argument("--dropout", type=float, default=hp["dropout"],
                        help="dropout rate on the embeddings and the final state")
    parser.add_argument("--embeddings", choices=["random", "glove"], default="random",
                        help="initial embeddings: random (the course's model) or GloVe 6B 50d (needs "
                             "--embedding-dim 50, and the vectors: see --glove)")
    dataset.add_glove_args(parser)
    parser.add_argument("--word-dropout", type=float, default=hp["word_dropout"],
                        help="share of training tokens replaced by <unk>")
    parser.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=hp["reverse"],
                        help="read each text backwards (its start is read last)")
    parser.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=hp["bidirectional"],
                        help="also read each text backwards, with a second set of the layer's weights")
    parser.add_argument("--clip", type=util.positive(float), default=hp["clip"], help="gradient global-norm limit")
    parser.add_argument("--valid-fraction", type=float, default=0.1,
                        help="share of the training split held out to pick the best epoch")
    util.add_threads_arg(parser, library="TensorFlow")
    parser.epilog = f"With --demo the default is {DEMO_EPOCHS} epochs."


def check_args(args) -> None:
    for name in ("dropout", "word_dropout"):
        if not 0 <= getattr(args, name) < 1:
            util.fail(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}")
    if args.embeddings == "glove" and args.embedding_dim != 50:
        util.fail(f"--embeddings glove gives 50-d vectors but --embedding-dim is {args.embedding_dim}: "
                  f"add --embedding-dim 50")
    util.check_valid_fraction(args.valid_fraction)


def run(args, dataset_name: str, hp: dict, script: str) -> dict:
    """Train, pick the best epoch on validation, test once, write plots, metrics and the saved model."""
    epochs = args.epochs or (DEMO_EPOCHS if args.demo else hp["epochs"])
    print(f"loading {dataset_name}{' (demo data)' if args.demo else ''}")
    glove_words = []
    if args.embeddings == "glove" and args.glove_vocab > 0:
        glove_words = dataset.glove_words(args.glove_vocab, 50, args.data_dir, args.glove)
    data = dataset.load_text_dataset(dataset_name, args.max_seq_len, data_dir=args.data_dir, demo=args.demo,
                                     min_freq=args.min_freq, valid_fraction=args.valid_fraction, seed=args.seed,
                                     extra_words=glove_words)
    keep, held = data.keep, data.held
    util.check_split(dataset_name, len(keep), len(held), args.valid_fraction)
    util.check_vocabulary(len(data.vocab) - 2 - data.vocab.extra, dataset_name)  # <pad>, <unk>, GloVe's words
    train = (data.train_x[keep], data.train_lengths[keep], data.train_y[keep])
    valid = (data.train_x[held], data.train_lengths[held], data.train_y[held])
    threads = " (whole threads)" if dataset_name in dataset.THREADED else ""
    print(f"{data.name}: {len(keep)} train, {len(held)} validation{threads}, {len(data.test_y)} test texts, "
          f"{len(data.classes)} classes, vocabulary {len(data.vocab)}")

    embedding = fixed = None
    if args.embeddings == "glove":
        embedding, found = dataset.load_glove(data.vocab, 50, data_dir=args.data_dir, path=args.glove,
                                              seed=args.seed)
        trained = len(data.vocab) - data.vocab.extra
        embedding, fixed = embedding[:trained], embedding[trained:]
        extra = f" ({data.vocab.extra} of them GloVe's, absent from training, kept fixed)" if data.vocab.extra else ""
        print(f"GloVe knows {found} of the {len(data.vocab)} vocabulary words{extra}")

    args.epochs = epochs
    run_ = util.start_run(args, script, data.name, args.unit)
    tf.random.set_seed(args.seed)
    model = TextRNN(len(data.vocab), len(data.classes), args.embedding_dim, args.hidden_dim, args.unit,
                    args.dropout, args.word_dropout, args.reverse, args.seed, embedding, fixed, args.bidirectional)
    curves, best_epoch = fit(model, train, valid, epochs, args.batch_size, args.lr, args.clip, args.seed,
                             desc=f"{data.name} {args.unit}", lr_schedule=args.lr_schedule,
                             label_smoothing=args.label_smoothing)

    pred = predict(model, data.test_x, data.test_lengths)
    test_accuracy = float(np.mean(pred == data.test_y))
    print(f"test accuracy {test_accuracy:.2%} ({len(pred)} texts)")
    title = f"{script} on {data.name} ({'bidirectional ' * args.bidirectional}{args.unit.upper()}, TensorFlow)"
    util.plot_curves(curves, run_.path("curves.png"), title=title, kept=best_epoch)
    util.plot_confus_matrix(pred, data.test_y, title=title,
                            size=CONFUSION_CLASSES if len(data.classes) > CONFUSION_CLASSES else None,
                            class_names=data.classes, path=run_.path("confusion_matrix.png"))
    settings = {"dataset": data.name, "unit": args.unit, "classes": data.classes, "max_seq_len": args.max_seq_len,
                "embedding_dim": args.embedding_dim, "hidden_dim": args.hidden_dim, "reverse": args.reverse,
                "bidirectional": args.bidirectional}
    save_model(model, data.vocab, settings, run_.path("model"))
    return run_.finish({"test_accuracy": test_accuracy, "best_epoch": best_epoch,
                        "best_valid_accuracy": max(curves["valid_accuracy"]), **curves,
                        "hyperparameters": {k: getattr(args, k) for k in hp if hasattr(args, k)},
                        "lr_schedule": args.lr_schedule, "label_smoothing": args.label_smoothing,
                        "embeddings": args.embeddings, "fixed_words": data.vocab.extra,
                        "vocab_size": len(data.vocab), "demo": args.demo})


def main_for(dataset_name: str, unit: str, hp: dict, script: str, doc: str | None = None) -> None:
    """The whole of an entry script `<dataset>_<unit>.py`: its parser, defaults `hp`, one run."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_args(parser, hp, unit)
    args = util.parse_args(parser, epochs=DEMO_EPOCHS)
    check_args(args)
    use_device(args.device)
    util.use_threads(args.threads, "tensorflow")
    run(args, dataset_name, hp, script)


def tuned(dataset_name: str, unit: str) -> dict:
    """The tuned settings of `<dataset>_<unit>.py` (the plain RNN borrows the LSTM's)."""
    return importlib.import_module(f"{dataset_name}_{'gru' if unit == 'gru' else 'lstm'}").HYPERPARAMETERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--group", type=int, default=None,
                        help="run the two text datasets and the unit of this group (util.GROUPS)")
    parser.add_argument("--dataset", choices=DATASETS, default=None, help="run one dataset (instead of --group)")
    parser.add_argument("--unit", choices=UNITS, default=None, help="recurrent unit (default: the group's, or lstm)")
    util.add_common_args(parser, epochs=None,
                         results_help="parent folder of the runs' outputs, one folder per dataset "
                                      "(default: results/tf_text_rnn/<dataset>_<unit>/)")
    parser.epilog = f"Without --epochs each dataset trains its script's tuned epochs ({DEMO_EPOCHS} with --demo)."
    util.add_threads_arg(parser, library="TensorFlow")
    args = parser.parse_args()
    if (args.group is None) == (args.dataset is None):
        util.fail("give either --group N (the group's datasets and unit) or --dataset NAME")
    if args.group is not None:
        group = util.group_settings(args.group)
        datasets, unit = group["text_datasets"], args.unit or group["unit"]
        print(f"group {args.group}: {', '.join(datasets)} with {unit.upper()}")
    else:
        datasets, unit = [args.dataset], args.unit or "lstm"
    use_device(args.device)
    util.use_threads(args.threads, "tensorflow")
    for name in datasets:
        hp = tuned(name, unit)
        run_parser = argparse.ArgumentParser()
        add_model_args(run_parser, hp, unit)
        run_args = run_parser.parse_args([])
        run_args.seed, run_args.epochs, run_args.data_dir, run_args.demo, run_args.threads, run_args.device = \
            args.seed, args.epochs, args.data_dir, args.demo, args.threads, args.device
        if args.results_dir:
            run_args.results_dir = str(Path(args.results_dir) / f"{name}_{unit}")
        check_args(run_args)
        run(run_args, name, hp, "tf_text_rnn")


if __name__ == "__main__":
    util.run_main(main)
