"""Part 2, low-level TensorFlow: the hand-written cells, masking, learning, saving, and every script end to end.

TensorFlow never runs inside the pytest process (TensorFlow and torchvision in one process crash), so the
checks that need it live in `tf_checks` below and run in a subprocess: this file doubles as that script,
`python tests/test_part2_tensorflow.py OUT.json TEXT_MODEL_DIR CIFAR_RUN_DIR GLOVE_MODEL_DIR`. It measures
(differences, accuracies) and the tests here assert on what it wrote.
"""
from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dataset
import util
from conftest import REPO, assert_user_error

PART2 = REPO / "part2_tensorflow"
ENTRY_SCRIPTS = [f"{d}_{u}.py" for d in ("sentiment", "spam", "questions", "newsgroups") for u in ("lstm", "gru")]


# --------------------------------------------------------------------------- the TensorFlow side (subprocess)

def numpy_cell(unit, x, state, W, U, b):
    """One step of the course's equations, gate by gate, in NumPy (float64)."""
    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    H = state[0].shape[1]
    Wg = [W[:, k * H:(k + 1) * H] for k in range(W.shape[1] // H)]
    Ug = [U[:, k * H:(k + 1) * H] for k in range(U.shape[1] // H)]
    bg = [b[k * H:(k + 1) * H] for k in range(len(b) // H)]
    h = state[0]
    if unit == "rnn":
        return (np.tanh(x @ W + h @ U + b),)
    if unit == "lstm":
        c = state[1]
        i = sigmoid(x @ Wg[0] + h @ Ug[0] + bg[0])
        f = sigmoid(x @ Wg[1] + h @ Ug[1] + bg[1])
        o = sigmoid(x @ Wg[2] + h @ Ug[2] + bg[2])
        g = np.tanh(x @ Wg[3] + h @ Ug[3] + bg[3])
        c = f * c + i * g
        return o * np.tanh(c), c
    z = sigmoid(x @ Wg[0] + h @ Ug[0] + bg[0])
    r = sigmoid(x @ Wg[1] + h @ Ug[1] + bg[1])
    n = np.tanh(x @ Wg[2] + (r * h) @ Ug[2] + bg[2])
    return (z * h + (1 - z) * n,)


def tf_checks(out_path: str, text_model_dir: str, cifar_run_dir: str, glove_model_dir: str) -> None:
    sys.path.insert(0, str(PART2))
    import tensorflow as tf

    import cifar_tensorflow
    import text_rnn

    results = {}
    rng = np.random.default_rng(0)
    B, E, H = 5, 7, 6
    for unit, gates in text_rnn.GATES.items():
        x = rng.normal(size=(B, E))
        W, U, b = rng.normal(size=(E, gates * H)), rng.normal(size=(H, gates * H)), rng.normal(size=gates * H)
        state = tuple(rng.normal(size=(B, H)) for _ in range(2 if unit == "lstm" else 1))
        got = text_rnn.CELLS[unit](tf.constant(x @ W + b), tuple(map(tf.constant, state)), tf.constant(U))
        want = numpy_cell(unit, x, state, W, U, b)
        results[f"cell_{unit}"] = max(float(np.max(np.abs(g.numpy() - w))) for g, w in zip(got, want))

    # Masking: a sentence alone, then in a batch padded far beyond it with junk after its end.
    for unit in text_rnn.UNITS:
        model = text_rnn.TextRNN(50, 3, 8, 16, unit, seed=1)
        sentence = np.array([[5, 9, 3, 7]], np.int32)
        alone = model.predict_logits(sentence, np.array([4], np.int32)).numpy()
        batch = rng.integers(1, 50, size=(3, 12)).astype(np.int32)  # junk everywhere, lengths say what is real
        batch[1, :4] = sentence[0]
        padded = model.predict_logits(batch, np.array([12, 4, 9], np.int32)).numpy()
        results[f"masking_{unit}"] = float(np.max(np.abs(padded[1] - alone[0])))
        # ...and the junk is read when the length says it is real: the check above could not pass by accident
        longer = model.predict_logits(batch[1:2], np.array([12], np.int32)).numpy()
        results[f"unmasked_{unit}"] = float(np.max(np.abs(longer[0] - alone[0])))

    # reverse=True reads the real words backwards, padding still ignored
    forward = text_rnn.TextRNN(50, 3, 8, 16, "lstm", seed=1)
    backward = text_rnn.TextRNN(50, 3, 8, 16, "lstm", reverse=True, seed=1)
    batch = np.array([[5, 9, 3, 7, 0, 0], [3, 9, 5, 0, 0, 0]], np.int32)
    lengths = np.array([4, 3], np.int32)
    flipped = np.array([[7, 3, 9, 5, 0, 0], [5, 9, 3, 0, 0, 0]], np.int32)
    results["reverse_diff"] = float(np.max(np.abs(backward.predict_logits(batch, lengths).numpy()
                                                  - forward.predict_logits(flipped, lengths).numpy())))
    results["reverse_masking"] = float(np.max(np.abs(backward.predict_logits(batch[:, :4], lengths).numpy()
                                                     - backward.predict_logits(batch, lengths).numpy())))

    # bidirectional=True: the forward reading's state beside the reverse reading's (second set of weights), both
    # masked; rebuilt from two one-way models holding those weights, each with its half of the output layer
    both = text_rnn.TextRNN(50, 3, 8, 16, "gru", bidirectional=True, seed=1)
    one_way = {name: text_rnn.TextRNN(50, 3, 8, 16, "gru", reverse=name == "back", seed=2) for name in ("on", "back")}
    for name, suffix, rows in (("on", "", slice(0, 16)), ("back", "_back", slice(16, 32))):
        for variable in ("W", "U", "b"):
            getattr(one_way[name], variable).assign(getattr(both, variable + suffix))
        one_way[name].embedding.assign(both.embedding)
        one_way[name].W_out.assign(both.W_out[rows])
        one_way[name].b_out.assign(both.b_out * float(name == "on"))
    results["bidirectional_diff"] = float(np.max(np.abs(
        both.predict_logits(batch, lengths).numpy()
        - sum(model.predict_logits(batch, lengths).numpy() for model in one_way.values()))))
    results["bidirectional_masking"] = float(np.max(np.abs(both.predict_logits(batch[:, :4], lengths).numpy()
                                                           - both.predict_logits(batch, lengths).numpy())))
    results["bidirectional_unlike_one_way"] = float(np.max(np.abs(
        both.predict_logits(batch, lengths).numpy() - one_way["on"].predict_logits(batch, lengths).numpy())))

    # GloVe's words absent from training: ids past the trained rows read the fixed rows, which take no training
    trained_rows, fixed_rows = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))
    model = text_rnn.TextRNN(9, 2, 4, 5, "gru", embedding=trained_rows, fixed_embedding=fixed_rows)
    ids = np.array([[1, 7, 5, 8, 6]], np.int32)
    results["fixed_rows_diff"] = float(np.max(np.abs(
        model.embed(ids).numpy() - np.concatenate([trained_rows, fixed_rows])[ids])))
    results["fixed_rows_trainable"] = [v.name for v in model.trainable_variables if "fixed" in v.name]
    # the script's GloVe model, saved with its fixed rows, classifies the demo test set as the run said
    texts, labels = dataset.read_text_split("sentiment", "test", demo=True)

    def script_model_accuracy(model_dir):
        """Accuracy on the demo test set of a model folder a script saved; its vocabulary and reloaded model."""
        loaded, vocab, settings = text_rnn.load_model(model_dir)
        tokens, lengths = text_rnn.encode_texts(texts, vocab, settings["max_seq_len"])
        predicted = [settings["classes"][i] for i in np.argmax(loaded.predict_logits(tokens, lengths).numpy(), 1)]
        return float(np.mean(np.array(predicted) == np.array(labels))), vocab, loaded
    results["glove_script_reload_accuracy"], vocab, loaded = script_model_accuracy(glove_model_dir)
    results["glove_vocab_tail"] = vocab.itos[-3:]
    # that run is also --bidirectional: the model it saved has the reverse reading's weights, and an output layer
    # over both readings' states (2H rows), whatever its settings.json says
    results["glove_script_back_weights"] = [hasattr(loaded, name) for name in ("W_back", "U_back", "b_back")]
    results["glove_script_output_rows"] = loaded.W_out.shape[0]
    # the plain RNN borrows spam_lstm.py's settings, bidirectional included (text_rnn.py --unit rnn, the groups)
    results["spam_rnn_bidirectional"] = text_rnn.tuned("spam", "rnn").get("bidirectional")

    # Adam's learning rate is read at each step of the traced function, so a schedule can change it
    var = tf.Variable([1.0, -2.0])
    adam = text_rnn.Adam([var], lr=0.1, clip=5.0)
    step = tf.function(lambda grad: adam.apply([grad]), autograph=False)
    step(tf.constant([1.0, -1.0]))
    results["adam_first_step"] = var.numpy().tolist()  # Adam's first step is lr times the gradient's sign
    adam.lr.assign(0.0)
    step(tf.constant([1.0, -1.0]))
    results["adam_step_at_lr_0"] = float(np.max(np.abs(var.numpy() - results["adam_first_step"])))

    # Adam clips the gradients' global norm: after a first step under the clip, a step with gradients of norm 10
    # (clip 5) moves the variables as the same gradients halved do without clipping (Adam's update is not
    # scale-free after a first step, so skipping the clip changes it)
    def two_adam_steps(clip, second):
        a, b = tf.Variable([1.0, -2.0]), tf.Variable([0.5])
        adam = text_rnn.Adam([a, b], lr=0.1, clip=clip)
        adam.apply([tf.constant([0.3, -0.4]), tf.constant([0.0])])  # norm 0.5
        adam.apply([tf.constant(g) for g in second])
        return np.concatenate([a.numpy(), b.numpy()])
    big, halved = ([6.0, 0.0], [8.0]), ([3.0, 0.0], [4.0])  # global norms 10 and 5 (each tensor alone: 6, 8)
    results["clipped_step_diff"] = float(np.max(np.abs(two_adam_steps(5.0, big) - two_adam_steps(1e9, halved))))
    results["unclipped_step_gap"] = float(np.max(np.abs(two_adam_steps(1e9, big) - two_adam_steps(1e9, halved))))

    # train_keeping_best restores the best validation epoch's values: each epoch adds 1 to every variable and
    # validation accuracy goes 0.9, 0.5, 0.6, so the variables must end at their start plus 1
    import tf_training
    kept = [tf.Variable([1.0, 2.0]), tf.Variable(5.0)]

    def add_one(examples):
        for variable in kept:
            variable.assign_add(tf.ones_like(variable))
        return tf.constant(1.0)
    accuracies = iter([0.9, 0.5, 0.6])
    curves, best = tf_training.train_keeping_best(kept, 3, lambda epoch: ([(np.zeros(4),)], 1), add_one,
                                                  lambda: next(accuracies))
    results["kept_best_epoch"], results["kept_valid_accuracy"] = best, curves["valid_accuracy"]
    results["kept_values"] = [variable.numpy().tolist() for variable in kept]
    # the epoch's training loss is per example: batches of 3 and 1 with mean losses 1 and 5 make 2, not 3
    curves, _ = tf_training.train_keeping_best([], 1, lambda epoch: ([(np.zeros(3),), (np.zeros(1),)], 2),
                                               lambda examples: tf.constant(1.0 if len(examples) == 3 else 5.0),
                                               lambda: 0.5)
    results["epoch_loss_per_example"] = curves["train_loss"]
    try:  # a diverged epoch (NaN loss) stops training with one sentence, not a NaN model
        tf_training.train_keeping_best([], 2, lambda epoch: ([(np.zeros(2),)], 1),
                                       lambda examples: tf.constant(np.nan), lambda: 0.5)
        results["diverged"] = "trained on"
    except util.UserError as error:
        results["diverged"] = str(error)

    # Label smoothing: the traced step's loss is (1 - eps) sparse cross-entropy + eps mean over classes of -log p
    model = text_rnn.TextRNN(50, 4, 8, 16, "gru", dropout=0.0, seed=3)  # no dropout: logits computed twice agree
    tokens, lengths = rng.integers(1, 50, size=(6, 5)).astype(np.int32), np.full(6, 5, np.int32)
    targets = np.array([0, 3, 1, 2, 2, 0])
    log_p = tf.nn.log_softmax(model(tokens, lengths, training=True)).numpy()
    want = np.mean(0.8 * -log_p[np.arange(6), targets] + 0.2 * -log_p.mean(axis=1))
    step = text_rnn.make_train_step(model, text_rnn.Adam(model.trainable_variables, 0.0, 5.0), 0.2)
    results["smoothed_loss_diff"] = abs(float(step(tokens, lengths, targets)) - float(want))
    results["plain_loss_gap"] = abs(float(np.mean(-log_p[np.arange(6), targets])) - float(want))

    # Learning: the plain RNN (the LSTM and GRU learn in the scripts' demo runs) on the binary demo task.
    data = dataset.load_text_dataset("sentiment", 20, demo=True)
    keep, held = dataset.stratified_split(data.train_y, 0.1, 0)
    tf.random.set_seed(0)
    model = text_rnn.TextRNN(len(data.vocab), 2, 16, 16, "rnn", seed=0)
    text_rnn.fit(model, (data.train_x[keep], data.train_lengths[keep], data.train_y[keep]),
                 (data.train_x[held], data.train_lengths[held], data.train_y[held]),
                 epochs=8, batch_size=32, lr=0.01, clip=5.0, seed=0)
    pred = text_rnn.predict(model, data.test_x, data.test_lengths)
    results["rnn_demo_accuracy"] = float(np.mean(pred == data.test_y))

    # Save / reload: same logits from the reloaded saved model.
    text_rnn.save_model(model, data.vocab, {"classes": data.classes, "max_seq_len": 20}, Path(out_path).parent / "m")
    loaded, vocab, settings = text_rnn.load_model(Path(out_path).parent / "m")
    tokens, lengths = data.test_x[:50], data.test_lengths[:50].astype(np.int32)
    results["reload_text_diff"] = float(np.max(np.abs(
        loaded.predict_logits(tokens, lengths).numpy() - model.predict_logits(tokens, lengths).numpy())))
    results["reload_vocab_same"] = vocab.itos == data.vocab.itos and settings["classes"] == data.classes

    # The scripts' saved models: the text one classifies the demo test set as well as the run said.
    results["text_script_reload_accuracy"], _, _ = script_model_accuracy(text_model_dir)
    _, (test_x, test_y) = dataset.cifar100(0, demo=True)
    cifar = tf.saved_model.load(str(Path(cifar_run_dir) / "model" / "saved_model"))
    logits = cifar.predict_logits(cifar_tensorflow.to_nhwc(test_x)).numpy()
    results["cifar_reload_accuracy"] = float(np.mean(np.argmax(logits, 1) == test_y))
    results["cifar_weight_shapes"] = [cifar.conv1_w.shape.as_list(), cifar.conv2_w.shape.as_list(),
                                      cifar.dense_w.shape.as_list()]  # 3x3 "same" convolutions: 8x8x32 reach dense
    # padding the last batch: a batch function that only takes 64 images, on 160 (64 + 64 + 32)
    full = np.argmax(logits, 1)

    def strict(batch):
        assert batch.shape[0] == 64, batch.shape
        return cifar.predict_logits(batch)
    results["cifar_padded_same"] = bool(np.array_equal(
        cifar_tensorflow.predict_padded(strict, cifar_tensorflow.to_nhwc(test_x), 64), full))
    Path(out_path).write_text(json.dumps(results))


# --------------------------------------------------------------------------- fixtures: the runs the tests read

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("part2")
    for kind in ("demo_text", "demo_topics", "demo_cifar"):  # once, before scripts run side by side
        dataset.ensure_demo(kind, root / "data")
    # a small GloVe 50d file: three words no demo text has, then demo words, most frequent first like GloVe's
    rng = np.random.default_rng(0)
    lines = [" ".join([word] + [f"{v:.3f}" for v in rng.normal(size=50)])
             for word in ("zzalpha", "zzbeta", "zzgamma", "the", "movie", "great", "awful", "film")]
    (root / "data" / "glove").mkdir()
    (root / "data" / "glove" / "glove.6B.50d.txt").write_text("\n".join(lines) + "\n")
    variables = {**os.environ, "COURSE_DATA_DIR": str(root / "data"), "COURSE_RESULTS_DIR": str(root / "results"),
                 "COURSE_QUIET": "1", "PYTHONUNBUFFERED": "1"}
    return root, variables


def run_side_by_side(env, commands: dict) -> dict:
    """Start every {key: [script, args...]} of part2_tensorflow at once (each pays TensorFlow's start-up,
    so two cores overlap them); returns {key: CompletedProcess}."""
    procs = {key: subprocess.Popen([sys.executable, str(PART2 / argv[0]), *map(str, argv[1:])], cwd=REPO,
                                   env=env[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key, argv in commands.items()}
    results = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[key] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return results


@pytest.fixture(scope="module")
def demo_runs(env):
    """The demo runs the tests read: sentiment LSTM, CIFAR, group 7 (sentiment and questions, GRU), and a
    bidirectional sentiment GRU from GloVe."""
    root = env[0]
    results = run_side_by_side(env, {
        "text": ["sentiment_lstm.py", "--demo", "--lr-schedule", "cosine", "--label-smoothing", "0.05",
                 "--results-dir", root / "sentiment_lstm"],
        "cifar": ["cifar_tensorflow.py", "--demo", "--results-dir", root / "cifar"],
        "group": ["text_rnn.py", "--group", "7", "--demo", "--results-dir", root / "group7"],
        "glove": ["sentiment_gru.py", "--demo", "--embeddings", "glove", "--embedding-dim", "50", "--glove-vocab", "4",
                  "--bidirectional", "--results-dir", root / "glove"],
    })
    for key, result in results.items():
        assert result.returncode == 0, (key, result.stderr[-3000:])
    return {"text": root / "sentiment_lstm", "cifar": root / "cifar", "group": root / "group7",
            "glove": root / "glove", "results": results}


@pytest.fixture(scope="module")
def checks(env, demo_runs):
    out = env[0] / "checks" / "checks.json"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, __file__, str(out), str(demo_runs["text"] / "model"),
                             str(demo_runs["cifar"]), str(demo_runs["glove"] / "model")],
                            capture_output=True, text=True, timeout=300, cwd=REPO, env=env[1])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def command_lines(env, demo_runs):
    """predict.py on the demo model, and bad inputs, all at once."""
    empty = env[0] / "no_data"
    empty.mkdir()
    damaged = {name: shutil.copytree(demo_runs["text"] / "model", env[0] / f"damaged_{name}")
               for name in ("settings", "saved_model")}
    (damaged["settings"] / "settings.json").write_text("")
    (damaged["saved_model"] / "saved_model" / "saved_model.pb").write_bytes(b"not a protocol buffer")
    return run_side_by_side(env, {
        "predict": ["predict.py", "--model-dir", demo_runs["text"] / "model",
                    "--text", "a great wonderful excellent brilliant film", "--text", "awful boring worst dull mess",
                    "--results-dir", env[0] / "predicted"],
        "unit": ["sentiment_lstm.py", "--unit", "transformer"],
        "dataset": ["text_rnn.py", "--dataset", "poems"],
        "data": ["spam_gru.py", "--data-dir", empty],
        "group": ["text_rnn.py", "--group", "99"],
        "model": ["predict.py", "--model-dir", empty, "--text", "hello"],
        "settings": ["predict.py", "--model-dir", damaged["settings"], "--text", "hello"],
        "saved_model": ["predict.py", "--model-dir", damaged["saved_model"], "--text", "hello"],
        "glove": ["questions_lstm.py", "--embeddings", "glove"],
        # a GloVe file sits in the data folder, so only a --glove that is read can fail
        "glove_file": ["sentiment_gru.py", "--demo", "--embeddings", "glove", "--embedding-dim", "50",
                       "--glove", empty / "glove.6B.50d.txt"],
        "no_training_texts": ["sentiment_lstm.py", "--demo", "--valid-fraction", "0.999"],
        "no_words": ["sentiment_lstm.py", "--demo", "--min-freq", "100000"],
        "diverging_rate": ["sentiment_lstm.py", "--demo", "--lr", "1e300"],
        "no_demo_model": ["predict.py", "--demo"],  # the demo runs above went to folders of their own
    })


# --------------------------------------------------------------------------- tests

@pytest.mark.parametrize("unit", ["rnn", "lstm", "gru"])
def test_cell_step_matches_course_equations(checks, unit):
    assert checks[f"cell_{unit}"] < 1e-6


@pytest.mark.parametrize("unit", ["rnn", "lstm", "gru"])
def test_padding_does_not_change_prediction(checks, unit):
    assert checks[f"masking_{unit}"] < 1e-5
    assert checks[f"unmasked_{unit}"] > 1e-4  # the junk after the end does matter when it is declared real


def test_label_smoothing_loss_matches_its_formula(checks):
    assert checks["smoothed_loss_diff"] < 1e-5 and checks["plain_loss_gap"] > 1e-3


def test_reverse_reads_the_real_words_backwards(checks):
    assert checks["reverse_diff"] < 1e-6 and checks["reverse_masking"] < 1e-6


def test_bidirectional_joins_the_forward_and_the_reverse_reading_padding_masked(checks):
    assert checks["bidirectional_diff"] < 1e-5 and checks["bidirectional_masking"] < 1e-6
    assert checks["bidirectional_unlike_one_way"] > 1e-3


def test_glove_words_absent_from_training_read_fixed_rows_and_are_saved(demo_runs, checks):
    assert checks["fixed_rows_diff"] < 1e-6 and checks["fixed_rows_trainable"] == []
    metrics = json.loads((demo_runs["glove"] / "metrics.json").read_text())
    assert metrics["embeddings"] == "glove" and metrics["fixed_words"] == 3  # "the" is a training word
    assert checks["glove_vocab_tail"] == ["zzalpha", "zzbeta", "zzgamma"]
    assert checks["glove_script_reload_accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_a_bidirectional_run_trains_and_saves_a_bidirectional_model(demo_runs, checks):
    settings = json.loads((demo_runs["glove"] / "model" / "settings.json").read_text())
    assert settings["bidirectional"] is True
    assert checks["glove_script_back_weights"] == [True, True, True]
    assert checks["glove_script_output_rows"] == 2 * settings["hidden_dim"]


def test_the_plain_rnn_borrows_the_lstms_bidirectional_setting(checks):
    assert checks["spam_rnn_bidirectional"] is True


def test_adam_reads_its_learning_rate_at_every_step(checks):
    assert checks["adam_first_step"] == pytest.approx([0.9, -1.9], abs=1e-6)
    assert checks["adam_step_at_lr_0"] == 0.0


def test_adam_clips_the_gradients_global_norm_before_its_step(checks):
    assert checks["clipped_step_diff"] < 1e-6
    assert checks["unclipped_step_gap"] > 1e-3  # without the clip the step would differ


def test_training_leaves_the_variables_at_the_best_validation_epoch_not_the_last(checks):
    assert checks["kept_best_epoch"] == 1 and checks["kept_valid_accuracy"] == [0.9, 0.5, 0.6]
    assert checks["kept_values"] == [[2.0, 3.0], 6.0]  # the start plus one epoch, not plus three
    assert checks["epoch_loss_per_example"] == [2.0]


def test_a_diverged_training_stops_with_one_sentence(checks):
    assert checks["diverged"].startswith("training diverged: the training loss of epoch 1 is nan: lower --lr")


def test_rnn_learns_demo_task(checks):
    assert checks["rnn_demo_accuracy"] >= 0.8  # chance is 0.5


def test_saved_model_reloads_and_predicts_the_same(checks):
    assert checks["reload_text_diff"] < 1e-5
    assert checks["reload_vocab_same"]


def test_sentiment_lstm_demo_run(demo_runs, checks):
    folder, result = demo_runs["text"], demo_runs["results"]["text"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["demo"] and metrics["dataset"] == "demo_text" and metrics["model"] == "lstm"
    assert metrics["lr_schedule"] == "cosine" and metrics["label_smoothing"] == 0.05
    assert metrics["test_accuracy"] >= 0.75  # binary demo task, chance 0.5
    assert len(metrics["train_loss"]) == len(metrics["valid_accuracy"]) == metrics["epochs"]
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    for name in ("curves.png", "confusion_matrix.png", "model/vocab.json", "model/settings.json",
                 "model/saved_model/saved_model.pb"):
        assert (folder / name).is_file(), name
    assert "validation accuracy" in result.stdout and "test accuracy" in result.stdout
    assert checks["text_script_reload_accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_predict_prints_class(env, command_lines):
    result = command_lines["predict"]
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "\t" in line]
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1 for line in lines)
    with open(env[0] / "predicted" / "predictions.csv", newline="", encoding="utf-8") as f:
        saved = list(csv.DictReader(f))  # --results-dir keeps what was printed
    assert [(row["predicted"], row["text"]) for row in saved] == [(line.split("\t")[0], line.split("\t")[2])
                                                                   for line in lines]


def test_group_runs_its_datasets_and_unit(demo_runs):
    out = demo_runs["group"]  # group 7: sentiment and questions with the GRU
    text = json.loads((out / "sentiment_gru" / "metrics.json").read_text())
    topics = json.loads((out / "questions_gru" / "metrics.json").read_text())
    assert text["model"] == topics["model"] == "gru"
    assert text["dataset"] == "demo_text" and text["test_accuracy"] >= 0.75
    assert topics["dataset"] == "demo_topics" and topics["test_accuracy"] >= 0.6  # 4 classes, chance 0.25
    assert (out / "questions_gru" / "model" / "saved_model" / "saved_model.pb").is_file()


def test_cifar_demo_run_and_reload(demo_runs, checks):
    metrics = json.loads((demo_runs["cifar"] / "metrics.json").read_text())
    assert metrics["demo"] and metrics["test_accuracy"] >= 0.6  # 4 classes, chance 0.25
    assert (metrics["dataset"], metrics["model"]) == ("demo_cifar100_4classes", None)  # as cifar_pytorch names it
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    assert (demo_runs["cifar"] / "confusion_matrix.png").is_file() and (demo_runs["cifar"] / "curves.png").is_file()
    assert checks["cifar_reload_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert checks["cifar_padded_same"]
    assert checks["cifar_weight_shapes"] == [[3, 3, 3, 16], [3, 3, 16, 32], [8 * 8 * 32, len(metrics["classes"])]]


@pytest.mark.parametrize("case, message", [
    ("unit", "invalid choice: 'transformer'"), ("dataset", "invalid choice: 'poems'"), ("data", "dataset.py"),
    ("group", "no group 99"), ("model", "not a saved text model"), ("glove", "--embedding-dim 50"),
    ("settings", "damaged_settings/settings.json is damaged (not JSON): train again or pass the model folder"),
    ("saved_model", "damaged_saved_model/saved_model/saved_model.pb is damaged (TensorFlow cannot parse it)"),
    ("glove_file", "no_data/glove.6B.50d.txt does not exist"),
    ("no_training_texts", "leaves nothing to train on: lower --valid-fraction"),
    ("no_words", "no training word of sentiment is in the vocabulary"),
    ("diverging_rate", "expected a number <= 100 (larger learning rates only diverge), got 1e300"),
    ("no_demo_model", "run `python part2_tensorflow/sentiment_lstm.py --demo` first")])
def test_bad_inputs_exit_2_with_a_clear_sentence(command_lines, case, message):
    result = command_lines[case]
    if case in ("unit", "dataset", "diverging_rate"):  # argparse's own message and exit code 2
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
    else:
        assert_user_error(result, message)
        # TensorFlow's C++ start-up notices are kept back (util.import_tensorflow_quietly): the sentence stands alone
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_entry_scripts_hold_every_setting_for_their_dataset_and_unit(script):
    tree = ast.parse((PART2 / script).read_text())
    settings = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                    and node.targets[0].id == "HYPERPARAMETERS")
    hp = {k.arg: ast.literal_eval(k.value) for k in settings.keywords}
    rates = {"dropout", "word_dropout", "label_smoothing"}
    assert set(hp) == {"embedding_dim", "hidden_dim", "max_seq_len", "min_freq", "batch_size", "lr", "epochs",
                       "clip", "reverse", "bidirectional", "lr_schedule"} | rates
    assert all(hp[key] > 0 for key in set(hp) - rates - {"reverse", "bidirectional", "lr_schedule"})
    assert all(0 <= hp[key] < 1 for key in rates)
    assert isinstance(hp["reverse"], bool) and isinstance(hp["bidirectional"], bool)
    assert hp["lr_schedule"] in util.LR_SCHEDULES
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "main_for")
    assert [ast.literal_eval(arg) for arg in call.args[:2]] == script[:-3].split("_")


if __name__ == "__main__":
    tf_checks(*sys.argv[1:])
