"""numpy_layers models, update rules and solvers: gradients, PyTorch equivalents, learning."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "numpy_layers"))

import optim  # noqa: E402
from captioning_solver import CaptioningSolver  # noqa: E402
from cnn import ConvNet  # noqa: E402
from gradient_check import eval_numerical_gradient, rel_error  # noqa: E402
from rnn import CaptioningRNN  # noqa: E402
from softmax import SoftmaxClassifier  # noqa: E402
from solver import Solver  # noqa: E402
import util  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def check_model_gradients(model, X, y, tolerance):
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name, value in model.params.items():
        assert grads[name].shape == value.shape
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], value)
        assert rel_error(grads[name], numeric) < tolerance, name


def torch_loss_and_grads(params, forward, X, y, reg):
    tensors = {name: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    scores = forward(tensors, torch.tensor(X))
    loss = F.cross_entropy(scores, torch.tensor(y))
    loss = loss + 0.5 * reg * sum((t * t).sum() for name, t in tensors.items() if name.startswith("W"))
    loss.backward()
    return scores.detach().numpy(), loss.item(), {name: t.grad.numpy() for name, t in tensors.items()}


# --------------------------------------------------------------------------- two-layer network

def test_softmax_classifier_initial_loss_and_scores(rng):
    model = SoftmaxClassifier(input_dim=20, hidden_dim=30, num_classes=10, weight_scale=1e-3, seed=0)
    X, y = rng.standard_normal((50, 20)), rng.integers(0, 10, 50)
    assert model.loss(X).shape == (50, 10)
    loss, _ = model.loss(X, y)
    assert abs(loss - math.log(10)) < 0.01
    assert model.params["W1"].shape == (20, 30) and model.params["b2"].shape == (10,)
    assert abs(model.params["W1"].std() - 1e-3) < 2e-4
    he = SoftmaxClassifier(input_dim=800, hidden_dim=50, weight_scale=None, seed=0)
    assert abs(he.params["W1"].std() - math.sqrt(2 / 800)) < 0.005


def test_softmax_classifier_gradients(rng):
    model = SoftmaxClassifier(input_dim=6, hidden_dim=5, num_classes=4, weight_scale=0.5, reg=0.1, seed=1)
    X, y = rng.standard_normal((7, 6)), rng.integers(0, 4, 7)
    check_model_gradients(model, X, y, 1e-7)
    logistic = SoftmaxClassifier(input_dim=6, hidden_dim=None, num_classes=4, weight_scale=0.5, reg=0.1, seed=1)
    assert set(logistic.params) == {"W1", "b1"}
    check_model_gradients(logistic, X, y, 1e-7)


def test_softmax_classifier_matches_torch(rng):
    reg = 0.05
    model = SoftmaxClassifier(input_dim=12, hidden_dim=9, num_classes=5, weight_scale=0.3, reg=reg, seed=2)
    model.params["b1"] = rng.standard_normal(9)
    X, y = rng.standard_normal((8, 12)), rng.integers(0, 5, 8)
    loss, grads = model.loss(X, y)

    def forward(p, x):
        return torch.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    scores, t_loss, t_grads = torch_loss_and_grads(model.params, forward, X, y, reg)
    np.testing.assert_allclose(model.loss(X), scores, rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(t_loss, rel=1e-10)
    for name in grads:
        np.testing.assert_allclose(grads[name], t_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------------- CNN

def test_convnet_initial_loss_and_shapes(rng):
    model = ConvNet(input_dim=(1, 12, 12), num_filters=4, filter_size=5, hidden_dim=16, seed=0)
    assert model.params["W1"].shape == (4, 1, 5, 5)
    assert model.params["W2"].shape == (4 * 4 * 4, 16) and model.params["W3"].shape == (16, 10)
    X, y = rng.standard_normal((10, 1, 12, 12)), rng.integers(0, 10, 10)
    assert model.loss(X).shape == (10, 10)
    assert abs(model.loss(X, y)[0] - math.log(10)) < 0.01


def test_convnet_gradients(rng):
    model = ConvNet(input_dim=(2, 8, 8), num_filters=3, filter_size=3, hidden_dim=6, num_classes=4,
                    weight_scale=None, reg=0.05, seed=3)
    X, y = rng.standard_normal((3, 2, 8, 8)), rng.integers(0, 4, 3)
    check_model_gradients(model, X, y, 1e-6)


def test_convnet_matches_torch(rng):
    reg = 0.02
    model = ConvNet(input_dim=(1, 10, 10), num_filters=4, filter_size=3, hidden_dim=7, num_classes=5,
                    weight_scale=None, reg=reg, seed=4)
    X, y = rng.standard_normal((6, 1, 10, 10)), rng.integers(0, 5, 6)
    loss, grads = model.loss(X, y)

    def forward(p, x):
        pooled = F.max_pool2d(torch.relu(F.conv2d(x, p["W1"])), 2, 2)
        return torch.relu(pooled.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    scores, t_loss, t_grads = torch_loss_and_grads(model.params, forward, X, y, reg)
    np.testing.assert_allclose(model.loss(X), scores, rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(t_loss, rel=1e-10)
    for name in grads:
        np.testing.assert_allclose(grads[name], t_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("build,shape", [
    (lambda: SoftmaxClassifier(input_dim=64, hidden_dim=50, weight_scale=None, seed=0), (50, 64)),
    (lambda: ConvNet(input_dim=(1, 10, 10), num_filters=8, filter_size=3, hidden_dim=32, weight_scale=None, seed=0),
     (50, 1, 10, 10)),
])
def test_models_overfit_fifty_examples(rng, build, shape):
    X, y = rng.standard_normal(shape), rng.integers(0, 10, 50)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    model = build()
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3}, num_epochs=30,
                    batch_size=25, verbose=False, seed=0)
    solver.train()
    assert solver.check_accuracy(X, y) == 1.0
    assert solver.loss_history[-1] < solver.loss_history[0] / 10


# --------------------------------------------------------------------------- update rules

@pytest.mark.parametrize("rule,config,make_torch", [
    ("sgd", {"learning_rate": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", {"learning_rate": 0.1, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("rmsprop", {"learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8},
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
    ("adam", {"learning_rate": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
])
def test_update_rules_match_torch_optimizers(rng, rule, config, make_torch):
    w = rng.standard_normal((3, 4))
    target = rng.standard_normal((3, 4))
    wt = torch.tensor(w.copy(), requires_grad=True)
    torch_optimizer = make_torch([wt])
    config = dict(config)
    for _ in range(5):           # minimise 0.5 * |w - target|^2, gradient w - target
        w, config = getattr(optim, rule)(w, w - target, config)
        torch_optimizer.zero_grad()
        (0.5 * ((wt - torch.tensor(target)) ** 2).sum()).backward()
        torch_optimizer.step()
    np.testing.assert_allclose(w, wt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_update_rule_defaults_are_filled_in(rng):
    _, config = optim.adam(np.zeros(3), np.ones(3))
    assert config["learning_rate"] == 1e-3 and config["t"] == 1
    _, config = optim.rmsprop(np.zeros(3), np.ones(3))
    assert config["decay_rate"] == 0.99 and config["cache"].shape == (3,)


# --------------------------------------------------------------------------- Solver

def test_solver_histories_best_params_and_errors(rng):
    centres = rng.standard_normal((3, 10)) * 3
    y = rng.integers(0, 3, 300)
    X = centres[y] + rng.standard_normal((300, 10))
    data = {"X_train": X[:200], "y_train": y[:200], "X_val": X[200:], "y_val": y[200:]}
    model = SoftmaxClassifier(input_dim=10, hidden_dim=20, num_classes=3, weight_scale=1e-2, seed=0)
    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 0.05},
                    lr_decay=0.9, num_epochs=4, batch_size=20, verbose=False, seed=0)
    solver.train()
    assert len(solver.loss_history) == 4 * 10
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.best_val_acc == max(solver.val_acc_history) > 0.9
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == pytest.approx(solver.best_val_acc)
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(0.05 * 0.9 ** 4)
    with pytest.raises(ValueError, match="update_rule"):
        Solver(model, data, update_rule="nesterov")
    with pytest.raises(ValueError, match="unrecognized"):
        Solver(model, data, learning_rate=0.1)


class CountingModel:
    """A stand-in model whose one parameter grows by 1 per SGD step (gradient -1 at learning rate 1) and
    that records which training examples each step saw (the inputs are the examples' indices)."""

    def __init__(self):
        self.params = {"w": np.zeros(2)}
        self.batches = []

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((len(X), 2))
        self.batches.append(X[:, 0].astype(int).tolist())
        return 0.0, {"w": -np.ones(2)}


def counting_solver(num_epochs):
    data = {"X_train": np.arange(20.0)[:, None], "y_train": np.zeros(20, int),
            "X_val": np.zeros((4, 1)), "y_val": np.zeros(4, int)}
    model = CountingModel()
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1.0}, num_epochs=num_epochs,
                    batch_size=5, verbose=False, seed=0)
    return model, solver


def test_solver_keeps_the_params_of_the_best_validation_epoch_not_the_last(monkeypatch):
    # 4 steps an epoch move w by +4; validation accuracy before training and after epochs 1-3 is
    # 0.1, 0.9, 0.5, 0.6, so the params to keep are those after epoch 1
    model, solver = counting_solver(3)
    accuracies = iter([0.1, 0.9, 0.5, 0.6])
    monkeypatch.setattr(solver, "check_accuracy",
                        lambda X, y, num_samples=None: next(accuracies) if X is solver.X_val else 0.5)
    solver.train()
    assert solver.val_acc_history == [0.1, 0.9, 0.5, 0.6] and solver.best_val_acc == 0.9
    np.testing.assert_array_equal(model.params["w"], [4.0, 4.0])
    assert len(model.batches) == 12  # the training did go on to w = 12
    assert solver.best_epoch == 1


def test_a_diverged_solver_stops_with_one_sentence():
    model, solver = counting_solver(2)
    model.loss = lambda X, y=None: np.zeros((len(X), 2)) if y is None else (np.nan, {"w": np.zeros(2)})
    with pytest.raises(util.UserError, match="training diverged: the training loss at iteration 4 is nan"):
        solver.train()


def test_a_second_train_keeps_its_own_best_epoch(monkeypatch):
    # the second call starts from the kept w = 4 and sees validation accuracies 0.2, 0.3, 0.7, 0.4 (all
    # below the first call's 0.9): it must keep its own epoch 2, w = 4 + 8, and report only itself
    model, solver = counting_solver(3)
    accuracies = iter([0.1, 0.9, 0.5, 0.6, 0.2, 0.3, 0.7, 0.4])
    monkeypatch.setattr(solver, "check_accuracy",
                        lambda X, y, num_samples=None: next(accuracies) if X is solver.X_val else 0.5)
    solver.train()
    solver.train()
    np.testing.assert_array_equal(model.params["w"], [12.0, 12.0])
    assert solver.val_acc_history == [0.2, 0.3, 0.7, 0.4] and len(solver.loss_history) == 12
    assert solver.best_val_acc == 0.7 and solver.best_epoch == 2
    model.params["w"] -= 1.0             # what the next SGD step does in place: best_params must not follow
    np.testing.assert_array_equal(solver.best_params["w"], [12.0, 12.0])


def test_a_second_train_starts_its_update_rule_afresh(monkeypatch):
    # lr_decay 0.5 halves the learning rate each epoch: a call's epochs move w by 4, then 2. A second call
    # carrying over the first's decayed rate would move it by 1, then 0.5
    model, solver = counting_solver(2)
    solver.lr_decay = 0.5
    seen = []  # w at each validation check: before training, then after each epoch
    accuracies = iter([0.1, 0.2, 0.3] * 2)  # rising: each call keeps its last epoch

    def check_accuracy(X, y, num_samples=None):
        if X is not solver.X_val:
            return 0.5
        seen.append(model.params["w"][0])
        return next(accuracies)
    monkeypatch.setattr(solver, "check_accuracy", check_accuracy)
    solver.train()
    solver.train()
    assert np.diff(seen[:3]).tolist() == np.diff(seen[3:]).tolist() == [4.0, 2.0]


def test_solver_visits_every_example_once_an_epoch_in_a_new_order():
    model, solver = counting_solver(2)
    solver.train()
    first, second = model.batches[:4], model.batches[4:]
    assert sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(20))
    assert first != second and sum(first, []) != list(range(20))  # shuffled, and differently each epoch


# --------------------------------------------------------------------------- captioning

def small_vocab():
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "red"]
    return {w: i for i, w in enumerate(words)}


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_rnn_gradients(rng, cell_type):
    word_to_idx = small_vocab()
    model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=4, hidden_dim=6, cell_type=cell_type,
                          dtype=np.float64, seed=0)
    for name in model.params:        # larger random parameters than the initialisation, to test everything
        model.params[name] = rng.standard_normal(model.params[name].shape) * 0.4
    features = rng.standard_normal((3, 5))
    captions = rng.integers(0, len(word_to_idx), (3, 6))
    captions[0, 4:] = word_to_idx["<NULL>"]
    # Loss ~10 against gradient entries ~1e-3: centred differences are good to ~1e-6 relative here.
    check_model_gradients(model, features, captions, 1e-5)


def test_captioning_rnn_initial_loss_and_bad_cell():
    word_to_idx = small_vocab()
    model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=4, hidden_dim=6, dtype=np.float64, seed=0)
    captions = np.array([[1, 4, 5, 2, 0, 0]])           # <START> a cat <END> <NULL> <NULL>: 3 scored steps
    loss, _ = model.loss(np.zeros((1, 5)), captions)
    assert abs(loss - 3 * math.log(len(word_to_idx))) < 0.2
    with pytest.raises(ValueError, match="cell_type"):
        CaptioningRNN(word_to_idx, cell_type="gru")


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_overfits_and_samples(rng, cell_type):
    word_to_idx = small_vocab()
    features = np.eye(4, 5) * 3
    captions = np.array([[1, 4, 5, 2, 0], [1, 4, 6, 2, 0], [1, 7, 5, 2, 0], [1, 7, 6, 6, 2]])
    data = {"train_captions": captions, "train_image_idxs": np.arange(4), "train_features": features,
            "val_captions": captions, "val_image_idxs": np.arange(4), "val_features": features,
            "word_to_idx": word_to_idx, "idx_to_word": sorted(word_to_idx, key=word_to_idx.get),
            "train_urls": np.array(["u"] * 4), "val_urls": np.array(["u"] * 4)}
    model = CaptioningRNN(word_to_idx, input_dim=5, wordvec_dim=8, hidden_dim=16, cell_type=cell_type,
                          dtype=np.float64, seed=0)
    solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": 2e-2},
                              num_epochs=150, batch_size=4, verbose=False, seed=0)
    solver.train()
    assert solver.loss_history[-1] < 0.05
    sampled = model.sample(features, max_length=6)
    assert sampled.shape == (4, 6)
    np.testing.assert_array_equal(sampled[:, :4][:, :3], captions[:, 1:4])
    assert sampled[0, 2] == word_to_idx["<END>"] and np.all(sampled[0, 3:] == word_to_idx["<NULL>"])


# --------------------------------------------------------------------------- captioning utilities

def test_unigram_bleu():
    from bleu_utils import bleu_score, corpus_bleu
    assert bleu_score(["<START> a red cat <END>"], "a red cat <END>") == 1.0
    assert bleu_score(["a red cat"], "a blue dog") == pytest.approx(1 / 3)
    assert bleu_score(["a cat"], "a a a") == pytest.approx(1 / 3)           # clipped counts
    assert bleu_score(["a red cat on the mat"], "a red cat") == pytest.approx(math.exp(1 - 6 / 3))  # brevity
    assert bleu_score(["a cat"], "") == 0.0
    assert corpus_bleu([["a cat"], ["a dog"]], ["a cat", "the cow"]) == pytest.approx(0.5)


def test_coco_utils_reads_the_assignment_format(tmp_path, rng):
    import json

    import h5py
    from coco_utils import decode_captions, load_coco_data, sample_coco_minibatch
    idx_to_word = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat"]
    with h5py.File(tmp_path / "coco2014_captions.h5", "w") as f:
        f["train_captions"] = np.array([[1, 4, 5, 2, 0], [1, 5, 2, 0, 0], [1, 4, 2, 0, 0]])
        f["train_image_idxs"] = np.array([0, 1, 1])
        f["val_captions"] = np.array([[1, 4, 2, 0, 0]])
        f["val_image_idxs"] = np.array([0])
    for split, count in (("train", 2), ("val", 1)):
        with h5py.File(tmp_path / f"{split}2014_vgg16_fc7_pca.h5", "w") as f:
            f["features"] = rng.standard_normal((count, 8)).astype(np.float32)
        (tmp_path / f"{split}2014_urls.txt").write_text("".join(f"http://x/{split}{i}.jpg\n" for i in range(count)))
    (tmp_path / "coco2014_vocab.json").write_text(json.dumps(
        {"idx_to_word": idx_to_word, "word_to_idx": {w: i for i, w in enumerate(idx_to_word)}}))
    data = load_coco_data(tmp_path)
    assert data["train_features"].shape == (2, 8) and list(data["val_urls"]) == ["http://x/val0.jpg"]
    assert decode_captions(data["train_captions"], data["idx_to_word"])[0] == "<START> a cat <END>"
    assert decode_captions(np.array([1, 5, 2, 4, 0]), data["idx_to_word"]) == "<START> cat <END>"
    captions, features, urls = sample_coco_minibatch(data, batch_size=5, rng=rng)
    assert captions.shape == (5, 5) and features.shape == (5, 8) and urls.shape == (5,)
    for caption, feature in zip(captions, features):     # every caption comes with its own image
        image = data["train_image_idxs"][np.flatnonzero((data["train_captions"] == caption).all(1))[0]]
        np.testing.assert_array_equal(feature, data["train_features"][image])
    assert len(load_coco_data(tmp_path, max_train=7)["train_captions"]) == 7

    def subset(seed, rng_seed=None):
        np.random.seed(seed)
        rng = None if rng_seed is None else np.random.default_rng(rng_seed)
        return load_coco_data(tmp_path, max_train=20, rng=rng)["train_image_idxs"].tolist()
    assert subset(0) == subset(0)                         # without rng: the global state, as in the assignment
    assert subset(0, rng_seed=5) == subset(1, rng_seed=5)  # with rng: that alone decides
    import dataset
    with pytest.raises(dataset.DatasetError, match="download coco_captioning"):
        load_coco_data(tmp_path / "missing")


def test_image_preprocessing_round_trip(rng):
    from image_utils import deprocess_image, preprocess_image
    img = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    processed = preprocess_image(img)
    assert processed.dtype == np.float32 and abs(float(processed.mean())) < 2.5
    np.testing.assert_array_equal(deprocess_image(processed), img)


def test_solvers_accept_only_known_update_rules():
    assert optim.get_update_rule("adam") is optim.adam
    assert optim.get_update_rule(optim.sgd) is optim.sgd
    for bad in ("np", "adamw", "get_update_rule"):
        with pytest.raises(ValueError, match="invalid update_rule"):
            optim.get_update_rule(bad)
