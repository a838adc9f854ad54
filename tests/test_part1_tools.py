"""Part 1 tools (PyTorch): char_rnn's checks, sampling and outputs; export.py and predict.py on odd inputs."""
from __future__ import annotations

import json
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PART1 = REPO / "part1_pytorch"
sys.path.insert(0, str(PART1))

import char_rnn  # noqa: E402
import util  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


# --------------------------------------------------------------------------- char_rnn

TINY = ["--embedding-dim", "8", "--hidden-dim", "16", "--num-layers", "1", "--seq-len", "16", "--batch-size", "4",
        "--epochs", "1", "--sample-every", "1000", "--length", "20", "--dropout", "0", "--threads", "1"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on the mat; a dog lay by the door. " * 59)  # 2773 characters
    return path


def tiny_run(text_file, out, *args):
    """char_rnn.main on a small model; returns metrics.json."""
    char_rnn.main(["--text", str(text_file), *TINY, "--results-dir", str(out), *args])
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture
def no_run(monkeypatch):
    """Bad input must be refused before start_run, which would move an earlier run aside."""
    def start_run(*args, **kwargs):
        raise AssertionError("start_run was called before the input was checked")
    monkeypatch.setattr(char_rnn.util, "start_run", start_run)


@pytest.mark.parametrize("args, names, blames_not", [
    # 12 validation characters: 8 streams of 1, which hold no (input, target) pair
    (["--seq-len", "4", "--valid-fraction", "0.004"], ["validation part", "--valid-fraction", "16"], "--batch-size"),
    (["--batch-size", "2000"], ["too few for 2000 training streams", "--batch-size"], "--valid-fraction"),
    # the text is long enough: the validation part took what training needed
    (["--valid-fraction", "0.999"], ["too few for 4 training streams", "lower --valid-fraction (now 0.999)"], "xyz"),
])
def test_char_rnn_says_which_part_of_the_text_is_too_short_before_the_run(text_file, no_run, args, names,
                                                                          blames_not):
    with pytest.raises(util.UserError) as error:
        char_rnn.main(["--text", str(text_file), *TINY, *args])
    assert all(name in str(error.value) for name in names) and blames_not not in str(error.value), error.value


def test_validation_loss_of_streams_without_a_target_is_an_error_not_a_division_by_zero():
    model = char_rnn.CharRNN("ab", embedding_dim=4, hidden_dim=4, num_layers=1, dropout=0.0)
    with pytest.raises(ValueError, match="no \\(input, target\\) pair"):
        char_rnn.validation_loss(model, torch.zeros(8, 1, dtype=torch.long), 4)
    # the shortest validation part training_split accepts: streams of 2, one pair each, however long --seq-len is
    args = char_rnn.parse_args(["--text", "x", "--valid-fraction", "0.016"])
    split = char_rnn.training_split(args, 1000)
    assert 1000 - split == 2 * char_rnn.VALID_STREAMS
    assert char_rnn.validation_loss(model, char_rnn.streams(np.zeros(16, dtype=np.int64), 8), 64) > 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_char_rnn_refuses_a_temperature_that_is_not_finite_and_positive_before_the_run(text_file, no_run, value):
    with pytest.raises(util.UserError, match=re.escape("--temperature must be > 0 and finite")):
        char_rnn.main(["--text", str(text_file), *TINY, "--temperature", value])


def test_char_rnn_refuses_an_unknown_prime_before_the_run(text_file, no_run):
    with pytest.raises(util.UserError, match="never saw"):
        char_rnn.main(["--text", str(text_file), *TINY, "--prime", "QX"])


@pytest.mark.parametrize("temperature", [1e-50, 5e-324])
def test_a_tiny_temperature_samples_the_likeliest_character_eagerly_and_scripted(tmp_path, temperature):
    torch.manual_seed(0)
    model = char_rnn.CharRNN("abcdefgh", embedding_dim=8, hidden_dim=16, num_layers=1, dropout=0.0).eval()
    greedy = char_rnn.sample_text(model, 0, "ab", 30, 1.0, 1)  # top-k 1: the likeliest character each time
    char_rnn.export_scripted(model, tmp_path / "char.pt")
    scripted = char_rnn.load_scripted(tmp_path / "char.pt")
    for top_k in (0, 3):
        assert char_rnn.sample_text(model, 0, "ab", 30, temperature, top_k) == greedy
        assert char_rnn.sample_text(scripted, 0, "ab", 30, temperature, top_k) == greedy


def test_char_rnn_reports_the_training_loss_per_character_not_per_chunk(text_file, tmp_path):
    # a learning rate of 1e-30 leaves the weights as they start, so one epoch's training loss is the
    # per-character loss of the initial model over the training streams; the epoch's last chunk holds
    # 1 character per stream where the others hold 16, and must weigh that much less
    metrics = tiny_run(text_file, tmp_path / "run", "--lr", "1e-30")
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    model = char_rnn.CharRNN(**checkpoint["hyperparameters"])
    model.load_state_dict(checkpoint["state_dict"])
    text = text_file.read_text()
    ids = char_rnn.encode(text, "".join(model.chars))
    train = char_rnn.streams(ids[:int(len(ids) * 0.95)], 4)
    assert (train.shape[1] - 1) % 16 == 1
    assert metrics["curves"]["train_loss"] == [pytest.approx(char_rnn.validation_loss(model, train, 16), rel=1e-6)]


def test_char_rnn_plots_bits_per_character_marks_the_kept_checkpoint_and_says_how_training_ended(
        text_file, tmp_path, monkeypatch):
    plots = []
    monkeypatch.setattr(char_rnn.util, "plot_curves", lambda curves, path, **kwargs: plots.append((curves, kwargs)))
    metrics = tiny_run(text_file, tmp_path / "full", "--epochs", "2", "--sample-every", "5")
    steps = metrics["steps"]
    assert steps % 5 != 0  # so the last checkpoint is off the interval
    assert metrics["checkpoint_steps"] == [*range(5, steps, 5), steps]
    assert metrics["epochs_completed"] == 2 and metrics["stopped_by_time_limit"] is False
    curves, kwargs = plots[0]
    bpc = metrics["curves"]["valid_bpc"]
    assert curves["valid_bpc"] == bpc
    assert kwargs["kept"] == bpc.index(min(bpc)) + 1
    assert metrics["checkpoint_steps"][kwargs["kept"] - 1] == metrics["best_checkpoint_step"]
    assert "every 5 steps" in kwargs["title"] and f"step {steps}" in kwargs["title"]

    stopped = tiny_run(text_file, tmp_path / "stopped", "--epochs", "2", "--time-limit", "1e-9")
    assert stopped["stopped_by_time_limit"] is True and stopped["epochs_completed"] == 0
    assert stopped["steps"] == 1 and stopped["checkpoint_steps"] == [1]


# --------------------------------------------------------------------------- export.py and predict.py

import export  # noqa: E402
import predict  # noqa: E402
import pretrained  # noqa: E402
import vision  # noqa: E402

CLASSES = ["a", "b", "c"]


def saved_classifier(path: Path, arch: str = "squeezenet1_1", nan: bool = False) -> Path:
    """A randomly initialised classifier saved as the training scripts save theirs, for 64-pixel images."""
    torch.manual_seed(0)
    model, description = pretrained.build_model(arch, "none", num_classes=len(CLASSES))
    if nan:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(float("nan"))
    vision.save_classifier(path, model, arch, CLASSES, vision.preprocessing_for(arch, 64), description)
    return path


def write_images(folder: Path, count: int = 3) -> list[Path]:
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i}.png" for i in range(count)]
    for i, path in enumerate(paths):
        Image.new("RGB", (40, 40), (80 * i, 200 - 60 * i, 120)).save(path)
    return paths


def predicted_files(stdout: str) -> list[str]:
    return [line.split(": ")[0] for line in stdout.splitlines() if ": " in line and not line.startswith("model ")]


def test_export_refuses_a_model_whose_outputs_are_not_finite(tmp_path):
    model = saved_classifier(tmp_path / "model.pt", nan=True)
    with pytest.raises(util.UserError, match="gives NaN or infinite outputs"):
        export.main([str(model)])
    assert not list(tmp_path.glob("model.*.*"))  # neither an export nor export.json


def test_an_export_whose_outputs_are_nan_is_not_within_the_tolerance(tmp_path, monkeypatch):
    class Broken(torch.nn.Module):
        def forward(self, x):
            return torch.full((len(x), len(CLASSES)), float("nan"))
    monkeypatch.setattr(export, "export", lambda model, example, method: Broken())
    with pytest.raises(RuntimeError, match="the traced export differs from the model by nan"):
        export.main([str(saved_classifier(tmp_path / "model.pt"))])
    assert not list(tmp_path.glob("model.*.*"))


def test_an_export_that_reloads_with_other_outputs_is_refused_before_it_is_saved(tmp_path, monkeypatch):
    load_any = vision.load_any

    def reload_badly(path):
        model, meta = load_any(path)
        return (lambda x: model(x) + 1) if vision.is_torchscript(Path(path)) else model, meta
    monkeypatch.setattr(export.vision, "load_any", reload_badly)
    with pytest.raises(RuntimeError, match="the traced export, reloaded, differs from the model by 1"):
        export.main([str(saved_classifier(tmp_path / "model.pt"))])
    assert not list(tmp_path.glob("model.*.*"))


def test_predict_skips_sub_folders_named_like_images_and_unreadable_images_it_found(tmp_path, capsys, monkeypatch):
    model = saved_classifier(tmp_path / "model.pt")
    scores_of = vision.scores_of  # the random model scores every image alike to 3 decimals: sharpened, they differ
    monkeypatch.setattr(predict.vision, "scores_of", lambda output: scores_of(output) * 1000)
    images = write_images(tmp_path / "images" / "more")
    (tmp_path / "images" / "sub.png").mkdir()
    predict.main([str(model), str(tmp_path / "images")])
    without_it = capsys.readouterr().out.splitlines()[1:]  # each readable image's line, its prediction included
    # the unreadable file sorts first, so pairing the predictions with every file found rather than with the files
    # read would print each prediction beside the name of the file before its own
    (tmp_path / "images" / "a_broken.jpg").write_bytes(b"not a jpeg")
    predict.main([str(model), str(tmp_path / "images")])
    out, err = capsys.readouterr()
    assert predicted_files(out) == [str(path) for path in images]
    assert out.splitlines()[1:] == without_it
    assert "warning: skipping unreadable image" in err and "a_broken.jpg" in err and "sub.png" not in err


def test_predict_fails_on_an_unreadable_image_it_was_given_or_a_folder_of_nothing_readable(tmp_path):
    model = saved_classifier(tmp_path / "model.pt")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(util.UserError, match="cannot read .*broken.jpg"):
        predict.main([str(model), str(tmp_path / "images" / "broken.jpg")])
    with pytest.raises(util.UserError, match="none of the 1 image files found could be read"):
        predict.main([str(model), str(tmp_path / "images")])


def test_predict_refuses_an_image_over_pillows_pixel_limit_in_one_sentence(tmp_path, monkeypatch):
    from PIL import Image
    model = saved_classifier(tmp_path / "model.pt")
    image = write_images(tmp_path / "images", 1)[0]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 pixels: over twice the limit, a decompression bomb
    with pytest.raises(util.UserError, match="cannot read .*0.png"):
        predict.main([str(model), str(image)])


def test_export_refuses_a_results_dir_it_cannot_write_in_before_exporting(tmp_path, capsys):
    model = saved_classifier(tmp_path / "model.pt")
    (tmp_path / "file").write_text("mine")
    with pytest.raises(SystemExit) as refused:  # when the options are read
        export.main([str(model), "--results-dir", str(tmp_path / "file")])
    assert refused.value.code == 2 and f"{tmp_path / 'file'} is a file: pass a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export.main([str(model), "--results-dir", str(tmp_path / "file" / "exports")])
    assert f"cannot write in {tmp_path / 'file' / 'exports'} (Not a directory)" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine"


def test_export_checks_the_model_folder_it_writes_into_by_default(tmp_path, monkeypatch):
    model = saved_classifier(tmp_path / "model.pt")

    def refused(dir=None):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(util.tempfile, "mkdtemp", refused)  # a read-only folder (root, as in CI, writes in any)
    with pytest.raises(util.UserError, match=re.escape(f"cannot write in {tmp_path} (Permission denied): pass a "
                                                       "writable folder as --results-dir")):
        export.main([str(model)])


def test_predict_takes_a_run_folder_and_names_the_models_of_one_without_model_pt(tmp_path, capsys):
    model = saved_classifier(tmp_path / "run" / "model.pt")
    image = write_images(tmp_path / "images", 1)[0]
    predict.main([str(model), str(image)])
    from_file = capsys.readouterr().out
    predict.main([str(tmp_path / "run"), str(image)])
    assert capsys.readouterr().out == from_file
    model.rename(tmp_path / "run" / "freeze_model.pt")  # as transfer_learning.py names its models
    with pytest.raises(util.UserError, match=r"run is a folder, not a model file: pass one of its models "
                                             r"\(freeze_model.pt\)"):
        predict.main([str(tmp_path / "run"), str(image)])


def test_a_scripted_googlenet_predicts_without_its_tuple_warning(tmp_path):
    model = saved_classifier(tmp_path / "model.pt", arch="googlenet")
    image = write_images(tmp_path / "images", 1)[0]
    with warnings.catch_warnings(record=True) as caught:
        export.main([str(model), "--batch-size", "1"])
        predict.main([str(tmp_path / "model.scripted.pt"), str(image)])
    assert not [w for w in caught if "GoogleNetOutputs" in str(w.message)]


def test_cifar_net_is_the_described_network_unpadded():
    import cifar_pytorch
    net = cifar_pytorch.CifarNet(num_classes=4)
    shapes = []
    net.conv2.register_forward_hook(lambda module, inputs, output: shapes.append((inputs[0].shape, output.shape)))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    assert shapes == [(torch.Size([2, 16, 15, 15]), torch.Size([2, 32, 13, 13]))]
    assert (net.conv1.kernel_size, net.conv1.padding, net.fc.in_features) == ((3, 3), (0, 0), 32 * 6 * 6)
