import csv
import dataclasses
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import dataset
import util
from conftest import REPO, SHARED_DATA, assert_user_error, needs_shared_data, run_script


# --------------------------------------------------------------------------- splits, tokens, vocabulary

def test_stratified_split_has_the_course_sizes_and_keeps_proportions():
    labels = ["pos"] * 5331 + ["neg"] * 5331
    train, test = dataset.stratified_split(labels, 0.25, seed=0)
    assert (len(train), len(test)) == (7996, 2666)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    test_labels = np.array(labels)[test]
    assert abs((test_labels == "pos").sum() - 1333) <= 1


def test_stratified_split_is_deterministic_and_handles_rare_classes():
    labels = ["a"] * 3672 + ["b"] * 1500
    first = dataset.stratified_split(labels, 0.25, seed=0)
    assert [len(x) for x in first] == [3879, 1293]
    again = dataset.stratified_split(labels, 0.25, seed=0)
    other = dataset.stratified_split(labels, 0.25, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])
    rare = ["x"] * 10 + ["y"]
    keep, held = dataset.stratified_split(rare, 0.25, seed=0)
    assert len(held) == 3 and len(keep) == 8


def test_grouped_split_keeps_each_group_on_one_side_and_classes_in_proportion():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 400, 2000)              # threads of 1-15 posts
    labels = groups % 4                              # each thread within one class, as in a newsgroup
    keep, held = dataset.grouped_split(labels, groups, 0.1, seed=0)
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(2000))
    assert not set(groups[keep]) & set(groups[held])
    assert abs(len(held) - 200) <= 15
    for c in range(4):                               # every class near its share of 10%
        assert abs((labels[held] == c).sum() - 0.1 * (labels == c).sum()) <= 10
    again = dataset.grouped_split(labels, groups, 0.1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((keep, held), again))
    assert not np.array_equal(np.sort(held), np.sort(dataset.grouped_split(labels, groups, 0.1, seed=1)[1]))


def test_newsgroup_threads_stay_on_one_side_of_the_validation_split():
    posts = [f"From: a{i}@x.org Subject: {'Re: ' * (i % 3)}Topic {i % 50} is here and there body {i}"
             for i in range(500)]
    labels = [f"group{i % 50 % 5}" for i in range(500)]
    assert dataset.thread_key(posts[1]) == dataset.thread_key(posts[51]) == "topic 1 is here and"
    keep, held = dataset.validation_split("newsgroups", posts, labels, 0.1, seed=0)
    threads = [dataset.thread_key(p) for p in posts]
    assert len(held) == 50 and not {threads[i] for i in keep} & {threads[i] for i in held}
    plain = dataset.validation_split("sentiment", posts, labels, 0.1, seed=0)  # other sets: post by post
    assert all(np.array_equal(a, b) for a, b in zip(plain, dataset.stratified_split(labels, 0.1, seed=0)))


def test_tokenize_splits_clitics_like_glove():
    assert dataset.tokenize("It doesn't work, he's 21 years old...") == \
        ["it", "does", "n't", "work", ",", "he", "'s", "21", "years", "old", ".", ".", "."]
    assert dataset.tokenize("Café über") == ["café", "über"]


def test_vocabulary_reserves_padding_and_unknown():
    vocab = dataset.Vocabulary.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "zzz", "b"]) == [3, 1, 2]
    assert dataset.Vocabulary.from_json(vocab.to_json()).itos == vocab.itos
    assert len(dataset.Vocabulary.build([["a", "b", "c"]], max_size=3)) == 3


# --------------------------------------------------------------------------- CSV files

def _write_csv(path, rows, header=("sentence", "label")):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def test_text_csv_round_trip_keeps_commas_quotes_and_newlines(tmp_path):
    rows = [('he said "yes", then no', "pos"), ("one,two\nthree", "neg")]
    dataset.write_text_csv(tmp_path / "t.csv", rows)
    assert list(zip(*dataset.read_text_csv(tmp_path / "t.csv"))) == rows


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("text,tag\nhello,pos\n", "header"),
    ("sentence,label\nhello,pos\nno label here\n", ":3 has no label"),
    ("sentence,label\nhello,\n", ":2 has no label"),
    ("sentence,label\n", "holds no examples"),
])
def test_malformed_csv_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(dataset.DatasetError, match=message):
        dataset.read_text_csv(path)


def test_a_csv_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("sentence,label\ncafé crème,pos\n".encode("latin-1"))
    with pytest.raises(dataset.DatasetError, match="latin.csv is not UTF-8 text: prepare the dataset again"):
        dataset.read_text_csv(path)


def test_a_data_folder_that_cannot_be_created_is_a_clear_error(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(dataset.DatasetError, match="is a file: pass a folder as --data-dir"):
        dataset.ensure_demo("demo_text", tmp_path / "a_file")
    with pytest.raises(dataset.DatasetError, match="cannot create the data folder .* pass a writable folder"):
        dataset.prepare("questions", tmp_path, data_dir=tmp_path / "a_file" / "below")
    with pytest.raises(dataset.DatasetError, match="cannot create the data folder .* pass a writable folder"):
        dataset.download("spam", tmp_path / "a_file")
    if Path("/proc/self").is_dir():  # a folder that exists but takes no new files, even for root
        with pytest.raises(dataset.DatasetError, match="cannot write into the data folder /proc"):
            dataset.ensure_demo("demo_text", "/proc")


def test_a_test_label_unknown_to_train_is_an_error(isolated):
    folder = isolated / "data" / "sentiment"
    _write_csv(folder / "train.csv", [("good", "pos"), ("bad", "neg")])
    _write_csv(folder / "test.csv", [("fine", "pos"), ("odd", "neutral")])
    with pytest.raises(dataset.DatasetError, match="label 'neutral', unknown in the training split"):
        dataset.read_text_split("sentiment", "test")


# --------------------------------------------------------------------------- preparing from small fixtures

def _polarity_folder(root, n=8):
    folder = root / "rt-polaritydata"
    folder.mkdir(parents=True)
    pos = b"".join(b"a fine film number %d \x85 really .\n" % i for i in range(n))
    neg = b"".join(b"a dull film number %d , sadly .\n" % i for i in range(n))
    (folder / "rt-polarity.pos").write_bytes(pos)
    (folder / "rt-polarity.neg").write_bytes(neg)
    return folder


def test_prepare_sentiment_decodes_cp1252_and_splits_on_newlines_only(isolated):
    source = _polarity_folder(isolated / "src")
    result = run_script("dataset.py", "prepare", "sentiment", "--source", source)
    assert result.returncode == 0, result.stderr
    train = dataset.read_text_split("sentiment", "train")
    test = dataset.read_text_split("sentiment", "test")
    assert (len(train[0]), len(test[0])) == (12, 4)  # 16 lines: 0x85 did not break any
    assert sorted(test[1]) == ["neg", "neg", "pos", "pos"]
    assert any("\u2026" in s for s in train[0] + test[0])


def test_prepare_questions_merges_trec_files_and_rejects_malformed_lines(isolated):
    source = isolated / "trec"
    source.mkdir()
    lines = [f"{'NUM:date' if i % 2 else 'HUM:ind'} Who or when is question {i} ?" for i in range(12)]
    (source / "train_5500.label").write_bytes("\n".join(lines[:8]).encode("latin-1") + b"\n")
    (source / "TREC_10.label").write_bytes(("\n".join(lines[8:]) + "\nLOC:city Where is M\xfcnchen ?\n").encode("latin-1"))
    dataset.prepare("questions", source)
    sentences, labels = dataset.read_text_split("questions", "train")
    test_sentences, _ = dataset.read_text_split("questions", "test")
    assert len(sentences) + len(test_sentences) == 13
    assert set(labels) <= {"NUM:date", "HUM:ind", "LOC:city"}
    assert any("München" in s for s in sentences + test_sentences)

    (source / "TREC_10.label").write_text("this line has no label\n")
    result = run_script("dataset.py", "prepare", "questions", "--source", source)
    assert_user_error(result, "TREC_10.label:1", "COARSE:fine")


def _tar(path, files: dict):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_prepare_spam_reads_crlf_emails_as_one_line_each(isolated):
    files = {f"enron1/ham/{i:04d}.ham.txt": b"Subject: meeting\r\nsee you at 10\r\n" for i in range(6)}
    files.update({f"enron1/spam/{i:04d}.spam.txt": b"Subject: win\r\ncheap pills, now\r\n" for i in range(2)})
    _tar(isolated / "enron1.tar.gz", files)
    dataset.prepare("spam", isolated / "enron1.tar.gz")
    sentences, labels = dataset.read_text_split("spam", "train")
    assert len(sentences) == 6 and "\r" not in "".join(sentences) and "\n" not in "".join(sentences)
    assert "Subject: meeting see you at 10" in sentences or "Subject: win cheap pills, now" in sentences


def test_prepare_newsgroups_keeps_bydate_split_and_only_from_subject_headers(isolated):
    post = b"From: a@b.c\nSubject: engines\nOrganization: Somewhere\nLines: 2\n\nV8 engines are loud.\n"
    files = {f"20news-bydate-{split}/{group}/{i}": post for split in ("train", "test")
             for group in ("rec.autos", "sci.space") for i in range(3 if split == "train" else 2)}
    _tar(isolated / "20news-bydate.tar.gz", files)
    dataset.prepare("newsgroups", isolated / "20news-bydate.tar.gz")
    train, labels = dataset.read_text_split("newsgroups", "train")
    test, _ = dataset.read_text_split("newsgroups", "test")
    assert (len(train), len(test)) == (6, 4)
    assert train[0] == "From: a@b.c Subject: engines V8 engines are loud."
    assert set(labels) == {"rec.autos", "sci.space"}


def _image(path, colour=(200, 10, 10)):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)


def test_prepare_images_skips_unreadable_files_with_a_warning(isolated):
    source = isolated / "hymenoptera_data"
    for split in ("train", "val"):
        for cls in ("ants", "bees"):
            for i in range(2):
                _image(source / split / cls / f"{i}.jpg")
    (source / "train" / "ants" / "broken.jpg").write_bytes(b"not a jpeg")
    (source / "train" / "ants" / "imageNotFound.gif").write_bytes(b"GIF89a")
    result = run_script("dataset.py", "prepare", "hymenoptera", "--source", source)
    assert result.returncode == 0, result.stderr
    assert "broken.jpg" in result.stderr and "imageNotFound.gif" in result.stderr
    root = dataset.image_folder("hymenoptera")
    assert sorted(p.name for p in (root / "train" / "ants").iterdir()) == ["0.jpg", "1.jpg"]
    assert (root / "test" / "bees").is_dir()  # val serves as test

    images = dataset.image_dataset(source / "train")  # the loader skips the broken file too
    assert len(images) == 4


def test_prepare_rejects_an_archive_of_the_wrong_shape_and_leaves_nothing(isolated):
    _tar(isolated / "wrong.tar.gz", {"something/else.txt": b"hello"})
    result = run_script("dataset.py", "prepare", "hymenoptera", "--source", isolated / "wrong.tar.gz")
    assert_user_error(result, "does not look like an image dataset")
    data = isolated / "data"
    assert not data.exists() or [p.name for p in data.iterdir()] == []

    (isolated / "corrupt.tar.gz").write_bytes(b"\x1f\x8b garbage")
    result = run_script("dataset.py", "prepare", "spam", "--source", isolated / "corrupt.tar.gz")
    assert_user_error(result, "not a readable archive")
    assert len(result.stderr.strip().splitlines()) == 1  # not tarfile's list of every method it tried


def test_caltech_builder_takes_50_train_and_15_test_of_30_classes(isolated):
    categories = isolated / "101_ObjectCategories"
    for cls in dataset.CALTECH30_CLASSES:
        for i in range(66):
            _image(categories / cls / f"image_{i:04d}.jpg")
    _image(categories / "BACKGROUND_Google" / "x.jpg")
    dataset.prepare("caltech101", categories)
    root = dataset.image_folder("caltech101")
    assert len(list((root / "train").iterdir())) == 30
    assert all(len(list(d.iterdir())) == 50 for d in (root / "train").iterdir())
    assert all(len(list(d.iterdir())) == 15 for d in (root / "test").iterdir())
    cls = dataset.CALTECH30_CLASSES[0]
    assert not {p.name for p in (root / "train" / cls).iterdir()} & {p.name for p in (root / "test" / cls).iterdir()}


# ---- refusing a bad source at prepare time, in one sentence that names it

def _refused(name, source) -> str:
    """The message of a prepare that refuses `source`: one line naming the user's source (not the scratch copy
    in the data folder, a path the user never gave and which is gone), with nothing left in the data folder."""
    with pytest.raises(dataset.DatasetError) as raised:
        dataset.prepare(name, source)
    message = str(raised.value)
    assert str(source) in message and f".{name}." not in message and "\n" not in message, message
    data = dataset.data_root()
    assert not data.exists() or not any(data.iterdir())
    return message


def _pickle(path, value):
    with open(path, "wb") as f:
        pickle.dump(value, f)


def _cut(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


def _zeros_batch(rows, width=3072, label=0):
    return {"data": np.zeros((rows, width), np.uint8), "fine_labels": [label] * rows}


CIFAR_DAMAGES = {  # what is done to the files of a CIFAR-100 copy, and what the refusal says (SOURCE: --source)
    "garbage": (lambda f: (f / "train").write_bytes(b"not a pickle at all"),
                "cifar-100-python/train in SOURCE is not a CIFAR-100 python batch (invalid load key"),
    "truncated": (lambda f: _cut(f / "test", 5000),
                  "cifar-100-python/test in SOURCE is not a CIFAR-100 python batch (pickle data was truncated)"),
    "a list": (lambda f: _pickle(f / "train", [1, 2, 3]), "train in SOURCE is not a CIFAR-100 python batch"),
    "no labels": (lambda f: _pickle(f / "train", {"data": np.zeros((2, 3072), np.uint8)}),
                  "train in SOURCE is not a CIFAR-100 python batch (no 'fine_labels' entry)"),
    "wrong shape": (lambda f: _pickle(f / "test", _zeros_batch(4, width=1024)),
                    "test in SOURCE has data of shape (4, 1024) and labels of shape (4,), expected (N, 3072)"),
    "labels": (lambda f: _pickle(f / "test", _zeros_batch(4, label=100)),
               "test in SOURCE has labels outside the 100 classes of its meta file"),
    "meta": (lambda f: (f / "meta").write_bytes(b"\x80\x04 junk"), "meta in SOURCE is not CIFAR-100 metadata"),
}


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "archive"])
@pytest.mark.parametrize("damage", CIFAR_DAMAGES)
def test_prepare_cifar_refuses_a_damaged_copy_naming_the_source(isolated, damage, packed):
    folder = isolated / "src" / "cifar-100-python"
    _cifar_fixture(folder, per_class=1)
    spoil, problem = CIFAR_DAMAGES[damage]
    spoil(folder)
    source = isolated / "src"
    if packed:
        source = isolated / "cifar-100-python.tar.gz"
        _tar(source, {f"cifar-100-python/{p.name}": p.read_bytes() for p in folder.iterdir()})
    message = _refused("cifar100", source)
    assert problem.replace("SOURCE", str(source)) in message and "as --source" in message, message


def test_prepare_cifar_reads_a_sound_copy_back(isolated):
    _cifar_fixture(isolated / "src" / "cifar-100-python", per_class=1)
    dataset.prepare("cifar100", isolated / "src")
    assert dataset.cifar100(7)[0][0].shape == (4, 3072) and len(dataset.cifar100_class_names(7)) == 4


def test_prepare_cifar_from_an_image_folder_says_it_is_not_cifar(isolated):
    for split in ("train", "test", "meta"):  # folders named like CIFAR-100's files
        _image(isolated / "src" / split / "cats" / "0.jpg")
    assert "does not look like CIFAR-100" in _refused("cifar100", isolated / "src")


def _idx_fixture(folder):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        images = (rng.integers(0, 4, (n, 28, 28)) * 60).astype(np.uint8)  # compressible: a body to damage
        dataset._write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        dataset._write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))


def _gzip(path, raw):
    path.write_bytes(gzip.compress(raw))


def _damage_gzip_body(path):
    packed = bytearray(path.read_bytes())
    packed[40:120] = bytes(b ^ 0xFF for b in packed[40:120])
    path.write_bytes(bytes(packed))


IDX = "train-images-idx3-ubyte"
IDX_DAMAGES = {
    "truncated gzip": (lambda f: _cut(f / f"{IDX}.gz", 100), f"{IDX}.gz in SOURCE is not a readable gzip file"),
    "damaged gzip": (lambda f: _damage_gzip_body(f / f"{IDX}.gz"), f"{IDX}.gz in SOURCE is not a readable gzip"),
    "not gzip": (lambda f: (f / f"{IDX}.gz").write_bytes(b"<html>not found</html>"),
                 f"{IDX}.gz in SOURCE is not a readable gzip file"),
    "wrong magic": (lambda f: _gzip(f / f"{IDX}.gz", b"\x00\x00\x0d\x03" + bytes(12)),  # 0x0d: floats
                    f"{IDX}.gz in SOURCE is not an IDX file of unsigned bytes"),
    "header only": (lambda f: _gzip(f / f"{IDX}.gz", b"\x00\x00\x08\x03\x00\x00\x00\x05"),  # 3 axes, 1 size
                    f"{IDX}.gz in SOURCE is not an IDX file"),
    "truncated idx": (lambda f: _gzip(f / f"{IDX}.gz", gzip.decompress((f / f"{IDX}.gz").read_bytes())[:-10]),
                      f"{IDX}.gz in SOURCE is truncated or damaged (3910 bytes of data for shape (5, 28, 28))"),
    "mismatch": (lambda f: dataset._write_idx(f / "t10k-labels-idx1-ubyte.gz", np.arange(2, dtype=np.uint8)),
                 "t10k-images-idx3-ubyte.gz in SOURCE does not match the t10k labels (images of shape (3, 28, 28), "
                 "labels of shape (2,))"),
    "uncompressed": (lambda f: ((f / f"{IDX}.gz").unlink(), (f / IDX).write_bytes(b"junk" * 10)),
                     f"{IDX} in SOURCE is not an IDX file"),
}


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "archive"])
@pytest.mark.parametrize("damage", IDX_DAMAGES)
def test_prepare_idx_refuses_a_damaged_copy_naming_the_source(isolated, damage, packed):
    folder = isolated / "src"
    _idx_fixture(folder)
    spoil, problem = IDX_DAMAGES[damage]
    spoil(folder)
    source = folder
    if packed:
        source = isolated / "mnist.tar.gz"
        _tar(source, {p.name: p.read_bytes() for p in folder.iterdir()})
    message = _refused("fashion_mnist", source)
    assert problem.replace("SOURCE", str(source)) in message and "as --source" in message, message


def test_prepare_idx_keeps_reading_a_sound_copy_and_its_cli_error_is_one_line(isolated):
    _idx_fixture(isolated / "src")
    dataset.prepare("mnist", isolated / "src")
    assert dataset.load_mnist("mnist")[0][0].shape == (5, 28, 28)
    _idx_fixture(isolated / "bad")
    _cut(isolated / "bad" / f"{IDX}.gz", 100)
    result = run_script("dataset.py", "--data-dir", isolated / "fresh", "prepare", "mnist", "--source",
                        isolated / "bad")
    assert_user_error(result, f"{IDX}.gz in {isolated / 'bad'} is not a readable gzip file", "--source")
    assert not any((isolated / "fresh").iterdir())


def _image_set(root, train, test, test_name="val"):
    for split, classes in (("train", train), (test_name, test)):
        for cls in classes:
            _image(root / split / cls / "0.jpg")
    return root


@pytest.mark.parametrize("train, test, problem", [
    (["ants"], ["ants"], "has only one class in train/ (ants): a classifier needs at least two"),
    (["ants"], ["ants", "bees"], "has only one class in train/ (ants)"),
    (["ants", "bees"], ["ants", "bees", "wasps"], ": val/ has classes train/ lacks (wasps): give both the same"),
    (["ants", "bees", "wasps"], ["ants", "bees"], ": val/ lacks classes train/ has (wasps): give both the same"),
    (["a", "b", "c", "d", "e", "f", "g"], ["a", "h"], "val/ has classes train/ lacks (h) and val/ lacks classes "
                                                      "train/ has (b, c, d, e, f and 1 more)"),
])
def test_prepare_images_refuses_classes_a_classifier_cannot_use(isolated, train, test, problem):
    source = _image_set(isolated / "animals", train, test)
    message = _refused("animals", source)
    assert problem in message, message


def test_prepare_images_counts_only_classes_with_readable_images(isolated):
    source = _image_set(isolated / "animals", ["ants", "bees"], ["ants", "bees"], test_name="test")
    (source / "train" / "bees" / "0.jpg").write_bytes(b"not a jpeg")  # bees: an empty class to ImageFolder
    assert "has only one class in train/ (ants)" in _refused("animals", source)
    _image(source / "train" / "bees" / "1.jpg")
    dataset.prepare("animals", source)
    assert sorted(p.name for p in (dataset.image_folder("animals") / "test").iterdir()) == ["ants", "bees"]


def test_prepare_images_cli_refuses_a_single_class_in_one_line(isolated):
    source = _image_set(isolated / "animals", ["ants"], ["ants"], test_name="test")
    result = run_script("dataset.py", "prepare", "animals", "--source", source)
    assert_user_error(result, f"{source} has only one class in train/ (ants)", "at least two")
    assert not any((isolated / "data").iterdir())


def _coco_fixture(folder):
    """The cs231n captioning files as coco_utils.load_coco_data reads them, a few rows each."""
    import json
    folder.mkdir(parents=True)
    _h5(folder / CAPTIONS, train_captions=np.ones((4, 5), np.int32), train_image_idxs=np.array([0, 0, 1, 1]),
        val_captions=np.ones((2, 5), np.int32), val_image_idxs=np.array([0, 0]))
    for split, images in (("train", 2), ("val", 1)):
        _h5(folder / f"{split}2014_vgg16_fc7_pca.h5", features=np.zeros((images, 8), np.float32))
        (folder / f"{split}2014_urls.txt").write_text("".join(f"http://x/{i}.jpg\n" for i in range(images)))
    words = ["<NULL>", "<START>", "<END>", "<UNK>", "cat"]
    (folder / "coco2014_vocab.json").write_text(json.dumps({"idx_to_word": words,
                                                            "word_to_idx": {w: i for i, w in enumerate(words)}}))
    return folder


def _h5(path, **arrays):
    import h5py
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f[key] = value


def _truncated_h5(path):
    _h5(path, train_captions=np.ones((2000, 17), np.int32))
    _cut(path, 4000)


CAPTIONS = "coco2014_captions.h5"
TRAIN_FEATURES = "train2014_vgg16_fc7_pca.h5"
COCO_DAMAGES = {
    "not hdf5": (lambda f: (f / CAPTIONS).write_bytes(b"<html>moved</html>"),
                 f"{CAPTIONS} in SOURCE is not a readable HDF5 file"),
    "truncated": (lambda f: _truncated_h5(f / CAPTIONS), f"{CAPTIONS} in SOURCE is not a readable HDF5 file"),
    "no keys": (lambda f: _h5(f / CAPTIONS, captions=np.ones((2, 5))),
                f"{CAPTIONS} in SOURCE lacks train_captions, train_image_idxs, val_captions, val_image_idxs"),
    "no val idxs": (lambda f: _h5(f / CAPTIONS, train_captions=np.ones((2, 5)), train_image_idxs=np.zeros(2),
                                  val_captions=np.ones((2, 5))), f"{CAPTIONS} in SOURCE lacks val_image_idxs,"),
    "float idxs": (lambda f: _h5(f / CAPTIONS, train_captions=np.ones((2, 5), np.int32), train_image_idxs=np.zeros(2),
                                 val_captions=np.ones((2, 5), np.int32), val_image_idxs=np.zeros(2, np.int32)),
                   f"{CAPTIONS} in SOURCE has train_captions of shape (2, 5) (int32) and train_image_idxs of shape "
                   f"(2,) (float64), expected integers"),
    "no features": (lambda f: (f / "val2014_vgg16_fc7_pca.h5").unlink(), "SOURCE lacks val2014_vgg16_fc7_pca.h5,"),
    "junk features": (lambda f: (f / TRAIN_FEATURES).write_bytes(b"\x00" * 64),
                      f"{TRAIN_FEATURES} in SOURCE is not a readable HDF5 file"),
    "features key": (lambda f: _h5(f / TRAIN_FEATURES, fc7=np.zeros((2, 8))),
                     f"{TRAIN_FEATURES} in SOURCE lacks features,"),
    "flat features": (lambda f: _h5(f / TRAIN_FEATURES, features=np.zeros(16)),
                      f"{TRAIN_FEATURES} in SOURCE holds features of shape (16,), expected (images, dimension)"),
    "too few images": (lambda f: _h5(f / TRAIN_FEATURES, features=np.zeros((1, 8))),
                       f"{CAPTIONS} in SOURCE has train captions of images 0 to 1, but {TRAIN_FEATURES} holds the "
                       f"features of 1 image:"),
    "no vocab": (lambda f: (f / "coco2014_vocab.json").unlink(), "SOURCE lacks coco2014_vocab.json,"),
    "junk vocab": (lambda f: (f / "coco2014_vocab.json").write_text('["a"]'),
                   "coco2014_vocab.json in SOURCE is not a JSON object with word_to_idx and idx_to_word"),
    "no urls": (lambda f: (f / "train2014_urls.txt").unlink(), "SOURCE lacks train2014_urls.txt,"),
    "binary urls": (lambda f: (f / "val2014_urls.txt").write_bytes(b"\xff\xfe\x00junk"),
                    "val2014_urls.txt in SOURCE is not UTF-8 text"),
}


@pytest.mark.parametrize("damage", COCO_DAMAGES)
def test_prepare_captions_refuses_files_the_loader_cannot_read(isolated, damage):
    source = _coco_fixture(isolated / "coco_captioning")
    spoil, problem = COCO_DAMAGES[damage]
    spoil(source)
    message = _refused("coco_captioning", source)
    assert problem.replace("SOURCE", str(source)) in message and "as --source" in message, message


def test_a_captions_file_the_system_will_not_open_is_not_called_damaged(isolated, monkeypatch):
    # a lock refused (HDF5 on NFS) or a permission denied: under `download`, a damaged file would be deleted
    import h5py
    source = _coco_fixture(isolated / "coco_captioning")

    def refused(path, mode="r"):
        raise OSError("Unable to synchronously open file (unable to lock file, errno = 37, error message = "
                      "'No locks available')")
    monkeypatch.setattr(h5py, "File", refused)
    with pytest.raises(dataset.DatasetError) as raised:
        dataset.prepare("coco_captioning", source)
    assert not isinstance(raised.value, dataset.DamagedSource)
    message = str(raised.value)
    assert f"{CAPTIONS} in {source} cannot be read (" in message and "No locks available" in message


def test_prepare_captions_copies_what_the_loader_reads(isolated):
    sys.path.insert(0, str(REPO / "numpy_layers"))
    try:
        import coco_utils
    finally:
        sys.path.remove(str(REPO / "numpy_layers"))
    _coco_fixture(isolated / "src" / "coco_captioning")
    (isolated / "src" / "coco_captioning" / "__MACOSX").mkdir()  # a folder beside the files is not copied
    dataset.prepare("coco_captioning", isolated / "src")
    data = coco_utils.load_coco_data(isolated / "data" / "coco_captioning")
    assert data["train_features"].shape == (2, 8) and data["idx_to_word"][4] == "cat"
    (isolated / "src" / "coco_captioning" / CAPTIONS).write_bytes(b"junk")
    result = run_script("dataset.py", "prepare", "coco_captioning", "--source", isolated / "src")
    assert_user_error(result, f"coco_captioning/{CAPTIONS} in {isolated / 'src'} is not a readable HDF5 file")
    again = coco_utils.load_coco_data(isolated / "data" / "coco_captioning")  # the copy prepared before stays
    assert again["train_captions"].shape == (4, 5)
    assert [p.name for p in (isolated / "data").iterdir()] == ["coco_captioning"]

# --------------------------------------------------------------------------- downloads

def test_download_checksum_mismatch_deletes_the_partial_file(tmp_path):
    source = tmp_path / "archive.tar.gz"
    source.write_bytes(b"some bytes")
    wrong = dataset.Remote(source.as_uri(), "archive.tar.gz", "0" * 64)
    with pytest.raises(dataset.DatasetError, match="wrong content, sha256 .* kept nothing"):
        dataset.fetch(wrong, tmp_path / "cache", "spam")
    assert list((tmp_path / "cache").iterdir()) == []
    right = dataset.Remote(source.as_uri(), "archive.tar.gz", hashlib.sha256(b"some bytes").hexdigest())
    assert dataset.fetch(right, tmp_path / "cache").read_bytes() == b"some bytes"


def test_fetch_tries_the_mirrors_when_a_download_has_the_wrong_content(tmp_path):
    # a server may send an error page, or an outdated file, with status 200: the next mirror may have the right one
    wrong, right = tmp_path / "wrong.tar.gz", tmp_path / "right.tar.gz"
    wrong.write_bytes(b"an error page")
    right.write_bytes(b"the archive")
    remote = dataset.Remote(wrong.as_uri(), "archive.tar.gz", hashlib.sha256(b"the archive").hexdigest(),
                            mirrors=(right.as_uri(),))
    assert dataset.fetch(remote, tmp_path / "cache", "spam").read_bytes() == b"the archive"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["archive.tar.gz"]


def test_download_failure_says_how_to_prepare_offline(tmp_path):
    missing = dataset.Remote((tmp_path / "nowhere.zip").as_uri(), "nowhere.zip", None,
                             mirrors=((tmp_path / "also_nowhere.zip").as_uri(),))
    with pytest.raises(dataset.DatasetError, match="could not download nowhere.zip .*dataset.py prepare spam --source"):
        dataset.fetch(missing, tmp_path / "cache", "spam")
    assert not any((tmp_path / "cache").iterdir())


def test_every_registered_download_names_a_checksum_or_says_none_is_published():
    no_published_checksum = {"spam", "hymenoptera", "caltech101", "coco_captioning"}  # glove: an md5 only
    for spec in dataset.REGISTRY.values():
        for remote in spec.remotes:
            assert remote.url.startswith(("http://", "https://"))
            if spec.name in no_published_checksum:
                assert remote.sha256 is None and remote.md5 is None
            else:
                assert len(remote.sha256 or "") == 64 or len(remote.md5 or "") == 32, spec.name


def _serve(body: bytes, length: int | None, cut: bool = False):
    """A one-request HTTP/1.0 server on localhost sending `body` under a Content-Length of `length` (None: no
    Content-Length, the body ends when the connection closes)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/archive.tar.gz", server


def test_a_download_cut_short_is_not_kept_even_without_a_checksum(tmp_path):
    url, server = _serve(b"half of it", length=20)
    with server:
        with pytest.raises(dataset.DatasetError, match="archive.tar.gz: .*10.*kept nothing"):
            dataset.fetch(dataset.Remote(url, "archive.tar.gz", None), tmp_path / "cache", "spam")
    assert list((tmp_path / "cache").iterdir()) == []


def _serve_raw(answer: bytes):
    """A one-connection server on localhost answering `answer` to whatever it is asked, HTTP or not."""
    import socket
    import threading
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_once():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answer)
    threading.Thread(target=answer_once, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/archive.tar.gz", listener


def test_a_server_answering_garbage_is_a_download_error_and_leaves_nothing(tmp_path):
    # http.client raises its own exceptions (BadStatusLine here), neither OSError nor ValueError
    url, listener = _serve_raw(b"garbage\r\n\r\n")
    with listener:
        with pytest.raises(dataset.DatasetError, match="(?s)could not download archive.tar.gz .*garbage.*kept nothing"):
            dataset.fetch(dataset.Remote(url, "archive.tar.gz", None), tmp_path / "cache", "spam")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_server_answering_garbage_is_named_in_a_one_line_error(tmp_path):
    # http.client's BadStatusLine quotes the server's line, line break included
    url, listener = _serve_raw(b"garbage\r\n\r\n")
    with listener:
        with pytest.raises(dataset.DatasetError) as error:
            dataset.fetch(dataset.Remote(url, "archive.tar.gz", None), tmp_path / "cache", "spam")
    assert "garbage" in str(error.value) and "\n" not in str(error.value) and "\r" not in str(error.value)


def test_a_download_without_a_content_length_is_kept_whole(tmp_path):
    # HTTP/1.0 without Content-Length: the body runs until the server closes, and nothing says how long it is
    url, server = _serve(b"all of it", length=None)
    with server:
        path = dataset.fetch(dataset.Remote(url, "archive.tar.gz", None), tmp_path / "cache", "spam")
    assert path.read_bytes() == b"all of it"


def test_an_unverified_download_that_cannot_be_prepared_is_not_reused(isolated, monkeypatch):
    cache = isolated / "data" / "downloads" / "spam"
    cache.mkdir(parents=True)
    (cache / "enron1.tar.gz").write_bytes(b"not an archive")  # as if a server had sent an error page
    monkeypatch.setattr(dataset, "_fetch_url", lambda *a: pytest.fail("the cached file should be reused first"))
    with pytest.raises(dataset.DatasetError, match="not a readable archive"):
        dataset.download("spam")
    assert not (cache / "enron1.tar.gz").exists()  # so the next download fetches it anew


def test_a_verified_download_that_cannot_be_prepared_is_kept(isolated, monkeypatch):
    # its checksum is the published one, so downloading it again would bring the same bytes: it stays
    content = b"not an archive"
    sentiment = dataset.REGISTRY["sentiment"]
    verified = dataclasses.replace(sentiment.remotes[0], sha256=hashlib.sha256(content).hexdigest())
    monkeypatch.setitem(dataset.REGISTRY, "sentiment", dataclasses.replace(sentiment, remotes=(verified,)))
    cache = isolated / "data" / "downloads" / "sentiment"
    cache.mkdir(parents=True)
    (cache / verified.filename).write_bytes(content)
    monkeypatch.setattr(dataset, "_fetch_url", lambda *a: pytest.fail("the cached file should be reused first"))
    with pytest.raises(dataset.DatasetError, match="not a readable archive"):
        dataset.download("sentiment")
    assert (cache / verified.filename).read_bytes() == content


# --------------------------------------------------------------------------- missing data and the CLI

def test_missing_dataset_names_the_command_that_provides_it(isolated):
    with pytest.raises(dataset.DatasetError, match=r"dataset.py download spam.*dataset.py prepare spam"):
        dataset.load_text_dataset("spam", 10)
    with pytest.raises(dataset.DatasetError) as raised:  # a dataset without a public source: only prepare works
        dataset.dataset_path("places")
    assert "no public download" in str(raised.value) and "dataset.py prepare places --source PATH" in str(raised.value)
    assert "dataset.py download" not in str(raised.value)
    assert_user_error(run_script("dataset.py", "prepare", "nosuchset", "--source", "."), "unknown dataset 'nosuchset'")
    assert_user_error(run_script("dataset.py", "prepare", "spam", "--source", isolated / "nothing"), "does not exist")


def test_list_shows_known_and_present(isolated):
    dataset.ensure_demo("demo_text")
    result = run_script("dataset.py", "list")
    assert result.returncode == 0
    assert "sentiment" in result.stdout and "cifar100" in result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("demo_text")][0].split()[2] == "yes"
    # one damaged dataset is named on its own line; the others are still listed
    (isolated / "data" / "sentiment").mkdir(parents=True)
    (isolated / "data" / "sentiment" / "train.csv").write_text("text;polarity\nfine;pos\n")
    result = run_script("dataset.py", "list")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "DAMAGED" in lines["sentiment"] and "cifar100" in lines and "DAMAGED" not in lines["spam"]
    assert_user_error(run_script("dataset.py", "--data-dir", isolated / "data" / "sentiment" / "train.csv", "list"),
                      "train.csv is a file: pass a folder as --data-dir")


def test_shared_modules_import_from_any_folder(tmp_path):
    result = subprocess.run([sys.executable, "-c", "import util, dataset; print(util.REPO_ROOT)"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == str(REPO)


# --------------------------------------------------------------------------- loaders

def test_load_text_dataset_pads_truncates_and_builds_vocab_on_train_only(isolated):
    folder = isolated / "data" / "sentiment"
    _write_csv(folder / "train.csv", [("good good movie", "pos"), ("bad", "neg"), ("", "neg")])
    _write_csv(folder / "test.csv", [("unseen good words here", "pos")])
    data = dataset.load_text_dataset("sentiment", 3)
    assert data.classes == ["neg", "pos"]
    assert data.train_x.shape == (3, 3) and data.train_x.dtype == np.int32
    good, movie = data.vocab.stoi["good"], data.vocab.stoi["movie"]
    assert data.train_x[0].tolist() == [good, good, movie]
    assert data.train_x[1].tolist()[1:] == [0, 0] and data.train_lengths.tolist() == [3, 1, 1]
    assert data.train_x[2].tolist() == [1, 0, 0]  # an empty text is one unknown token
    assert "unseen" not in data.vocab.stoi
    assert data.test_x[0].tolist() == [1, good, 1] and data.test_lengths[0] == 3
    assert data.train_y.tolist() == [1, 0, 0] and data.test_y.tolist() == [1]


def test_the_vocabulary_leaves_out_the_words_only_validation_texts_have(isolated):
    folder = isolated / "data" / "sentiment"
    rows = [(f"shared word{i} good", "pos") for i in range(6)] + [(f"shared word{i} bad", "neg") for i in range(6, 12)]
    _write_csv(folder / "train.csv", rows)
    _write_csv(folder / "test.csv", [("shared good", "pos")])
    data = dataset.load_text_dataset("sentiment", 4, valid_fraction=0.25, seed=0)
    its = dataset.load_text_iterators("sentiment", 4, valid_fraction=0.25, seed=0)
    assert len(data.held) == 3 and sorted([*data.keep, *data.held]) == list(range(12))
    kept_words = {w for i in data.keep for w in dataset.tokenize(rows[i][0])}
    assert set(data.vocab.itos[2:]) == kept_words and its.vocab.itos == data.vocab.itos
    for i in data.held:  # each held-out text has its own word{i}: unknown, as a test-only word would be
        assert data.train_x[i][1] == dataset.Vocabulary.UNK and data.train_x[i][0] == data.vocab.stoi["shared"]
    everything = dataset.load_text_dataset("sentiment", 4)
    assert everything.held is None and len(everything.keep) == 12 and "word11" in everything.vocab.stoi


def test_extra_words_follow_the_training_words_once_each(tmp_path):
    vocab = dataset.Vocabulary.build([["a", "b", "a"]], extra=["b", "c", "c", "<unk>", "d"])
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "c", "d"] and vocab.extra == 2
    assert dataset.Vocabulary.build([["a"]]).extra == 0
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 1 2 3\ndog 4 5 6\n")
    assert dataset.glove_words(2, dim=3, path=path) == ["the", "cat"]
    assert dataset.glove_words(10, dim=3, path=path) == ["the", "cat", "dog"]
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        dataset.glove_words(2, dim=3, path=tmp_path / "missing.txt")


def test_iterators_are_sequence_first_bucketed_padded_and_repeatable(isolated):
    def collect(seed):
        its = dataset.load_text_iterators("questions", 16, valid_fraction=0.25, seed=seed, demo=True)
        return its, [(b.sentence.clone(), b.label.clone(), b.lengths.clone()) for b in its.train]

    its, batches = collect(0)
    assert its.name == "demo_topics" and len(its.classes) == 4
    assert sum(len(b[1]) for b in batches) == 300 and len(its.valid.sequences) == 100
    for sentence, label, lengths in batches:
        assert sentence.dtype.is_floating_point is False and sentence.shape[1] == label.shape[0] == lengths.shape[0]
        assert sentence.shape[0] == lengths.max()
        for j, length in enumerate(lengths.tolist()):
            assert (sentence[:length, j] > 0).all() and (sentence[length:, j] == 0).all()
    spread = np.mean([(b[2].max() - b[2].min()).item() for b in batches])
    assert spread <= 3  # bucketed: little padding within a batch
    _, same = collect(0)
    assert all((a[0].equal(b[0]) and a[1].equal(b[1])) for a, b in zip(batches, same))
    second_epoch = [b.label.clone() for b in its.train]
    assert not all(a[1].equal(b) for a, b in zip(batches, second_epoch))  # reshuffled each epoch
    test_lengths = [b.lengths for b in its.test]
    assert all(a.max() <= b.min() for a, b in zip(test_lengths, test_lengths[1:]))  # evaluation: sorted


def _iterated(iterator):
    """(token ids, label) of every text an iterator yields in one pass, each cut to its length."""
    return [(tuple(batch.sentence[:n, j].tolist()), int(batch.label[j]))
            for batch in iterator for j, n in enumerate(batch.lengths.tolist())]


def test_the_validation_iterator_reads_exactly_the_held_out_training_texts(isolated):
    # every text is told apart by its two numbered words, so the validation and training batches can be
    # traced back to the texts: together they are the training set, each text on one side only
    rows = [(f"n{i // 8} m{i % 8} {'good' if i % 2 else 'bad'}", "pos" if i % 2 else "neg") for i in range(40)]
    folder = isolated / "data" / "sentiment"
    _write_csv(folder / "train.csv", rows)
    _write_csv(folder / "test.csv", [("n0 m0 good", "pos"), ("n1 m1 bad", "neg")])
    its = dataset.load_text_iterators("sentiment", 4, valid_fraction=0.25, seed=0)
    text_of = {tuple(its.vocab.encode(dataset.tokenize(text))): (text, label) for text, label in rows}
    assert len(text_of) == 40  # no two texts encode alike, so the batches name their texts
    valid, train = _iterated(its.valid), _iterated(its.train)
    assert len(valid) == 10 and len(train) == 30
    assert sorted(text_of[ids][0] for ids, _ in valid + train) == sorted(text for text, _ in rows)
    assert all(its.classes[label] == text_of[ids][1] for ids, label in valid + train)  # labels stay with texts
    # the TensorFlow loader holds out the same texts for the same seed
    held = dataset.load_text_dataset("sentiment", 3, valid_fraction=0.25, seed=0).held
    assert sorted(text_of[ids][0] for ids, _ in valid) == sorted(rows[i][0] for i in held)


def test_max_seq_len_cuts_every_text_of_every_iterator_to_its_first_words(isolated):
    its = dataset.load_text_iterators("sentiment", 16, valid_fraction=0.2, seed=0, max_seq_len=5, demo=True)
    for iterator in (its.train, its.valid, its.test):
        batches = list(iterator)
        assert all(b.sentence.shape[0] <= 5 and int(b.lengths.max()) <= 5 for b in batches)
        assert any(int(b.lengths.max()) == 5 for b in batches)  # the limit binds: demo texts are longer
    texts, labels = dataset.read_text_split("sentiment", "test", demo=True)
    assert max(len(dataset.tokenize(text)) for text in texts) > 5
    expected = [(tuple(its.vocab.encode(dataset.tokenize(text))[:5]), its.classes.index(label))
                for text, label in zip(texts, labels)]
    assert sorted(_iterated(its.test)) == sorted(expected)


def test_load_dataset_gives_the_torchtext_style_triple(isolated):
    train, test, vocab_size = dataset.load_dataset("sentiment", 8, demo=True)
    batch = next(iter(test))
    assert batch.sentence.shape[1] == 8 and batch.label.shape == (8,)
    assert vocab_size == len(train.vocab) and train.classes == ["neg", "pos"]


def _cifar_fixture(folder, per_class=3):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        labels = np.repeat(np.arange(100), per_class)
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        data[:, 0] = labels  # lets the test check that rows keep their labels
        with open(folder / split, "wb") as f:
            pickle.dump({"data": data, "fine_labels": labels.tolist()}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"class{i}" for i in range(100)]}, f)


def test_cifar100_subset_by_seed(isolated):
    _cifar_fixture(isolated / "data" / "cifar100")
    (train_x, train_y), (test_x, test_y) = dataset.cifar100(7)
    assert train_x.shape == (12, 3072) and train_x.dtype == np.float32
    assert -0.5 <= train_x.min() and train_x.max() <= 0.5
    assert sorted(set(train_y.tolist())) == [0, 1, 2, 3] and np.bincount(test_y).tolist() == [3, 3, 3, 3]
    names = dataset.cifar100_class_names(7)
    original = np.round((train_x[:, 0] + 0.5) * 255).astype(int)
    assert [f"class{o}" for o in original] == [names[y] for y in train_y]
    assert len(set(names)) == 4
    assert dataset.cifar100_class_names(7) == names and dataset.cifar100_class_names(8) != names
    assert dataset.cifar100(7, num_classes=10)[0][0].shape == (30, 3072)


def test_load_mnist_reads_idx_files_and_rejects_truncated_ones(isolated):
    folder = isolated / "data" / "fashion_mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 5), ("t10k", 3)):
        dataset._write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", np.full((n, 28, 28), 7, np.uint8))
        dataset._write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    (x, y), (xt, yt) = dataset.load_mnist("fashion_mnist")
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8 and y.tolist() == [0, 1, 2, 3, 4] and xt.shape[0] == 3
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "rb") as f:
        raw = f.read()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(dataset.DatasetError, match="truncated"):
        dataset.load_mnist("fashion_mnist")


def test_glove_loader_fills_known_words_and_flags_malformed_lines(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 1 2 3\n")
    vocab = dataset.Vocabulary(["<pad>", "<unk>", "cat", "zebra"])
    matrix, found = dataset.load_glove(vocab, dim=3, path=path)
    assert matrix.shape == (4, 3) and matrix.dtype == np.float32 and found == 1
    assert matrix[2].tolist() == [1, 2, 3] and not matrix[0].any()
    assert matrix[3].any() and np.abs(matrix[3]).max() < 1  # unknown word: small random vector
    path.write_text("the 0.1 0.2 0.3\ncat 1 2\n")
    with pytest.raises(dataset.DatasetError, match="glove.6B.3d.txt:2 has 2 numbers, expected 3"):
        dataset.load_glove(vocab, dim=3, path=path)
    path.write_text("cat 1 x 3\n")
    with pytest.raises(dataset.DatasetError, match=":1 holds a value that is not a number"):
        dataset.load_glove(vocab, dim=3, path=path)
    path.write_text("")
    with pytest.raises(dataset.DatasetError, match="glove.6B.3d.txt is empty"):
        dataset.load_glove(vocab, dim=3, path=path)
    path.write_bytes("café 1 2 3\n".encode("latin-1"))
    for read in (lambda: dataset.load_glove(vocab, dim=3, path=path), lambda: dataset.glove_words(5, 3, path=path)):
        with pytest.raises(dataset.DatasetError, match="is not UTF-8 text"):
            read()
    with pytest.raises(dataset.DatasetError, match="is a folder"):
        dataset.load_glove(vocab, dim=3, path=tmp_path)
    packed = bytearray(gzip.compress("".join(f"w{i} 1 2 3\n" for i in range(500)).encode()))
    packed[200:400] = bytes(b ^ 0xFF for b in packed[200:400])  # a valid header over a damaged body
    (tmp_path / "glove.6B.3d.txt.gz").write_bytes(bytes(packed))
    with pytest.raises(dataset.DatasetError, match="damaged .gz"):
        dataset.load_glove(vocab, dim=3, path=tmp_path / "glove.6B.3d.txt.gz")


def test_char_text_errors(tmp_path):
    with pytest.raises(dataset.DatasetError, match="does not exist"):
        dataset.char_text(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(dataset.DatasetError, match="is empty"):
        dataset.char_text(tmp_path / "empty.txt")
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04\x00\x00 weights")  # a binary file is not a text to learn
    with pytest.raises(dataset.DatasetError, match="model.pt is not plain text .* with --text"):
        dataset.char_text(tmp_path / "model.pt")
    (tmp_path / "windows.txt").write_bytes("caf\u00e9 \u2026 na\u00efve".encode("cp1252"))
    assert dataset.char_text(tmp_path / "windows.txt") == "caf\u00e9 \u2026 na\u00efve"
    (tmp_path / "utf8.txt").write_bytes("caf\u00e9 \u2026".encode("utf-8"))
    assert dataset.char_text(tmp_path / "utf8.txt") == "caf\u00e9 \u2026"


# --------------------------------------------------------------------------- demo data

def test_demo_data_is_deterministic_and_of_every_kind(isolated, tmp_path):
    result = run_script("dataset.py", "demo")
    assert result.returncode == 0, result.stderr
    result = run_script("dataset.py", "--data-dir", tmp_path / "again", "demo")
    assert result.returncode == 0, result.stderr
    for kind in dataset.DEMO_KINDS:
        first = sorted((p.relative_to(isolated / "data" / kind), p.read_bytes())
                       for p in (isolated / "data" / kind).rglob("*") if p.is_file() and p.suffix != ".png")
        second = sorted((p.relative_to(tmp_path / "again" / kind), p.read_bytes())
                        for p in (tmp_path / "again" / kind).rglob("*") if p.is_file() and p.suffix != ".png")
        assert first == second and first, kind
        # readable by the others a shared data folder serves, as prepared datasets are (not mkdtemp's 0700)
        assert (isolated / "data" / kind).stat().st_mode & 0o777 == 0o777 & ~util.UMASK, kind
    (x, y), (xt, yt) = dataset.load_mnist(demo=True)
    assert x.shape == (2000, 28, 28) and sorted(set(y.tolist())) == list(range(10)) and xt.shape == (500, 28, 28)
    (cx, cy), _ = dataset.cifar100(0, demo=True)
    assert cx.shape[1] == 3072 and len(set(cy.tolist())) == 4
    content, style = dataset.style_pair(demo=True)
    assert content.exists() and style.exists()
    assert len(dataset.char_text(demo=True)) > 50_000
    root = dataset.image_folder("anything", demo=True)
    assert sorted(p.name for p in (root / "train").iterdir()) == ["blue_triangles", "green_squares", "red_circles"]


def test_image_folder_names_what_is_wrong_with_a_name_or_a_path(isolated, tmp_path):
    with pytest.raises(dataset.DatasetError, match="unknown image dataset 'ants': use one of hymenoptera"):
        dataset.image_folder("ants")
    with pytest.raises(dataset.DatasetError, match=f"no folder {tmp_path / 'photos'}: pass an existing"):
        dataset.image_folder(str(tmp_path / "photos"))


def test_demo_text_is_learnable_but_not_trivial(isolated):
    """A bag-of-words classifier separates the demo sentences well: the demo tests learning, not luck."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    for name in ("sentiment", "questions"):
        train = dataset.read_text_split(name, "train", demo=True)
        test = dataset.read_text_split(name, "test", demo=True)
        vectorizer = CountVectorizer().fit(train[0])
        model = LogisticRegression(max_iter=1000).fit(vectorizer.transform(train[0]), train[1])
        assert model.score(vectorizer.transform(test[0]), test[1]) > 0.9


def test_demo_captions_follow_the_coco_format():
    data = dataset.demo_captions(num_train=20, num_val=5)
    assert data["idx_to_word"][:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert data["train_features"].shape == (20, 512) and data["train_captions"].shape[0] == 40
    assert (data["train_captions"][:, 0] == 1).all()
    assert data["train_image_idxs"].max() == 19 and len(data["val_urls"]) == 5


# --------------------------------------------------------------------------- the real copies

@needs_shared_data
@pytest.mark.parametrize("name, source, counts", [
    ("sentiment", "text/rt-polaritydata", (7996, 2666)),
    ("spam", "text/enron1.tar.gz", (3879, 1293)),
    ("questions", "text/trec", (4464, 1488)),
    ("newsgroups", "text/20news-bydate.tar.gz", (11314, 7532)),
])
def test_prepare_real_text_sets_gives_the_course_counts(isolated, name, source, counts):
    dataset.prepare(name, SHARED_DATA / source)
    train = dataset.read_text_split(name, "train")
    test = dataset.read_text_split(name, "test")
    assert (len(train[0]), len(test[0])) == counts
    if name == "questions":
        assert len(set(train[1])) == 50
    if name == "newsgroups":
        assert len(set(train[1])) == 20


@needs_shared_data
def test_prepare_real_hymenoptera_skips_the_gif(isolated):
    dataset.prepare("hymenoptera", SHARED_DATA / "images" / "hymenoptera_data")
    root = dataset.image_folder("hymenoptera")
    assert sum(1 for p in (root / "train").rglob("*") if p.is_file()) == 244
    assert sum(1 for p in (root / "test").rglob("*") if p.is_file()) == 153


def test_concurrent_processes_can_build_the_same_demo_data(isolated):
    command = [sys.executable, str(REPO / "dataset.py"), "demo"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert dataset.read_text_split("sentiment", "train", demo=True)[0]
    assert not [p for p in (isolated / "data").iterdir() if p.name.startswith(".")]  # no scratch folders left


def test_unk_counts_as_unused_in_training_when_the_extra_words_bring_back_every_cut_word():
    tokens = [["a", "a", "b", "c"]]
    capped = dataset.Vocabulary.build(tokens, max_size=3)  # <pad>, <unk>, "a": "b" and "c" read <unk>
    assert capped.unk_in_training
    assert not dataset.Vocabulary.build(tokens, max_size=3, extra=["b", "c"]).unk_in_training
    assert dataset.Vocabulary.build(tokens, max_size=3, extra=["b"]).unk_in_training


def test_tar_members_outside_the_archive_are_refused_with_or_without_extraction_filters(tmp_path, monkeypatch):
    archive_path = tmp_path / "evil.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        data = b"x"
        member = tarfile.TarInfo("../escaped.txt")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    for filters in (True, False):
        if not filters:
            monkeypatch.delattr(tarfile, "data_filter")
        with pytest.raises(dataset.DatasetError, match="not a readable archive"):
            dataset._unpacked(archive_path, tmp_path / f"scratch{filters}")
        assert not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize("way_out", ["symlink", "absolute"])
def test_without_extraction_filters_tar_links_and_absolute_paths_are_refused(tmp_path, monkeypatch, way_out):
    # Python before 3.10.12 / 3.11.4 has no extraction filters: dataset's own checks are all that stands between
    # an archive and the rest of the disk. symlink: a link to a folder outside, then a file "through" it;
    # absolute: a member named by an absolute path (the "data" filter would strip its "/": refusing is the fallback's)
    monkeypatch.delattr(tarfile, "data_filter")
    outside = tmp_path / "outside"
    outside.mkdir()
    archive_path = tmp_path / "evil.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        if way_out == "symlink":
            link = tarfile.TarInfo("link")
            link.type, link.linkname = tarfile.SYMTYPE, str(outside)
            archive.addfile(link)
        member = tarfile.TarInfo("link/escaped.txt" if way_out == "symlink" else str(outside / "escaped.txt"))
        member.size = 1
        archive.addfile(member, io.BytesIO(b"x"))
    with pytest.raises(dataset.DatasetError, match="not a readable archive"):
        dataset._unpacked(archive_path, tmp_path / "scratch")
    assert not any(outside.iterdir())


def test_a_text_split_that_cannot_be_read_is_one_sentence(tmp_path):
    (tmp_path / "train.csv").mkdir()  # unreadable as a file, even for root (who reads files without permission)
    with pytest.raises(dataset.DatasetError, match="cannot read .*train.csv"):
        dataset.read_text_csv(tmp_path / "train.csv")


def test_a_full_disk_while_unpacking_keeps_the_download_and_says_so(isolated, monkeypatch):
    import errno
    import zipfile
    cache = isolated / "data" / "downloads" / "hymenoptera"
    cache.mkdir(parents=True)
    with zipfile.ZipFile(cache / "hymenoptera_data.zip", "w") as archive:
        archive.writestr("hymenoptera_data/train/ants/a.jpg", b"x")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(zipfile.ZipFile, "extractall", no_space)
    with pytest.raises(dataset.DatasetError, match="cannot unpack .*No space left on device.*free some space"):
        dataset.download("hymenoptera")
    assert (cache / "hymenoptera_data.zip").exists()  # nothing wrong with the download itself
