"""Part 1 text (PyTorch): batches, packing, learning, GloVe, saving/predicting, the char model, CLI errors."""
import copy
import csv
import json
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PART1 = REPO / "part1_pytorch"
sys.path.insert(0, str(PART1))

import char_rnn  # noqa: E402
import dataset  # noqa: E402
import text_models  # noqa: E402
from char_rnn import CharRNN, export_scripted, load_scripted, sample_text  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small recurrent batches gain nothing from a second thread and lose a lot when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def script(name, *args, data_dir, timeout=240):
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "COURSE_QUIET": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(PART1 / name), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


def demo_batches(data_dir, name="sentiment", batch_size=16, seed=0):
    return dataset.load_text_iterators(name, batch_size, valid_fraction=0.2, seed=seed, data_dir=data_dir, demo=True)


# --------------------------------------------------------------------------- batches

def test_batches_are_sequence_first_padded_and_deterministic(data_dir):
    data = demo_batches(data_dir)
    batches = list(data.train)
    assert sum(len(b.label) for b in batches) == 256  # 320 demo sentences minus the 20% validation split
    for batch in batches:
        T, B = batch.sentence.shape
        assert batch.sentence.dtype == torch.long and batch.label.shape == (B,) and batch.lengths.shape == (B,)
        assert int(batch.lengths.max()) == T and int(batch.lengths.min()) >= 1
        steps = torch.arange(T).unsqueeze(1)
        assert torch.all(batch.sentence[steps >= batch.lengths] == 0)   # padding after the end
        assert torch.all(batch.sentence[steps < batch.lengths] != 0)    # no padding id inside a sentence
    again = list(demo_batches(data_dir).train)
    assert all(torch.equal(a.sentence, b.sentence) and torch.equal(a.label, b.label) for a, b in zip(batches, again))
    other_seed = list(demo_batches(data_dir, seed=1).train)
    assert not all(torch.equal(a.label, b.label) for a, b in zip(batches, other_seed))


# --------------------------------------------------------------------------- models

@pytest.mark.parametrize("unit", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_the_output(unit, pooling, bidirectional):
    torch.manual_seed(0)
    model = text_models.RNNClassifier(30, 8, 12, 3, unit=unit, pooling=pooling, bidirectional=bidirectional).eval()
    lengths = torch.tensor([6, 2, 4, 1])
    sentence = torch.randint(2, 30, (6, 4))
    sentence[torch.arange(6).unsqueeze(1) >= lengths] = 0
    batched = model(sentence, lengths)
    alone = torch.cat([model(sentence[:n, i:i + 1], lengths[i:i + 1]) for i, n in enumerate(lengths.tolist())])
    assert batched.shape == (4, 3)
    torch.testing.assert_close(batched, alone, atol=1e-6, rtol=1e-5)
    # whatever is written in the padding positions is ignored
    noisy = sentence.clone()
    noisy[torch.arange(6).unsqueeze(1) >= lengths] = 7
    torch.testing.assert_close(model(noisy, lengths), batched)


@pytest.mark.parametrize("unit", ["lstm", "gru"])
def test_bidirectional_last_state_is_forward_end_and_backward_start(unit):
    torch.manual_seed(0)
    model = text_models.RNNClassifier(30, 8, 12, 3, unit=unit, bidirectional=True).eval()
    captured = {}
    model.fc.register_forward_hook(lambda module, inputs, output: captured.update(features=inputs[0]))
    sentence, lengths = torch.randint(2, 30, (5, 2)), torch.tensor([5, 3])
    sentence[3:, 1] = 0
    model(sentence, lengths)
    for column, n in enumerate(lengths.tolist()):
        outputs, _ = model.rnn(model.embedding(sentence[:n, column:column + 1]))  # (n, 1, 2H), unpadded
        expected = torch.cat([outputs[-1, 0, :12], outputs[0, 0, 12:]])
        torch.testing.assert_close(captured["features"][column], expected, atol=1e-6, rtol=1e-5)


def test_gradients_reach_every_parameter():
    model = text_models.RNNClassifier(20, 4, 5, 2, unit="lstm")
    sentence, lengths = torch.randint(1, 20, (5, 3)), torch.tensor([5, 3, 1])
    torch.nn.functional.cross_entropy(model(sentence, lengths), torch.tensor([0, 1, 1])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_bag_of_words_is_binary_and_ignores_padding():
    model = text_models.BagOfWords(10, 1)
    with torch.no_grad():
        model.fc.weight.copy_(torch.arange(10.0).unsqueeze(0) + 100)  # the padding id 0 weighs 100, not 0
        model.fc.bias.zero_()
    sentence = torch.tensor([[3, 5], [3, 0], [4, 0]])  # (T=3, B=2): "3 3 4" and "5"
    assert model(sentence, torch.tensor([3, 1])).squeeze(1).tolist() == [207.0, 105.0]


@pytest.mark.parametrize("build", [lambda: text_models.AverageEmbedding(30, 8, 3),
                                   lambda: text_models.BagOfWords(30, 3)], ids=["avg", "bow"])
def test_padding_never_changes_the_output_of_the_baselines(build):
    # each sentence alone (no padding) must give what it gives in a batch padded to the longest one:
    # the average divides by the true length, the bag of words does not count the padding id
    torch.manual_seed(0)
    model = build().eval()  # random weights: the bag of words' weight for the padding id 0 is not zero
    lengths = torch.tensor([6, 2, 4, 1])
    sentence = torch.randint(2, 30, (6, 4))
    sentence[torch.arange(6).unsqueeze(1) >= lengths] = 0
    batched = model(sentence, lengths)
    alone = torch.cat([model(sentence[:n, i:i + 1], lengths[i:i + 1]) for i, n in enumerate(lengths.tolist())])
    torch.testing.assert_close(batched, alone, atol=1e-6, rtol=1e-5)


LEARNERS = {
    "rnn": lambda v, c: text_models.RNNClassifier(v, 16, 32, c, unit="rnn"),
    "lstm": lambda v, c: text_models.RNNClassifier(v, 16, 32, c, unit="lstm"),
    "gru": lambda v, c: text_models.RNNClassifier(v, 16, 32, c, unit="gru"),
    "bow": lambda v, c: text_models.BagOfWords(v, c),
    "avg": lambda v, c: text_models.AverageEmbedding(v, 16, c),
}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_each_model_learns_the_demo_task(name, data_dir):
    torch.manual_seed(0)
    data = demo_batches(data_dir, batch_size=16)
    binary = name in ("bow", "avg")  # the baselines train with BCE on one logit, the RNNs with 2-way softmax
    model = LEARNERS[name](len(data.vocab), 1 if binary else len(data.classes))
    result = text_models.fit(model, data, epochs=6, lr=1e-2, device=torch.device("cpu"))
    assert len(result["curves"]["valid_accuracy"]) == 6
    assert result["valid_accuracy"] == max(result["curves"]["valid_accuracy"])
    assert result["curves"]["train_loss"][-1] < result["curves"]["train_loss"][0]
    assert text_models.evaluate(model, data.test)["accuracy"] > 0.75  # chance is 0.5


def test_lstm_learns_the_four_topics(data_dir):
    torch.manual_seed(0)
    data = demo_batches(data_dir, "questions", batch_size=16)
    model = text_models.RNNClassifier(len(data.vocab), 16, 32, len(data.classes), unit="lstm")
    text_models.fit(model, data, epochs=6, lr=1e-2, device=torch.device("cpu"))
    assert len(data.classes) == 4
    assert text_models.evaluate(model, data.test)["accuracy"] > 0.6  # chance is 0.25


def test_fit_sets_each_epochs_learning_rate_from_the_schedule(data_dir, monkeypatch):
    seen = []

    def record(model, batches, optimizer, device, clip, desc="", label_smoothing=0.0):
        seen.append([group["lr"] for group in optimizer.param_groups])
        smoothing.append(label_smoothing)
        return {"loss": 1.0, "accuracy": 0.5}
    smoothing = []
    monkeypatch.setattr(text_models, "train_epoch", record)
    monkeypatch.setattr(text_models, "evaluate", lambda model, batches, device: {"loss": 1.0, "accuracy": 0.5})
    data = demo_batches(data_dir, batch_size=16)
    model = text_models.RNNClassifier(len(data.vocab), 8, 8, len(data.classes), unit="gru")
    text_models.fit(model, data, epochs=4, lr=0.01, device=torch.device("cpu"), lr_schedule="cosine")
    assert [lrs[0] for lrs in seen] == pytest.approx([0.01, 0.01 * (1 + 2 ** -0.5) / 2, 0.005,
                                                      0.01 * (1 - 2 ** -0.5) / 2])
    seen.clear()
    text_models.fit(model, data, epochs=3, lr=0.01, device=torch.device("cpu"), label_smoothing=0.1)
    assert seen == [[0.01]] * 3
    assert smoothing == [0.0] * 4 + [0.1] * 3  # evaluate (patched above) takes none: it reports the plain loss


def test_fit_leaves_the_model_at_its_best_validation_epoch_not_its_last(monkeypatch):
    # every "epoch" moves every weight by +1 (in place, as an optimiser does); validation accuracy is
    # 0.9, 0.5, 0.6, so the weights to keep are those after epoch 1: the start plus 1, not plus 3
    def step_every_weight(model, batches, optimizer, device, clip, desc="", label_smoothing=0.0):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(1.0)
        return {"loss": 1.0, "accuracy": 0.5}
    accuracies = iter([0.9, 0.5, 0.6])
    monkeypatch.setattr(text_models, "train_epoch", step_every_weight)
    monkeypatch.setattr(text_models, "evaluate",
                        lambda model, batches, device: {"loss": 1.0, "accuracy": next(accuracies)})
    torch.manual_seed(0)
    model = text_models.RNNClassifier(12, 4, 5, 2, unit="gru")
    start = {name: value.clone() for name, value in model.state_dict().items()}
    result = text_models.fit(model, SimpleNamespace(train=[], valid=[]), epochs=3, lr=0.01,
                             device=torch.device("cpu"))
    assert result["best_epoch"] == 1 and result["valid_accuracy"] == 0.9 and result["epochs_run"] == 3
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, start[name] + 1, msg=name)


def test_label_smoothing_mixes_the_true_class_with_a_uniform_target():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 5), torch.tensor([0, 4, 2, 2, 1, 3])
    log_p = torch.log_softmax(logits, dim=1)
    plain = -log_p[torch.arange(6), labels].mean()
    smoothed, predicted = text_models._loss_and_predictions(logits, labels, 0.2)
    assert smoothed.item() == pytest.approx((0.8 * plain - 0.2 * log_p.mean(dim=1).mean()).item(), rel=1e-6)
    assert text_models._loss_and_predictions(logits, labels)[0].item() == pytest.approx(plain.item(), rel=1e-6)
    assert predicted.tolist() == logits.argmax(dim=1).tolist()
    binary, labels = torch.randn(6, 1), torch.tensor([0, 1, 1, 0, 1, 0])  # targets 0.1 / 0.9
    p = torch.sigmoid(binary.squeeze(1))
    target = 0.1 + 0.8 * labels.float()
    expected = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    assert text_models._loss_and_predictions(binary, labels, 0.2)[0].item() == pytest.approx(expected.item(), rel=1e-5)


def test_saved_model_predicts_the_same(tmp_path, data_dir):
    torch.manual_seed(0)
    data = demo_batches(data_dir)
    hyper = {"vocab_size": len(data.vocab), "embedding_dim": 8, "hidden_dim": 8, "num_classes": 2, "unit": "gru"}
    model = text_models.RNNClassifier(**hyper).eval()
    text_models.save_model(tmp_path / "model.pt", model, hyper, data.vocab.itos, data.classes, None, "demo_text")
    loaded = text_models.TextPredictor.load(tmp_path)
    sentences = ["a wonderful film .", "boring and awful", "", "zzzz unknown words"]
    encoded = text_models.TextPredictor(model, data.vocab.itos, data.classes).encode(sentences)
    expected = torch.softmax(model(*encoded), 1)
    np.testing.assert_allclose(loaded.probabilities(sentences), expected.detach().numpy(), atol=1e-6)
    assert loaded.classes == ["neg", "pos"]
    # the encoding itself, checked against the vocabulary by hand: a known word reads its id, an unknown
    # word <unk> (1), an empty text one <unk>, and the shorter text is padded with 0
    itos = data.vocab.itos
    assert "wonderful" in itos and "zzzz" not in itos
    tokens, lengths = loaded.encode(["zzzz wonderful", ""])
    assert tokens.tolist() == [[1, 1], [itos.index("wonderful"), 0]] and lengths.tolist() == [2, 1]


# --------------------------------------------------------------------------- GloVe

def test_glove_loader_on_a_tiny_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("the 0.1 0.2 0.3\nfilm -1 0 1\nunused 9 9 9\n")
    words = ["<pad>", "<unk>", "the", "film", "zzz"]
    matrix, found = dataset.load_glove(words, dim=3, path=path)
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32 and found == 2
    np.testing.assert_allclose(matrix[2], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(matrix[3], [-1, 0, 1])
    assert not matrix[0].any() and matrix[4].any()  # padding is zero, an unknown word random
    model = text_models.AverageEmbedding(5, 3)
    assert text_models.init_glove(model, words, path=path) == 2
    torch.testing.assert_close(model.embedding.weight[3], torch.tensor([-1.0, 0.0, 1.0]))
    with pytest.raises(dataset.DatasetError, match="expected 4"):
        dataset.load_glove(words, dim=4, path=path)
    path.write_text("the 0.1 0.2 0.3\nfilm 0.5 oops 1\n")
    with pytest.raises(dataset.DatasetError, match=":2 "):
        dataset.load_glove(words, dim=3, path=path)


def test_only_a_demo_may_go_without_glove_and_only_when_no_file_was_named(tmp_path, capsys):
    import argparse
    words = ["<pad>", "<unk>", "the"]
    model = text_models.AverageEmbedding(3, 50)
    before = model.embedding.weight.detach().clone()
    assert text_models.init_glove(model, words, data_dir=tmp_path, demo=True) is None
    torch.testing.assert_close(model.embedding.weight, before)
    args = argparse.Namespace(glove_vocab=10, data_dir=str(tmp_path), glove=None, demo=True)
    assert text_models.glove_vocabulary(args, 50) == []
    assert "keeping random embeddings" in capsys.readouterr().out
    with pytest.raises(dataset.DatasetError, match="no GloVe 50d vectors"):
        text_models.init_glove(model, words, data_dir=tmp_path, demo=False)
    with pytest.raises(dataset.DatasetError, match="no GloVe 50d vectors"):
        text_models.glove_vocabulary(argparse.Namespace(**{**vars(args), "demo": False}), 50)
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        text_models.glove_vocabulary(argparse.Namespace(**{**vars(args), "glove": str(tmp_path / "x.txt")}), 50)


def test_fixed_words_read_their_pretrained_rows_and_take_no_training():
    torch.manual_seed(0)
    model = text_models.RNNClassifier(10, 4, 3, 2, fixed_words=4)
    assert model.embedding.num_embeddings == 6 and "fixed_embedding" not in dict(model.named_parameters())
    full = torch.randn(10, 4)
    with torch.no_grad():
        model.embedding.weight.copy_(full[:6])
        model.fixed_embedding.copy_(full[6:])
    ids = torch.tensor([[1, 7], [9, 2], [5, 6]])
    embedded = text_models.embed(model, ids)
    torch.testing.assert_close(embedded, full[ids])
    embedded.sum().backward()
    assert model.embedding.weight.grad[[1, 2, 5]].abs().sum() > 0 and not model.embedding.weight.grad[[0, 3, 4]].any()
    rebuilt = text_models.build_model("RNNClassifier", {"vocab_size": 10, "embedding_dim": 4, "hidden_dim": 3,
                                                        "num_classes": 2, "fixed_words": 4})
    rebuilt.load_state_dict(model.state_dict())  # the fixed rows are saved and restored with the model
    torch.testing.assert_close(rebuilt.fixed_embedding, full[6:])
    with pytest.raises(ValueError, match="fixed_words"):
        text_models.AverageEmbedding(5, 3, fixed_words=5)


def test_glove_vocab_adds_glove_words_absent_from_training_as_fixed_rows(tmp_path, data_dir):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\nmarvellous 1 2 3\nfilm 0 0 1\n")
    out = tmp_path / "run"
    small = dict(unit="lstm", epochs=1, batch_size=32, lr=1e-2, embedding_dim=8, hidden_dim=8, dropout=0.0,
                 max_seq_len=None, max_vocab=None, min_freq=1)
    text_models.run_classifier(text_models.classifier_args("t", [
        "--demo", "--data-dir", str(data_dir), "--embeddings", "glove", "--glove", str(path), "--glove-dim", "3",
        "--glove-vocab", "3", "--results-dir", str(out)], small), "t", "sentiment")
    checkpoint = torch.load(out / "model.pt", weights_only=True)
    vocab, fixed = checkpoint["vocab"], checkpoint["hyperparameters"]["fixed_words"]
    assert vocab[-fixed:] == [w for w in ("the", "marvellous", "film") if w not in vocab[:-fixed]] and fixed >= 1
    torch.testing.assert_close(checkpoint["state_dict"]["fixed_embedding"][vocab[-fixed:].index("marvellous")],
                               torch.tensor([1.0, 2.0, 3.0]))


# --------------------------------------------------------------------------- character model

def char_model_trained_on(text, steps=30):
    """A small CharRNN after `steps` Adam steps on the whole text, and its last training loss."""
    torch.manual_seed(0)
    model = CharRNN("".join(sorted(set(text))), embedding_dim=8, hidden_dim=16, num_layers=2)
    ids = torch.tensor([[model.char_to_index[c] for c in text]])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        logits, _ = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), loss.item()


def test_char_model_scripted_export_generates_the_same_text(tmp_path):
    text = "the cat sat on the mat. " * 40
    model, loss = char_model_trained_on(text)
    assert loss < 2.0  # log(11) = 2.4 is a uniform guess
    export_scripted(model, tmp_path / "char.pt")
    scripted = load_scripted(tmp_path / "char.pt")
    for temperature, top_k in ((1.0, 0), (0.5, 3)):
        eager = sample_text(model, 7, "the ", 80, temperature, top_k)
        assert eager.startswith("the ") and len(eager) == 84 and set(eager) <= set(text)
        assert sample_text(scripted, 7, "the ", 80, temperature, top_k) == eager
    assert sample_text(model, 8, "the ", 80, 1.0, 0) != sample_text(model, 7, "the ", 80, 1.0, 0)


def test_char_chunks_pair_each_character_with_the_next_one():
    data = torch.arange(20).reshape(2, 10)  # two streams: 0..9 and 10..19
    pairs = [(x.tolist(), y.tolist()) for x, y in char_rnn.chunks(data, 4)]
    assert pairs == [([[0, 1, 2, 3], [10, 11, 12, 13]], [[1, 2, 3, 4], [11, 12, 13, 14]]),
                     ([[4, 5, 6, 7], [14, 15, 16, 17]], [[5, 6, 7, 8], [15, 16, 17, 18]]),
                     ([[8], [18]], [[9], [19]])]  # the last character is only ever a target


def greedy_by_rerunning_the_prefix(model, prime, length):
    """The likeliest next character, each step computed from the whole text so far (no carried state)."""
    ids = [model.char_to_index[c] for c in prime]
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    return "".join(model.chars[i] for i in ids)


def test_char_model_generation_carries_its_state_like_rereading_the_whole_prefix(tmp_path):
    # top-k 1 is greedy decoding: generate (which feeds one character at a time with the carried hidden
    # state), eager and scripted, must write what rereading the whole prefix at every step writes
    # (trained a little, so that the likeliest next character depends on more than the last one)
    model, _ = char_model_trained_on("the cat sat on the mat. " * 40, steps=60)
    export_scripted(model, tmp_path / "char.pt")
    scripted = load_scripted(tmp_path / "char.pt")
    expected = greedy_by_rerunning_the_prefix(model, "the ", 40)
    assert sample_text(model, 0, "the ", 40, 1.0, 1) == expected
    assert sample_text(scripted, 0, "the ", 40, 1.0, 1) == expected


def test_char_rnn_demo_writes_a_run_that_beats_a_uniform_guess_and_exports_the_same_generator(tmp_path, data_dir):
    out = tmp_path / "run"
    result = script("char_rnn.py", "--demo", "--threads", "1", "--time-limit", "30", "--sample-every", "30",
                    "--length", "120", "--results-dir", out, data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["demo"] and metrics["dataset"] == "demo_chars" and metrics["steps"] > 0
    assert metrics["valid_bpc"] < math.log2(metrics["vocab_size"])  # below a uniform guess over the characters
    assert metrics["valid_bpc"] == min(metrics["curves"]["valid_bpc"])  # the best checkpoint is the one kept
    assert metrics["export_generates_same_text"] is True
    samples = (out / "samples.txt").read_text()
    assert samples.count("--- step ") == len(metrics["curves"]["valid_bpc"]) >= 2  # one sample per checkpoint
    generated = (out / "generated.txt").read_text().rstrip("\n")
    assert len(generated) == 120 and (out / "curves.png").stat().st_size > 0
    # the saved weights are the kept ones: their validation loss is the reported best, recomputed here
    checkpoint = torch.load(out / "model.pt", weights_only=True)
    model = CharRNN(**checkpoint["hyperparameters"])
    model.load_state_dict(checkpoint["state_dict"])
    text = (data_dir / "demo_chars" / "text.txt").read_text(encoding="utf-8")
    ids = char_rnn.encode(text, "".join(model.chars))
    valid = char_rnn.streams(ids[int(len(ids) * 0.95):], 8)
    assert char_rnn.validation_loss(model, valid, 64) == pytest.approx(metrics["valid_loss"], rel=1e-4)
    # and both saved files, read back by --generate, write the run's generated text
    for name in ("char_rnn_scripted.pt", "model.pt"):
        again = script("char_rnn.py", "--generate", out / name, "--length", "120", "--threads", "1",
                       data_dir=data_dir)
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stdout.rstrip("\n") == generated, name


# --------------------------------------------------------------------------- scripts end to end

def test_classifier_script_writes_a_run_and_predict_reads_it(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    result = script("sentiment_gru.py", "--demo", "--epochs", "2", "--threads", "1", "--results-dir", out,
                    "--lr-schedule", "cosine", "--label-smoothing", "0.05", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["demo"] and metrics["dataset"] == "demo_text" and metrics["unit"] == "gru"
    assert metrics["lr_schedule"] == "cosine" and metrics["label_smoothing"] == 0.05
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["best_epoch"] in (1, 2)
    for name in ("curves.png", "confusion_matrix.png", "model.pt"):
        assert (out / name).stat().st_size > 0
    import predict_text
    predict_text.main(["--model-dir", str(out), "--text", "great wonderful film", "--text", "awful",
                       "--results-dir", str(tmp_path / "predicted")])
    lines = [line for line in capsys.readouterr().out.splitlines() if "\t" in line]
    assert len(lines) == 2 and all(line.split()[0] in ("pos", "neg") for line in lines)
    assert lines[0].endswith("\tgreat wonderful film")
    with open(tmp_path / "predicted" / "predictions.csv", newline="", encoding="utf-8") as f:
        saved = list(csv.DictReader(f))  # --results-dir keeps what was printed
    assert [(row["text"], row["class 1"].split()[0]) for row in saved] == [
        (line.split("\t")[1], line.split()[0]) for line in lines]


def test_predict_writes_one_label_per_line(tmp_path, data_dir, capsys):
    unlabelled = tmp_path / "sentences.txt"
    unlabelled.write_text("a wonderful , brilliant film\nboring , awful mess\n\nthe plot\n")
    output = tmp_path / "predictions.txt"
    result = script("text_classification.py", "--demo", "--model", "bow", "--threads", "1", "--predict", unlabelled,
                    "--output", output, "--results-dir", tmp_path / "run", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    labels = output.read_text().splitlines()
    assert len(labels) == 4 and set(labels) <= {"0", "1"}
    assert labels[:2] == ["1", "0"]  # 1 = pos
    import text_classification
    text_classification.main(["--predict", str(unlabelled), "--model-dir", str(tmp_path / "run")])
    assert capsys.readouterr().out.splitlines() == labels  # the saved model predicts what the trained one did


def test_only_the_glove_models_of_text_classification_get_glove_words(tmp_path, data_dir):
    glove = tmp_path / "glove.6B.50d.txt"
    glove.write_text("".join(f"{word} " + " ".join(["0.5"] * 50) + "\n" for word in ("the", "marvellous", "film")))
    out = tmp_path / "run"
    import text_classification
    text_classification.main(["--demo", "--all", "--epochs", "1", "--glove", str(glove), "--glove-vocab", "3",
                              "--data-dir", str(data_dir), "--results-dir", str(out)])
    for name, has_glove_words in (("bow", False), ("avg", False), ("avg_glove", True), ("lstm", True)):
        checkpoint = torch.load(out / f"model_{name}.pt", weights_only=True)
        fixed = checkpoint["hyperparameters"].get("fixed_words", 0)
        assert ("marvellous" in checkpoint["vocab"]) == has_glove_words == (fixed > 0), name
    together = json.loads((out / "metrics.json").read_text())["models"]
    assert together["avg_glove"]["glove_words_found"] > 0 and together["avg"]["glove_words_found"] is None
    assert (together["avg_glove"]["embeddings"], together["avg"]["embeddings"]) == ("glove", None)
    run = json.loads((out / "metrics.json").read_text())  # the run's figure: the model best on dev, first of a tie
    best = max(together.values(), key=lambda model: model["best_valid_accuracy"])
    assert run["selected_model"] == best["model"] and run["test_accuracy"] == best["test_accuracy"]
    # Models trained one after another on shared batches match the same model trained alone
    text_classification.main(["--demo", "--model", "avg", "--epochs", "1", "--data-dir", str(data_dir),
                              "--results-dir", str(tmp_path / "alone")])
    alone = json.loads((tmp_path / "alone" / "metrics.json").read_text())
    assert (alone["best_valid_accuracy"], alone["test_accuracy"]) == (together["avg"]["best_valid_accuracy"],
                                                                      together["avg"]["test_accuracy"])


def test_a_text_classification_demo_without_a_glove_file_names_its_random_embeddings(tmp_path, data_dir):
    import text_classification
    text_classification.main(["--demo", "--model", "avg_glove", "--epochs", "1", "--data-dir", str(data_dir),
                              "--results-dir", str(tmp_path / "run")])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["embeddings"] == "random (no GloVe file)" and metrics["glove_words_found"] is None


def test_unk_row_starts_at_zero_only_when_no_training_word_reads_it():
    tokens = [["a", "b", "a"], ["c", "a"]]
    every, common = dataset.Vocabulary.build(tokens), dataset.Vocabulary.build(tokens, min_freq=2)
    assert not every.unk_in_training and common.unk_in_training  # min_freq 2 sends "b" and "c" to <unk>
    assert dataset.Vocabulary.build(tokens, max_size=3).unk_in_training
    for vocab, zeroed in ((every, True), (common, False)):
        torch.manual_seed(0)
        models = (text_models.RNNClassifier(len(vocab), 4, 3, 2), text_models.AverageEmbedding(len(vocab), 4),
                  text_models.BagOfWords(len(vocab)))
        for model in models:
            text_models.start_untrained_unk_at_zero(model, vocab)
            weights = model.fc.weight[:, 1] if isinstance(model, text_models.BagOfWords) else model.embedding.weight[1]
            assert bool((weights == 0).all()) == zeroed, type(model).__name__
            assert weights.abs().sum() > 0 or zeroed


def test_bad_input_exits_2_with_one_sentence(tmp_path):
    result = script("sentiment_lstm.py", "--results-dir", tmp_path / "run", data_dir=tmp_path / "empty")
    assert result.returncode == 2, result.stderr
    assert "prepare sentiment" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("module, args, message", [
    ("char_rnn", ["--text", "no/such/file.txt"], "does not exist"),
    ("char_rnn", ["--demo", "--prime", "\u00e9\u00e9", "--time-limit", "1"], "never saw"),
    ("char_rnn", ["--demo", "--temperature", "0"], "--temperature must be > 0"),
    ("char_rnn", ["--generate", "no/such/model.pt"], "no model file"),
    ("predict_text", ["--model-dir", "no/such/run", "--text", "hi"], "no saved text model"),
    ("predict_text", ["--model-dir", "no/such/run"], "nothing to classify"),
    ("predict_text", ["--model-dir", "no/such/run", "--text", "good", "--text", " "], "a --text is empty"),
    ("text_classification", ["--predict", "no/such/file.txt", "--model-dir", "x"], "does not exist"),
    ("text_classification", ["--all", "--predict", "x.txt"], "needs one model"),
    ("sentiment_gru", ["--demo", "--valid-fraction", "1.5"], "--valid-fraction"),
    ("sentiment_gru", ["--demo", "--valid-fraction", "0.999"], "leaves nothing to train on: lower --valid-fraction"),
    ("sentiment_gru", ["--demo", "--min-freq", "100000"], "no training word of sentiment is in the vocabulary"),
    ("char_rnn", ["--demo", "--valid-fraction", "0"], "--valid-fraction must be between 0 and 1"),
    ("char_rnn", ["--demo", "--valid-fraction", "-1"], "--valid-fraction must be between 0 and 1"),
    ("cifar_pytorch", ["--demo", "--valid-fraction", "0"], "--valid-fraction must be between 0 and 1"),
    ("cifar_pytorch", ["--demo", "--valid-fraction", "1.5"], "--valid-fraction must be between 0 and 1"),
    ("cifar_pytorch", ["--demo", "--valid-fraction", "-0.2"], "--valid-fraction must be between 0 and 1"),
])
def test_bad_input_is_a_user_error(module, args, message, tmp_path, data_dir):
    import importlib
    import util
    main = importlib.import_module(module).main
    with pytest.raises(util.UserError, match=re.escape(message)):
        main([*args, "--results-dir", str(tmp_path / "run"), "--data-dir", str(data_dir)]
             if module != "predict_text" else args)


@pytest.mark.parametrize("module, option, value, message", [
    ("sentiment_gru", "--dropout", "1.5", "in [0, 1), got 1.5"), ("char_rnn", "--dropout", "1.5", "in [0, 1)"),
    ("sentiment_gru", "--lr", "-1", "> 0, got -1"), ("sentiment_gru", "--lr", "1e300", "<= 100"),
    ("sentiment_gru", "--weight-decay", "-1", ">= 0, got -1"),
    ("char_rnn", "--top-k", "-3", ">= 0, got -3"), ("finetune", "--lr", "-1", "> 0, got -1"),
    ("finetune", "--warmup-epochs", "-1", ">= 0, got -1"), ("feature", "--workers", "-1", ">= 0, got -1"),
    ("transfer_learning", "--head-lr", "0", "> 0, got 0")])
def test_a_number_out_of_range_is_refused_by_the_command_line(module, option, value, message, capsys):
    import importlib
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(["--demo", option, value])
    assert exit_.value.code == 2 and f"argument {option}: expected a number {message}" in capsys.readouterr().err


def test_a_file_that_is_not_a_text_model_is_a_user_error(tmp_path):
    import util
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(util.UserError, match="not a readable PyTorch checkpoint"):
        text_models.TextPredictor.load(tmp_path)
    torch.save({"state_dict": {}}, tmp_path / "model.pt")
    with pytest.raises(util.UserError, match="not a text classifier"):
        text_models.TextPredictor.load(tmp_path)


def save_text_model(folder, classes, **changes):
    """A small untrained GRU classifier saved as a text run's model.pt (changes: edits to the saved entries)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["<pad>", "<unk>", "good", "bad"]
    hyper = {"vocab_size": len(vocab), "embedding_dim": 4, "hidden_dim": 4, "num_classes": len(classes), "unit": "gru"}
    text_models.save_model(folder / "model.pt", text_models.RNNClassifier(**hyper), hyper, vocab, classes, None, "t")
    if changes:
        checkpoint = torch.load(folder / "model.pt", weights_only=True)
        torch.save({**checkpoint, **changes}, folder / "model.pt")
    return folder


def test_predict_needs_a_binary_model(tmp_path):
    import text_classification
    import util
    model = save_text_model(tmp_path / "topics", ["food", "music", "science", "sport"])
    (tmp_path / "in.txt").write_text("good\nbad\n")
    with pytest.raises(util.UserError, match="has 4 classes .*--predict writes 0/1 labels: pass a binary model"):
        text_classification.main(["--predict", str(tmp_path / "in.txt"), "--model-dir", str(model),
                                  "--output", str(tmp_path / "out.txt")])
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("where, message", [
    ("folder", "is a folder: give a file name"),
    ("under_a_file", "cannot be written: its folder .* cannot be created or written in \\(Not a directory\\)"),
    pytest.param("/proc/x/y", "cannot be written: its folder /proc/x cannot be created or written in",
                 marks=pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")),
])
def test_predict_output_that_cannot_be_written_is_refused_before_anything_runs(tmp_path, where, message):
    import text_classification
    import util
    (tmp_path / "in.txt").write_text("good\n")
    output = {"folder": tmp_path, "under_a_file": tmp_path / "in.txt" / "out.txt"}.get(where, where)
    with pytest.raises(util.UserError, match=f"--output {re.escape(str(output))} {message}"):
        text_classification.main(["--predict", str(tmp_path / "in.txt"), "--model-dir", str(tmp_path / "no_model"),
                                  "--output", str(output)])


def test_files_to_predict_are_read_line_by_line_and_binary_files_are_refused(tmp_path):
    import text_classification
    import util
    # cp1252 with its ellipsis byte 0x85 (a line break to str.splitlines() once read as latin-1), and CRLF ends
    (tmp_path / "cp1252.txt").write_bytes(b"so good \x85 really\r\nbad\x0cfilm\r\n\r\nlast")
    assert text_classification.read_lines(tmp_path / "cp1252.txt") == [
        "so good \u2026 really", "bad\x0cfilm", "", "last"]
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(util.UserError, match="model.pt is not plain text .* with --predict"):
        text_classification.read_lines(tmp_path / "model.pt")


def test_a_model_with_truncated_weights_is_a_user_error(tmp_path):
    import predict_text
    import util
    folder = save_text_model(tmp_path / "run", ["neg", "pos"], state_dict={})
    with pytest.raises(util.UserError, match="model.pt is damaged .*RNNClassifier.*pass the model.pt of another"):
        predict_text.main(["--model-dir", str(folder), "--text", "good"])
    # parts of a checkpoint removed or changed by hand
    complete = torch.load(save_text_model(tmp_path / "whole", ["neg", "pos"]) / "model.pt", weights_only=True)
    for change, named in ((lambda c: c.pop("vocab"), "KeyError: 'vocab'"),
                          (lambda c: c.update(architecture="Transformer"), "KeyError: 'Transformer'"),
                          (lambda c: c["hyperparameters"].update(layers=2), "unexpected keyword argument 'layers'")):
        checkpoint = copy.deepcopy(complete)
        change(checkpoint)
        torch.save(checkpoint, folder / "model.pt")
        with pytest.raises(util.UserError, match=f"model.pt is damaged \\(.*{named}\\): train again"):
            predict_text.main(["--model-dir", str(folder), "--text", "good"])


def test_char_rnn_refuses_a_torchscript_file_of_another_model(tmp_path):
    import char_rnn
    import util
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated (see char_rnn.export_scripted)
        torch.jit.script(torch.nn.Linear(2, 2)).save(str(tmp_path / "other.pt"))
    with pytest.raises(util.UserError, match="other.pt is a TorchScript model but not a char_rnn export"):
        char_rnn.main(["--generate", str(tmp_path / "other.pt")])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible")
@pytest.mark.parametrize("name, args", [
    ("cifar_pytorch.py", ["--demo"]), ("char_rnn.py", ["--demo"]), ("char_rnn.py", ["--generate", "model.pt"])])
def test_device_cuda_without_a_gpu_is_one_sentence(tmp_path, data_dir, name, args):
    from conftest import assert_user_error
    result = script(name, *args, "--device", "cuda", "--results-dir", tmp_path / "run", data_dir=data_dir)
    assert_user_error(result, "--device cuda was asked for but no CUDA GPU is visible")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("module, args", [("sentiment_lstm", []), ("text_classification", ["--model", "svm"])])
def test_too_few_training_texts_for_a_validation_split_is_a_user_error(tmp_path, module, args):
    import importlib
    import util
    folder = tmp_path / "data" / "sentiment"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("sentence,label\na good film,pos\n")
    (folder / "test.csv").write_text("sentence,label\na fine film,pos\nsuperb,pos\n")
    with pytest.raises(util.UserError, match=r"of the 1 training texts of sentiment leaves nothing to \w+ on: "
                                             r"prepare the full dataset"):
        importlib.import_module(module).main([*args, "--data-dir", str(tmp_path / "data"),
                                              "--results-dir", str(tmp_path / "run")])


def test_a_demo_without_a_glove_file_says_its_run_trained_random_embeddings(tmp_path, data_dir, monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(text_models.util, "RESULTS_ROOT", tmp_path)
    import questions_lstm  # GloVe by default
    questions_lstm.main(["--demo", "--epochs", "1", "--threads", "1", "--data-dir", str(data_dir)])
    assert "keeping random embeddings" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "questions_lstm" / "demo_topics_lstm_glove-missing" / "metrics.json").read_text())
    assert metrics["embeddings"] == "random (no GloVe file)" and metrics["glove_words_found"] is None
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "DEMO DATA: not a real result; no GloVe file: random embeddings" in summary
