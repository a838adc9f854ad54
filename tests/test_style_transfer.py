"""Neural style transfer (part1_pytorch/style_transfer.py): the losses, the frozen network, the script."""
from __future__ import annotations

import json
import sys

import pytest
import torch
from torch import nn

from conftest import REPO, SHARED_DATA, SHARED_WEIGHTS, run_script

sys.path.insert(0, str(REPO / "part1_pytorch"))
import style_transfer as st  # noqa: E402
import util  # noqa: E402

SCRIPT = "part1_pytorch/style_transfer.py"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def random_squeezenet(settings: st.Settings) -> st.FeatureExtractor:
    return st.build_extractor("squeezenet1_1", "none", [settings.content_layer, *settings.style_layers])[0]


# --------------------------------------------------------------------------- the losses against loops

def test_content_loss_matches_a_loop():
    torch.manual_seed(0)
    current, target = torch.randn(1, 3, 4, 5), torch.randn(1, 3, 4, 5)
    expected = 0.0
    for c in range(3):
        for h in range(4):
            for w in range(5):
                expected += (current[0, c, h, w] - target[0, c, h, w]).item() ** 2
    assert st.content_loss(0.7, current, target).item() == pytest.approx(0.7 * expected, rel=1e-5)


@pytest.mark.parametrize("normalize", [True, False])
def test_gram_matrix_matches_a_loop_and_is_symmetric(normalize):
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 5)
    gram = st.gram_matrix(features, normalize=normalize)
    assert gram.shape == (2, 3, 3)
    for n in range(2):
        for i in range(3):
            for j in range(3):
                expected = sum(features[n, i, h, w].item() * features[n, j, h, w].item()
                               for h in range(4) for w in range(5))
                if normalize:
                    expected /= 3 * 4 * 5
                assert gram[n, i, j].item() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert torch.allclose(gram, gram.transpose(1, 2))


def test_style_loss_matches_a_loop():
    torch.manual_seed(0)
    features = {"a": torch.randn(1, 2, 3, 3), "b": torch.randn(1, 4, 2, 2), "unused": torch.randn(1, 1, 1, 1)}
    targets = {"a": torch.randn(1, 2, 2), "b": torch.randn(1, 4, 4)}
    weights = {"a": 0.5, "b": 3.0}
    expected = 0.0
    for name, weight in weights.items():
        f = features[name][0]
        c, h, w = f.shape
        for i in range(c):
            for j in range(c):
                g = sum(f[i, y, x].item() * f[j, y, x].item() for y in range(h) for x in range(w)) / (c * h * w)
                expected += weight * (g - targets[name][0, i, j].item()) ** 2
    assert st.style_loss(features, targets, weights).item() == pytest.approx(expected, rel=1e-5)


def test_total_variation_loss_matches_a_loop():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 4, 5)
    expected = 0.0
    for c in range(3):
        for h in range(4):
            for w in range(5):
                if h + 1 < 4:
                    expected += (image[0, c, h + 1, w] - image[0, c, h, w]).item() ** 2
                if w + 1 < 5:
                    expected += (image[0, c, h, w + 1] - image[0, c, h, w]).item() ** 2
    assert st.total_variation_loss(image, 2.5).item() == pytest.approx(2.5 * expected, rel=1e-5)
    assert st.total_variation_loss(torch.full((1, 3, 4, 5), 0.3), 1.0).item() == 0.0


# --------------------------------------------------------------------------- layer names and the frozen network

def test_vgg_layer_names_follow_the_papers():
    import torchvision
    for arch, convs, conv5_last in (("vgg19", 16, "conv5_4"), ("vgg16", 13, "conv5_3")):
        features = torchvision.models.get_model(arch).features
        names = st.layer_indices(arch, features)
        assert sum(name.startswith("conv") for name in names) == convs
        assert names["conv1_1"] == 0 and names["relu1_1"] == 1 and names["pool1"] == 4
        assert isinstance(features[names[conv5_last]], nn.Conv2d)
        assert isinstance(features[names["relu" + conv5_last[4:]]], nn.ReLU)
        # the classic layers of Gatys et al.
        assert (names["conv4_2"], names["conv3_2"]) == ((21, 12) if arch == "vgg19" else (19, 12))
        assert features[names["conv4_2"]].in_channels == 512 and features[names["conv3_2"]].in_channels == 256
        with pytest.raises(util.UserError, match=rf"{arch} has no layer 'conv9_9': use one of conv1_1, .*conv4_2, "
                                                 rf".*{conv5_last}, relu{conv5_last[4:]}, pool5$"):
            st.FeatureExtractor(arch, features, ["conv4_2", "conv9_9"])


def test_squeezenet_layer_names():
    import torchvision
    features = torchvision.models.squeezenet1_1().features
    names = st.layer_indices("squeezenet1_1", features)
    assert len(names) == len(features)
    assert isinstance(features[names["conv1"]], nn.Conv2d)
    assert all(type(features[names[f"fire{k}"]]).__name__ == "Fire" for k in range(2, 10))
    assert all(isinstance(features[names[p]], nn.MaxPool2d) for p in ("pool1", "pool3", "pool5"))


def test_gradients_flow_only_into_the_image():
    settings = st.DEFAULTS["squeezenet1_1"]
    extractor = random_squeezenet(settings)
    before = {name: p.clone() for name, p in extractor.named_parameters()}
    assert before and not any(p.requires_grad for p in extractor.parameters())
    extractor.train()  # must stay in eval mode
    assert not extractor.training

    torch.manual_seed(0)
    content, style = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    image = content.clone().requires_grad_(True)
    features = extractor(image)
    style_grams = {name: st.gram_matrix(f).detach() for name, f in extractor(style).items()}
    loss = (st.content_loss(1.0, features[settings.content_layer], extractor(content)[settings.content_layer])
            + st.style_loss(features, style_grams, settings.layer_weights()) + st.total_variation_loss(image, 1.0))
    loss.backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in extractor.parameters())

    st.stylize(extractor, content, style, settings, steps=3)
    assert all(torch.equal(p, before[name]) for name, p in extractor.named_parameters())
    assert all(p.grad is None for p in extractor.parameters())


@pytest.mark.parametrize("optimizer,init", [("lbfgs", "content"), ("adam", "random"), ("lbfgs", "style")])
def test_a_few_steps_reduce_the_total_loss_and_keep_pixels_valid(optimizer, init):
    settings = st.DEFAULTS["squeezenet1_1"]
    extractor = random_squeezenet(settings)
    torch.manual_seed(0)
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 36, 36)
    result = st.stylize(extractor, content, style, settings, steps=8, optimizer=optimizer, init=init,
                        snapshot_every=4)
    total = result.curves["total_loss"]
    assert len(total) == 9 and all(len(values) == 9 for values in result.curves.values())
    assert total[-1] < 0.7 * total[0], total
    assert result.image.shape == content.shape
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert [step for step, _ in result.snapshots] == [0, 4, 8]


def test_initial_images():
    content, style = torch.rand(1, 3, 8, 10), torch.rand(1, 3, 20, 20)
    assert torch.equal(st.initial_image("content", content, style, 0), content)
    assert st.initial_image("style", content, style, 0).shape == content.shape
    noise = st.initial_image("random", content, style, 0)
    assert noise.shape == content.shape and torch.equal(noise, st.initial_image("random", content, style, 0))


def test_load_image_resizes_the_longer_side(tmp_path):
    from PIL import Image
    Image.new("RGB", (80, 40), (255, 0, 0)).save(tmp_path / "red.png")
    image = st.load_image(tmp_path / "red.png", 32)
    assert image.shape == (1, 3, 16, 32)
    assert image[0, 0].min() == 1.0 and image[0, 1:].max() == 0.0

    (tmp_path / "broken.jpg").write_text("not an image")
    with pytest.raises(util.UserError, match="cannot read .*broken.jpg"):
        st.load_image(tmp_path / "broken.jpg", 32)


def test_an_image_over_pillows_pixel_limit_is_a_user_error(tmp_path, monkeypatch):
    from PIL import Image
    Image.new("RGB", (80, 40)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 3200 pixels: over twice the limit, a decompression bomb
    with pytest.raises(util.UserError, match="cannot read .*big.png"):
        st.load_image(tmp_path / "big.png", 32)


def test_style_layers_argument():
    assert st.parse_style_layers("conv1_1:2, conv2_1") == {"conv1_1": 2.0, "conv2_1": 1.0}
    assert st.parse_style_layers("conv1_1:0,conv2_1:1e-3") == {"conv1_1": 0.0, "conv2_1": 1e-3}
    with pytest.raises(util.UserError, match="NAME:WEIGHT"):
        st.parse_style_layers("conv1_1:heavy")
    for weight in ("-1", "nan", "inf"):
        with pytest.raises(util.UserError, match=f"'fire3:{weight}' has a weight that is not a finite number >= 0"):
            st.parse_style_layers(f"relu1:1,fire3:{weight}")


# --------------------------------------------------------------------------- the script

def test_demo_end_to_end_writes_image_grid_curves_and_metrics(isolated):
    out = isolated / "run"
    result = run_script(SCRIPT, "--demo", "--steps", "8", "--threads", "1",  # --demo: random weights, no download
                        "--results-dir", out, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("stylized.png", "progress.png", "losses.png", "comparison.png"):
        assert (out / name).stat().st_size > 1000, name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("content_loss_initial", "content_loss_final", "style_loss_initial", "style_loss_final",
                "tv_loss_initial", "tv_loss_final", "seconds"):
        assert isinstance(metrics[key], float), key
    assert metrics["demo"] is True and metrics["dataset"] == "demo_style" and metrics["model"] == "vgg19"
    assert metrics["style_loss_final"] < metrics["style_loss_initial"]
    assert "RANDOM" in metrics["weights"]


def test_sweep_writes_one_figure(isolated, monkeypatch):
    out = isolated / "sweep"
    monkeypatch.setattr(sys, "argv", [SCRIPT, "--demo", "--weights", "none", "--model", "squeezenet1_1", "--sweep",
                                      "--steps", "2", "--size", "32", "--results-dir", str(out)])
    st.main()
    assert (out / "sweep.png").stat().st_size > 1000
    runs = json.loads((out / "metrics.json").read_text())["sweep"]
    default = st.DEFAULTS["squeezenet1_1"]
    assert {run["content_weight"] for run in runs} >= {ratio * default.style_weight for ratio in st.SWEEP_RATIOS}
    assert {run["init"] for run in runs} == set(st.INITS)
    assert {run["content_layer"] for run in runs} == {default.content_layer, default.alternative_content_layer}


def run_main_in_process(monkeypatch, capsys, *args) -> tuple[int, str]:
    """util.run_main(main) as the script's __main__ does, without a new process: (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", [SCRIPT, *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        util.run_main(st.main)
    return exit_info.value.code, capsys.readouterr().err


def test_missing_image_is_a_clear_error(isolated, monkeypatch, capsys):
    code, stderr = run_main_in_process(monkeypatch, capsys, "--content", isolated / "nowhere.jpg",
                                       "--style", isolated / "nowhere.jpg", "--results-dir", isolated / "run")
    assert code == 2 and "Traceback" not in stderr
    assert stderr.strip().startswith("error: image ") and "nowhere.jpg does not exist" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option", ["--content", "--style", "--weights"])
def test_a_folder_given_for_a_file_is_called_a_folder_before_the_run(isolated, monkeypatch, capsys, option):
    folder = isolated / "pictures"
    folder.mkdir()
    code, stderr = run_main_in_process(monkeypatch, capsys, "--demo", "--model", "squeezenet1_1", option, folder,
                                       "--results-dir", isolated / "run")
    assert code == 2 and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert f"{folder} is a folder, not a file" in stderr
    assert not (isolated / "run").exists()


def test_unknown_layer_is_a_clear_error(isolated, monkeypatch, capsys):
    code, stderr = run_main_in_process(monkeypatch, capsys, "--demo", "--weights", "none", "--model", "squeezenet1_1",
                                       "--content-layer", "conv4_2", "--results-dir", isolated / "run")
    error_lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(error_lines) == 1 and "Traceback" not in stderr
    assert "no layer 'conv4_2'" in error_lines[0] and "fire2" in error_lines[0]
    assert not (isolated / "run").exists()  # bad input never creates (or moves aside) a run folder


@pytest.mark.parametrize("sizes, message", [
    (["--size", "8"],
     "the content image (8x8 pixels at --size 8) is too small for pool3 of squeezenet1_1: use --size >= 9"),
    (["--size", "32", "--style-size", "8"],
     "the style image (8x8 pixels at --style-size 8) is too small for pool3 of squeezenet1_1: use --style-size >= 9")])
def test_an_image_too_small_for_the_network_is_one_sentence_before_the_run(isolated, monkeypatch, capsys, sizes,
                                                                           message):
    code, stderr = run_main_in_process(monkeypatch, capsys, "--demo", "--model", "squeezenet1_1", "--steps", "2",
                                       *sizes, "--results-dir", isolated / "run")
    assert code == 2 and "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [f"error: {message}"]
    assert not (isolated / "run").exists()
    # and the size it names is the smallest that works
    extractor = random_squeezenet(st.DEFAULTS["squeezenet1_1"])
    too_big = st.layer_too_big_for(extractor, "squeezenet1_1")
    assert too_big(9, 9) is None
    assert too_big(8, 8) == "pool3"


def test_the_size_named_for_an_elongated_image_is_the_smallest_that_works(tmp_path):
    from PIL import Image
    path = tmp_path / "wide.png"
    Image.new("RGB", (1000, 30)).save(path)
    extractor = random_squeezenet(st.DEFAULTS["squeezenet1_1"])
    with pytest.raises(util.UserError, match=r"\(4x128 pixels at --size 128\).* use --size >= (\d+)") as error:
        st.check_size(extractor, "squeezenet1_1", path, 128, "content", "--size")
    needed = int(error.value.args[0].rsplit(">= ", 1)[1])
    st.check_size(extractor, "squeezenet1_1", path, needed, "content", "--size")  # passes
    assert st.load_image(path, needed).shape[2] == st.resized((1000, 30), needed)[1]
    with pytest.raises(util.UserError):
        st.check_size(extractor, "squeezenet1_1", path, needed - 1, "content", "--size")


def test_no_style_weight_records_no_style_loss_ratio(isolated, monkeypatch):
    out = isolated / "run"
    monkeypatch.setattr(sys, "argv", [SCRIPT, "--demo", "--model", "squeezenet1_1", "--style-weight", "0",
                                      "--steps", "2", "--size", "32", "--results-dir", str(out)])
    st.main()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["style_loss_initial"] == 0 and metrics["style_loss_ratio"] is None


SQUEEZENET_FILE = SHARED_WEIGHTS / "squeezenet1_1_imagenet.pth"
STYLE_IMAGES = SHARED_DATA / "images" / "style"


@pytest.mark.skipif(not (SQUEEZENET_FILE.is_file() and STYLE_IMAGES.is_dir()),
                    reason="ImageNet SqueezeNet and the style images (../shared) not present")
def test_pretrained_squeezenet_transfers_the_real_style():
    settings = st.DEFAULTS["squeezenet1_1"]
    extractor, description = st.build_extractor("squeezenet1_1", str(SQUEEZENET_FILE),
                                                [settings.content_layer, *settings.style_layers])
    content = st.load_image(STYLE_IMAGES / "tubingen.jpg", 96)
    style = st.load_image(STYLE_IMAGES / "starry_night.jpg", 96)
    curves = st.stylize(extractor, content, style, settings, steps=25).curves
    assert curves["style_loss"][-1] < curves["style_loss"][0] / 10, description
    assert 0 < curves["content_loss"][-1] < curves["style_loss"][0]
