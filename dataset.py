"""Every dataset of the course in one place: registry, download, preparation, loaders and demo data.

Command line (see README, "Data"):
    python dataset.py list                          what is known, what is present, where
    python dataset.py download NAME                 fetch from the official source, verify sha256, prepare
    python dataset.py prepare NAME --source PATH    prepare from a local copy (archive or extracted folder)
    python dataset.py demo                          write the small generated demo data

Prepared layouts under the data root (--data-dir, else $COURSE_DATA_DIR, else data/):
    text sets    <root>/<name>/train.csv, test.csv   (columns sentence,label; real CSV quoting)
    image sets   <root>/<name>/{train,test}/<class>/<image>
    arrays       <root>/cifar100/{train,test,meta}, <root>/mnist/*.gz, <root>/glove/glove.6B.<d>d.txt[.gz], ...

torch / torchvision are imported inside the functions that need them: this module is shared with the
TensorFlow scripts, and importing TensorFlow then torchvision in one process crashes.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import gzip
import hashlib
import http.client
import io
import json
import math
import os
import pickle
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import util

csv.field_size_limit(2 ** 31 - 1)  # some emails and posts are long


class DatasetError(util.UserError):
    """A dataset is missing, malformed or of the wrong shape."""


class DamagedSource(DatasetError):
    """An archive that cannot be read: a download of it is not to be reused."""


class DamagedFile(DatasetError):
    """A data file that is not what it should be. `problem` says what without naming the file: preparing reads
    back a scratch copy of the user's file, and names the file in --source instead (see _blaming)."""

    def __init__(self, path: Path, problem: str, fix: str):
        super().__init__(f"{path} {problem}: {fix}")
        self.path, self.problem = Path(path), problem


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    return Path(data_dir or os.environ.get("COURSE_DATA_DIR") or util.REPO_ROOT / "data")


def _refuse_a_file(folder: Path) -> None:
    """A user error where the data folder is a file."""
    if folder.is_file():
        raise DatasetError(f"the data folder {folder} is a file: pass a folder as --data-dir")


def _make_folder(folder: Path) -> None:
    """mkdir -p, a user error where the data folder cannot be (a file, a read-only place)."""
    _refuse_a_file(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"cannot create the data folder {folder} ({error.strerror or error}): "
                           f"pass a writable folder as --data-dir") from None


@contextlib.contextmanager
def _scratch_folder(parent: Path, prefix: str):
    """A temporary folder inside `parent` (so a finished dataset is renamed into place, not copied), removed
    afterwards; a data folder that cannot be written is a user error."""
    _make_folder(parent)
    try:
        scratch = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    except OSError as error:
        raise DatasetError(f"cannot write into the data folder {parent} ({error.strerror or error}): "
                           f"pass a writable folder as --data-dir") from None
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- the registry

@dataclass(frozen=True)
class Remote:
    """One file of a dataset. Checksums are the published ones (TFDS, Keras, scikit-learn, Hugging Face,
    torchvision records); where none is published, sha256 is None and the prepared counts are checked."""
    url: str
    filename: str
    sha256: str | None
    mirrors: tuple[str, ...] = ()
    md5: str | None = None  # only where no sha256 is published (GloVe)

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url,) + self.mirrors


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # text | images | cifar | idx | glove | captions
    description: str
    remotes: tuple[Remote, ...] = ()
    counts: dict = field(default_factory=dict)
    note: str = ""


CALTECH30_CLASSES = (
    "Leopards Motorbikes airplanes bonsai brain buddha car_side chandelier cougar_face crab dalmatian dolphin "
    "dragonfly electric_guitar ewer ferry flamingo grand_piano hawksbill helicopter ibis ketch laptop llama lotus "
    "revolver scorpion starfish trilobite umbrella").split()

_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

REGISTRY: dict[str, Spec] = {s.name: s for s in [
    Spec("sentiment", "text", "sentence polarity v1.0 (Pang & Lee 2005), movie-review snippets, pos/neg",
         (Remote("https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                 "rt-polaritydata.tar.gz", "a05befe52aafda71d458d188a1c54506a998b1308613ba76bbda2e5029409ce9",
                 ("https://storage.googleapis.com/seldon-datasets/sentence_polarity_v1/rt-polaritydata.tar.gz",)),),
         {"train": 7996, "test": 2666}),
    Spec("spam", "text", "Enron-Spam preprocessed, Enron1 subset: ham/spam emails",
         (Remote("http://nlp.cs.aueb.gr/software_and_datasets/Enron-Spam/preprocessed/enron1.tar.gz",
                 "enron1.tar.gz", None,
                 ("http://www.aueb.gr/users/ion/data/enron-spam/preprocessed/enron1.tar.gz",)),),
         {"train": 3879, "test": 1293}),
    Spec("questions", "text", "TREC question classification (Li & Roth 2002), 50 fine labels",
         (Remote("https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label", "train_5500.label",
                 "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
          Remote("https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label", "TREC_10.label",
                 "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e")),
         {"train": 4464, "test": 1488}),
    Spec("newsgroups", "text", "20 Newsgroups, bydate split (headers reduced to From and Subject)",
         (Remote("http://qwone.com/~jason/20Newsgroups/20news-bydate.tar.gz", "20news-bydate.tar.gz",
                 "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"),),
         {"train": 11314, "test": 7532}),
    Spec("hymenoptera", "images", "ants vs bees (PyTorch transfer-learning tutorial); its val split is the test split",
         (Remote("https://download.pytorch.org/tutorial/hymenoptera_data.zip", "hymenoptera_data.zip", None),),
         {"train": 244, "test": 153}),
    Spec("caltech101", "images", "Caltech-101, 30 classes, 50 train + 15 test images each",
         (Remote("https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip", "caltech-101.zip", None),),
         {"train": 1500, "test": 450}),
    Spec("scene9", "images", "9 classes of the 15-Scene dataset (a stand-in for the course's Places)",
         note="prepare from a folder with train/ and test/"),
    Spec("animals", "images", "the course's Animals set", note="course handout: prepare from its folder"),
    Spec("faces", "images", "the course's Faces set", note="course handout: prepare from its folder"),
    Spec("places", "images", "the course's Places set", note="course handout: prepare from its folder"),
    Spec("household", "images", "the course's Household set", note="course handout: prepare from its folder"),
    Spec("cifar100", "cifar", "CIFAR-100, python version (50000 train, 10000 test, 100 fine classes)",
         (Remote("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
                 "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),),
         {"train": 50000, "test": 10000}),
    Spec("mnist", "idx", "MNIST handwritten digits",
         tuple(Remote(_MNIST_URL + f, f, h, (_MNIST_MIRROR + f,)) for f, h in zip(IDX_FILES, (
             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"))),
         {"train": 60000, "test": 10000}),
    Spec("fashion_mnist", "idx", "Fashion-MNIST (Zalando), MNIST format",
         tuple(Remote(_FASHION_URL + f, f, h) for f, h in zip(IDX_FILES, (
             "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"))),
         {"train": 60000, "test": 10000}),
    Spec("glove", "glove", "GloVe 6B word vectors (Wikipedia + Gigaword), 50d used by default",
         (Remote("https://nlp.stanford.edu/data/glove.6B.zip", "glove.6B.zip", None,
                 md5="056ea991adb4740ac6bf1b6d9b50408b"),)),
    Spec("coco_captioning", "captions", "cs231n COCO captioning features (VGG16 fc7, PCA 512) and captions",
         (Remote("http://cs231n.stanford.edu/coco_captioning.zip", "coco_captioning.zip", None),)),
]}

DEMO_TEXT_FOR = {"sentiment": "demo_text", "spam": "demo_text", "questions": "demo_topics",
                 "newsgroups": "demo_topics", "demo_text": "demo_text", "demo_topics": "demo_topics"}


def spec(name: str) -> Spec:
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset '{name}': known are {', '.join(REGISTRY)}")
    return REGISTRY[name]


def dataset_path(name: str, data_dir=None) -> Path:
    """The prepared folder of a registered dataset; a clear error when it is not there."""
    s = spec(name)
    path = data_root(data_dir) / name
    if not path.is_dir():
        prepare_it = f"`python dataset.py prepare {name} --source PATH`"
        raise DatasetError(f"dataset '{name}' is not prepared in {path}: "
                           + (f"run `python dataset.py download {name}` or {prepare_it}" if s.remotes
                              else f"it has no public download ({s.note}): run {prepare_it}"))
    return path


# --------------------------------------------------------------------------- download

def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(remote: Remote, path: Path) -> tuple[bool, str]:
    """(matches, what was computed) against the published sha256, else md5; True when none is published."""
    for algorithm, expected in (("sha256", remote.sha256), ("md5", remote.md5)):
        if expected:
            actual = file_digest(path, algorithm)
            return actual == expected, f"{algorithm} {actual[:12]}..., expected {expected[:12]}..."
    return True, "no published checksum"


def _fetch_url(url: str, partial: Path, filename: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with util.progress(total=total, unit="B", unit_scale=True, desc=filename) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:  # a dropped connection can end the read without an error
        raise OSError(f"the connection closed after {received} of {total} bytes")


def fetch(remote: Remote, folder: Path, dataset: str = "NAME") -> Path:
    """Download one file into folder (kept as a cache), trying mirrors, verifying its checksum.

    A partial or mismatching file is deleted: nothing unverified is left behind.
    """
    target = folder / remote.filename
    if target.exists() and _verified(remote, target)[0]:
        return target
    _make_folder(folder)
    partial = target.with_name(target.name + ".part")
    errors = []
    for url in remote.urls:
        print(f"downloading {url}")
        try:
            _fetch_url(url, partial, remote.filename)
            ok, detail = _verified(remote, partial)
            if not ok:  # a mirror may still have the right file
                raise ValueError(f"wrong content, {detail}")
            os.replace(partial, target)
            return target
        except (OSError, ValueError, http.client.HTTPException) as error:
            # a server's own words (a garbled status line, binary bytes) must not break the one-line message
            reason = " ".join(repr(str(getattr(error, "reason", error)))[1:-1].split())[:200]
            errors.append(f"{url}: {reason or type(error).__name__}")
        finally:
            partial.unlink(missing_ok=True)  # nothing unverified stays behind, Ctrl-C included
    raise DatasetError(f"could not download {remote.filename} ({'; '.join(errors)}), and kept nothing: try again, "
                       f"or fetch it on a machine with internet and run `python dataset.py prepare {dataset} "
                       f"--source FILE`")


def download(name: str, data_dir=None) -> Path:
    s = spec(name)
    if not s.remotes:
        raise DatasetError(f"dataset '{name}' has no public download ({s.note}): "
                           f"run `python dataset.py prepare {name} --source PATH`")
    cache = data_root(data_dir) / "downloads" / name
    files = [fetch(r, cache, name) for r in s.remotes]
    try:
        return prepare(name, files[0] if len(files) == 1 else cache, data_dir)
    except DamagedSource:
        for remote, path in zip(s.remotes, files):
            if not (remote.sha256 or remote.md5):  # unverified, and now suspect: the next download fetches it anew
                path.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- preparing from a local copy

def _extract_tar(archive: tarfile.TarFile, target: Path) -> None:
    """Extract, refusing members that would land outside target (absolute paths, "..", links)."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(target, filter="data")
        return
    members = archive.getmembers()  # Python before 3.10.12 / 3.11.4 has no extraction filters
    if any(not (m.isfile() or m.isdir()) or Path(m.name).is_absolute() or ".." in Path(m.name).parts
           for m in members):
        raise tarfile.TarError("it holds links or paths outside the archive")
    archive.extractall(target, members=members)


def _unpacked(source: Path, scratch: Path) -> Path:
    """A folder holding the source's content: the folder itself, or the archive unpacked into scratch."""
    if source.is_dir():
        return source
    name = source.name.lower()
    target = scratch / "unpacked"
    try:
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(source) as archive:
                _extract_tar(archive, target)
        elif name.endswith(".zip"):
            with zipfile.ZipFile(source) as archive:
                archive.extractall(target)
        elif name.endswith(".gz") and not name.endswith(".tar.gz"):
            target.mkdir(parents=True)
            with gzip.open(source) as f_in, open(target / source.name[:-3], "wb") as f_out:
                shutil.copyfileobj(f_in, f_out)
        else:
            target.mkdir(parents=True)
            shutil.copy2(source, target / source.name)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as error:
        reason = str(error).splitlines()[0].rstrip(":")  # tarfile lists every method it tried, one per line
        raise DamagedSource(f"{source} is not a readable archive ({reason}): download it again") from None
    except OSError as error:  # the machine's trouble (a full disk, say), not the archive's
        raise DatasetError(f"cannot unpack {source} into {scratch.parent} ({error.strerror or error}): free some "
                           f"space there, or pass another --data-dir") from None
    return target


def _find(root: Path, pattern: str, what: str, source: Path) -> list[Path]:
    found = sorted(p for p in root.rglob(pattern) if not any(part.startswith(("__MACOSX", "._")) for part in p.parts))
    if not found:
        raise DatasetError(f"{source} does not look like {what}: no '{pattern}' inside it")
    return found


def _find_file(root: Path, pattern: str, what: str, source: Path) -> Path:
    """The first file matching pattern: a folder of that name (an image set's train/, say) is not one."""
    files = [p for p in _find(root, pattern, what, source) if p.is_file()]
    if not files:
        raise DatasetError(f"{source} does not look like {what}: no file '{pattern}' inside it")
    return files[0]


@contextlib.contextmanager
def _blaming(source: Path, shown: dict, fix: str):
    """Errors reading back the copies being prepared name the user's file (shown: copy name -> its place in the
    source), not the scratch copy, a path the user never gave and which is gone by the time they read it; and say
    what to do now (fix) rather than to prepare again."""
    try:
        yield
    except DamagedFile as error:
        raise DamagedSource(f"{shown[error.path.name]} in {source} {error.problem}: {fix}") from None


def prepare(name: str, source: str | os.PathLike, data_dir=None, seed: int = 0) -> Path:
    """Build <root>/<name> from a local copy; written to a temporary folder, renamed when complete."""
    s = spec(name)
    source = Path(source).expanduser()
    if not source.exists():
        raise DatasetError(f"source {source} does not exist: give the path of the downloaded archive or its folder")
    root = data_root(data_dir)
    final = root / name
    with _scratch_folder(root, f".{name}.") as scratch:
        unpacked = _unpacked(source, scratch)
        out = scratch / "out"
        out.mkdir()
        PREPARERS[s.kind](s, unpacked, out, source, seed)
        if final.exists():
            shutil.rmtree(final)
        os.replace(out, final)
    print(f"prepared {name} in {final}: {describe_counts(name, final)}")
    return final


def _check_counts(s: Spec, counts: dict, source: Path) -> None:
    for split, expected in s.counts.items():
        if counts.get(split) != expected:
            warnings.warn(f"{s.name}: {counts.get(split)} {split} examples where the official data has {expected} "
                          f"(source {source})", stacklevel=3)


# ---- text

def _read_lines(path: Path, encoding: str) -> list[str]:
    """Lines split on b'\\n' only: the polarity files hold byte 0x85, a line break to str.splitlines()."""
    lines = []
    for raw in path.read_bytes().split(b"\n"):
        raw = raw.rstrip(b"\r")
        if encoding == "cp1252":
            try:
                lines.append(raw.decode("cp1252"))
                continue
            except UnicodeDecodeError:
                pass  # bytes undefined in cp1252: keep them as latin-1
        lines.append(raw.decode("latin-1"))
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _texts_sentiment(root: Path, source: Path):
    pos = _find(root, "rt-polarity.pos", "the sentence polarity data", source)[0]
    neg = _find(root, "rt-polarity.neg", "the sentence polarity data", source)[0]
    rows = [(_one_line(t), "pos") for t in _read_lines(pos, "cp1252")]
    rows += [(_one_line(t), "neg") for t in _read_lines(neg, "cp1252")]
    return rows, None


def _texts_spam(root: Path, source: Path):
    rows = []
    for label in ("ham", "spam"):
        for path in _find(root, f"{label}/*.txt", "the Enron-Spam data", source):
            rows.append((_one_line(path.read_bytes().decode("latin-1")), label))
    return rows, None


def _trec_rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for number, line in enumerate(_read_lines(path, "latin-1"), 1):
        label, _, question = line.strip().partition(" ")
        if not re.fullmatch(r"[A-Z]+:\w+", label) or not question:
            raise DatasetError(f"{path}:{number} is not a 'COARSE:fine question' line: use the original TREC files")
        rows.append((_one_line(question), label))
    return rows


def _texts_questions(root: Path, source: Path):
    rows = _trec_rows(_find(root, "train_5500.label", "the TREC data", source)[0])
    rows += _trec_rows(_find(root, "TREC_10.label", "the TREC data", source)[0])
    return rows, None


_KEPT_HEADERS = ("from:", "subject:")


def _newsgroup_text(raw: bytes) -> str:
    text = raw.decode("latin-1")
    header, _, body = text.partition("\n\n")
    kept = [line for line in header.split("\n") if line.lower().startswith(_KEPT_HEADERS)]
    return _one_line("\n".join(kept) + "\n" + body)


def _texts_newsgroups(root: Path, source: Path):
    splits = {}
    for split, folder in (("train", "20news-bydate-train"), ("test", "20news-bydate-test")):
        base = _find(root, folder, "the 20 Newsgroups bydate data", source)[0]
        splits[split] = [(_newsgroup_text(p.read_bytes()), p.parent.name)
                         for p in sorted(base.glob("*/*")) if p.is_file()]
    return None, splits


def _prepare_text(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    rows, splits = TEXT_READERS[s.name](root, source)
    if splits is None:
        labels = [label for _, label in rows]
        train_idx, test_idx = stratified_split(labels, 0.25, seed)
        splits = {"train": [rows[i] for i in train_idx], "test": [rows[i] for i in test_idx]}
    for split, split_rows in splits.items():
        write_text_csv(out / f"{split}.csv", split_rows)
    _check_counts(s, {k: len(v) for k, v in splits.items()}, source)


TEXT_READERS = {"sentiment": _texts_sentiment, "spam": _texts_spam, "questions": _texts_questions,
                "newsgroups": _texts_newsgroups}


def write_text_csv(path: Path, rows) -> None:
    util.save_csv(path, ["sentence", "label"], rows)


# ---- images

# torchvision's ImageFolder extensions: the hymenoptera zip's imageNotFound.gif placeholder is not one of them
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


def readable_image(path: Path) -> bool:
    from PIL import Image
    try:
        with Image.open(path) as image:
            image.convert("RGB").load()
        return True
    except Exception:  # PIL raises many types for broken files
        return False


def _copy_image_split(src: Path, dst: Path) -> int:
    count = 0
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        for image in sorted(class_dir.iterdir()):
            if image.name.startswith("."):
                continue
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                warnings.warn(f"skipping {image}: not an image type ImageFolder reads", stacklevel=2)
                continue
            if not readable_image(image):
                warnings.warn(f"skipping unreadable image {image}", stacklevel=2)
                continue
            (dst / class_dir.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(image, dst / class_dir.name / image.name)
            count += 1
    return count


def _split_folders(root: Path) -> tuple[Path, Path] | None:
    """The (train, test) folders of an ImageFolder copy; a val folder serves as test."""
    for train in sorted(root.rglob("train"), key=lambda p: len(p.parts)):
        for test_name in ("test", "val"):
            test = train.parent / test_name
            if train.is_dir() and test.is_dir():
                return train, test
    return None


def _prepare_images(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    folders = _split_folders(root)
    if folders is None and s.name == "caltech101":
        _build_caltech30(root, out, source, seed)
        return
    if folders is None:
        raise DatasetError(f"{source} does not look like an image dataset: expected train/<class>/* and "
                           f"test/<class>/* (or val/) folders")
    counts = {split: _copy_image_split(folder, out / split) for split, folder in zip(("train", "test"), folders)}
    if not counts["train"] or not counts["test"]:
        raise DatasetError(f"{source} holds no readable images in its train or test folder")
    _check_classes(out, [f"{folder.relative_to(root)}/" for folder in folders], source)
    _check_counts(s, counts, source)


def _check_classes(out: Path, names: list[str], source: Path) -> None:
    """At least two classes, the same in train and test, as the training scripts require (vision.check_classes:
    ImageFolder numbers each split's classes on its own): refused now, not when a training run starts. The
    classes are the copied ones, so a folder of unreadable images, empty to ImageFolder, is none."""
    train, test = ({p.name for p in (out / split).iterdir()} for split in ("train", "test"))
    if len(train) < 2:
        raise DatasetError(f"{source} has only one class in {names[0]} ({_listed(train)}): a classifier needs at "
                           f"least two, one folder of readable images per class")
    differences = []
    if test - train:
        differences.append(f"{names[1]} has classes {names[0]} lacks ({_listed(test - train)})")
    if train - test:
        differences.append(f"{names[1]} lacks classes {names[0]} has ({_listed(train - test)})")
    if differences:
        raise DatasetError(f"{source}: {' and '.join(differences)}: give both the same class folders, each holding "
                           f"readable images")


def _listed(names, most: int = 5) -> str:
    names = sorted(names)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _build_caltech30(root: Path, out: Path, source: Path, seed: int) -> None:
    """The course's split: 50 train + 15 test images for each of 30 Caltech-101 classes, chosen by seed."""
    nested = list(root.rglob("101_ObjectCategories.tar.gz"))
    if nested:
        root = _unpacked(nested[0], out.parent / "caltech_inner")
    if (root / CALTECH30_CLASSES[0]).is_dir():
        categories = root
    else:
        categories = _find(root, "101_ObjectCategories", "Caltech-101 (101_ObjectCategories)", source)[0]
    rng = np.random.default_rng(seed)
    for name in CALTECH30_CLASSES:
        folder = categories / name
        images = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if len(images) < 65:
            raise DatasetError(f"{source}: class '{name}' has {len(images)} images, 65 are needed: "
                               f"is this the full 101_ObjectCategories?")
        chosen = [images[i] for i in rng.permutation(len(images))[:65]]
        for split, part in (("train", chosen[:50]), ("test", chosen[50:])):
            (out / split / name).mkdir(parents=True, exist_ok=True)
            for image in part:
                shutil.copy2(image, out / split / name / image.name)


# ---- arrays

def _prepare_cifar(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    shown = {}
    for part in ("train", "test", "meta"):
        found = _find_file(root, part, "CIFAR-100 (python version)", source)
        shutil.copy2(found, out / part)
        shown[part] = found.relative_to(root)
    # read back as cifar100() will: a damaged copy is refused now, naming the source, not at the first training run
    with _blaming(source, shown, "use the original cifar-100-python.tar.gz (or the folder it unpacks to) as --source"):
        classes = len(_cifar_meta(out))
        counts = {split: _cifar_count(out / split, classes) for split in ("train", "test")}
    _check_counts(s, counts, source)


def _cifar_count(path: Path, classes: int) -> int:
    """The examples of a batch being prepared, whose labels must be among its meta file's classes (cifar100()
    would leave the others out without a word)."""
    labels = _read_cifar_pickle(path)[1]
    if labels.size and not 0 <= labels.min() <= labels.max() < classes:
        raise DamagedFile(path, f"has labels outside the {classes} classes of its meta file", "prepare cifar100 again")
    return len(labels)


def _prepare_idx(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    shown = {}
    for name in IDX_FILES:
        found = ([p for p in sorted(root.rglob(name)) if p.is_file()]
                 or [p for p in sorted(root.rglob(name[:-3])) if p.is_file()])
        if not found:
            raise DatasetError(f"{source} lacks {name}: {s.name} needs all of {', '.join(IDX_FILES)}")
        if found[0].suffix == ".gz":
            shutil.copy2(found[0], out / name)
        else:
            with open(found[0], "rb") as f_in, gzip.open(out / name, "wb") as f_out:
                shutil.copyfileobj(f_in, f_out)
        shown[name] = found[0].relative_to(root)
    # read back as load_mnist will: a damaged copy is refused now, naming the source, not at the first training run
    with _blaming(source, shown, f"use the original {s.name} files (the four .gz, or a folder of them) as --source"):
        (x_train, _), (x_test, _) = _read_idx_pair(out, s.name)
    _check_counts(s, {"train": len(x_train), "test": len(x_test)}, source)


def _prepare_glove(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    files = [p for p in root.rglob("*") if re.search(r"\d+d\b.*\.txt(\.gz)?$", p.name) and "glove" in p.name.lower()]
    if not files:
        raise DatasetError(f"{source} holds no GloVe file (glove.6B.<dim>d.txt or .txt.gz)")
    for path in files:
        dim = re.search(r"(\d+)d", path.name).group(1)
        suffix = ".txt.gz" if path.name.endswith(".gz") else ".txt"
        shutil.copy2(path, out / f"glove.6B.{dim}d{suffix}")


def _prepare_captions(s: Spec, root: Path, out: Path, source: Path, seed: int) -> None:
    captions = _find(root, "coco2014_captions.h5", "the cs231n COCO captioning data", source)[0]
    _check_coco(captions.parent, root, source)
    for path in captions.parent.iterdir():
        if path.is_file():
            shutil.copy2(path, out / path.name)


# What numpy_layers/coco_utils.load_coco_data reads (with its default PCA features), all in one folder: the HDF5
# files with the datasets taken from them, then the text files.
COCO_H5 = {"coco2014_captions.h5": ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs"),
           "train2014_vgg16_fc7_pca.h5": ("features",), "val2014_vgg16_fc7_pca.h5": ("features",)}
COCO_TEXT = ("coco2014_vocab.json", "train2014_urls.txt", "val2014_urls.txt")
_COCO_FIX = "use the original coco_captioning.zip (or the folder it unpacks to) as --source"


def _check_coco(folder: Path, root: Path, source: Path) -> None:
    """The captioning files as the loader will read them, checked before gigabytes are copied: a missing or junk
    file is refused now, not when a training script starts."""
    def shown(name: str) -> str:
        return f"{(folder / name).relative_to(root)} in {source}"
    missing = [str((folder / name).relative_to(root)) for name in (*COCO_H5, *COCO_TEXT)
               if not (folder / name).is_file()]
    if missing:
        raise DamagedSource(f"{source} lacks {_listed(missing)}, which the captioning scripts read: {_COCO_FIX}")
    with _coco_h5(folder / "coco2014_captions.h5", shown("coco2014_captions.h5")) as captions:
        for split in ("train", "val"):
            name = f"{split}2014_vgg16_fc7_pca.h5"
            with _coco_h5(folder / name, shown(name)) as features:
                images = features["features"].shape
            _check_coco_split(captions, split, images, shown)
    _check_coco_text(folder, shown)


@contextlib.contextmanager
def _coco_h5(path: Path, shown: str):
    """An HDF5 file of the captioning data, open, holding the datasets the loader reads from it (COCO_H5)."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            missing = [key for key in COCO_H5[path.name] if not isinstance(f.get(key), h5py.Dataset)]
            if missing:
                raise DamagedSource(f"{shown} lacks {', '.join(missing)}, which the captioning scripts read: "
                                    f"{_COCO_FIX}")
            yield f
    except OSError as error:  # h5py: "Unable to open file (file signature not found)", "(truncated file: ...)"
        if "errno = " in str(error):  # the system refused (a lock, a permission): the file may be sound, keep it
            raise DatasetError(f"{shown} cannot be read ({' '.join(str(error).split())}): check the file and "
                               f"its file system, then prepare again") from None
        raise DamagedSource(f"{shown} is not a readable HDF5 file (damaged or truncated): {_COCO_FIX}") from None


def _check_coco_split(captions, split: str, images: tuple, shown) -> None:
    """A split's captions, as word indexes, each naming an image that has a row in the split's features."""
    name = f"{split}2014_vgg16_fc7_pca.h5"
    if len(images) != 2:
        raise DamagedSource(f"{shown(name)} holds features of shape {images}, expected (images, dimension): "
                            f"{_COCO_FIX}")
    words, image_idxs = captions[f"{split}_captions"], captions[f"{split}_image_idxs"][()]
    if (words.ndim != 2 or image_idxs.shape != words.shape[:1]
            or not all(np.issubdtype(a.dtype, np.integer) for a in (words, image_idxs))):
        raise DamagedSource(f"{shown('coco2014_captions.h5')} has {split}_captions of shape {words.shape} "
                            f"({words.dtype}) and {split}_image_idxs of shape {image_idxs.shape} ({image_idxs.dtype}), "
                            f"expected integers of shapes (N, T) and (N,): {_COCO_FIX}")
    if image_idxs.size and not 0 <= image_idxs.min() <= image_idxs.max() < images[0]:
        raise DamagedSource(f"{shown('coco2014_captions.h5')} has {split} captions of images {image_idxs.min()} to "
                            f"{image_idxs.max()}, but {name} holds the features of {images[0]} "
                            f"image{'s' * (images[0] != 1)}: {_COCO_FIX}")


def _check_coco_text(folder: Path, shown) -> None:
    """The vocabulary and the URL lists: UTF-8 text, the vocabulary a JSON object with the two lookups."""
    for name in COCO_TEXT:
        try:
            text = (folder / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DamagedSource(f"{shown(name)} is not UTF-8 text: {_COCO_FIX}") from None
        if name.endswith(".json"):
            try:
                vocab = json.loads(text)
            except json.JSONDecodeError:
                vocab = None
            if not (isinstance(vocab, dict) and {"word_to_idx", "idx_to_word"} <= vocab.keys()):
                raise DamagedSource(f"{shown(name)} is not a JSON object with word_to_idx and idx_to_word: "
                                    f"{_COCO_FIX}")


PREPARERS = {"text": _prepare_text, "images": _prepare_images, "cifar": _prepare_cifar, "idx": _prepare_idx,
             "glove": _prepare_glove, "captions": _prepare_captions}


def describe_counts(name: str, path: Path) -> str:
    kind = REGISTRY[name].kind if name in REGISTRY else "images"
    if kind == "text":
        return ", ".join(f"{split} {len(read_text_csv(path / f'{split}.csv')[0])}"
                         for split in ("train", "test") if (path / f"{split}.csv").exists())
    if kind == "images":
        return ", ".join(f"{split} {sum(1 for p in (path / split).rglob('*') if p.is_file())}"
                         for split in ("train", "test") if (path / split).is_dir())
    return ", ".join(sorted(p.name for p in path.iterdir()))


# --------------------------------------------------------------------------- splits

def stratified_split(labels, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held_out), held_out = ceil(fraction * n) examples, per class in proportion.

    Deterministic for a seed. Classes get floor(share) held-out examples and the remaining ones go to the
    classes with the largest remainders, so the total is exact and every class keeps its proportion.
    """
    labels = np.asarray(labels)
    n = len(labels)
    n_held = math.ceil(fraction * n - 1e-9)
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(labels, return_inverse=True)
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    shares = np.array([len(m) * n_held / n for m in members])
    held = np.floor(shares).astype(int)
    for c in np.argsort(-(shares - held), kind="stable")[: n_held - held.sum()]:
        held[c] += 1
    held_idx = np.concatenate([m[:h] for m, h in zip(members, held)]) if n else np.array([], int)
    kept_idx = np.concatenate([m[h:] for m, h in zip(members, held)]) if n else np.array([], int)
    return rng.permutation(kept_idx), rng.permutation(held_idx)


def grouped_split(labels, groups, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held_out) holding out whole groups, about ceil(fraction * n) examples.

    Groups are taken in a random order (deterministic for a seed), each counted in its most frequent class,
    until every class has about its proportional share held out; no group is on both sides.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    n = len(labels)
    if n == 0:
        return np.array([], int), np.array([], int)
    rng = np.random.default_rng(seed)
    classes, label_ids, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * math.ceil(fraction * n - 1e-9) / n
    taken = np.zeros(len(classes))
    by_group = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(groups[by_group][1:] != groups[by_group][:-1]) + 1
    members = np.split(by_group, starts)
    held = np.zeros(n, bool)
    for g in rng.permutation(len(members)):
        majority = np.bincount(label_ids[members[g]]).argmax()
        if taken[majority] + len(members[g]) / 2 <= quota[majority]:  # the closer of "with it" and "without it"
            held[members[g]] = True
            taken[majority] += len(members[g])
    return rng.permutation(np.flatnonzero(~held)), rng.permutation(np.flatnonzero(held))


# --------------------------------------------------------------------------- text loading

# Newsgroup posts answer one another and quote what they answer: a validation split drawn post by post puts
# much of each thread on both sides (about half of its posts share a thread with training, twice the share of
# the later bydate test posts), so validation accuracy runs far above test accuracy. Whole threads are held out,
# approximately: a subject shorter than THREAD_KEY_WORDS words takes body words into its key (see README).
THREADED = ("newsgroups",)
_SUBJECT = re.compile(r"subject:\s*(?:(?:re|fwd?)\s*:\s*)*(.*)", re.IGNORECASE | re.DOTALL)
THREAD_KEY_WORDS = 5  # the subject line is not delimited in the prepared one-line text: its first words


def thread_key(text: str) -> str:
    """A post's thread: the first words after Subject: without Re:/Fwd: prefixes, lower-cased (else the text)."""
    match = _SUBJECT.search(text)
    return " ".join(match.group(1).lower().split()[:THREAD_KEY_WORDS]) if match else text


def validation_split(name: str, train_texts, labels, fraction: float, seed: int = 0):
    """(kept, held_out) indices of the training split: whole threads for THREADED datasets, else stratified."""
    if name in THREADED:
        return grouped_split(labels, [thread_key(text) for text in train_texts], fraction, seed)
    return stratified_split(labels, fraction, seed)


_TOKEN = re.compile(r"[^\W_]+(?=n't)|n't|'[^\W_]+|[^\W_]+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case words, numbers and punctuation, with clitics split as in GloVe ("does n't", "he 's")."""
    return _TOKEN.findall(text.lower())


class Vocabulary:
    """Token <-> id. Id 0 is padding, id 1 stands for every unknown token; the last `extra` tokens came from
    outside the training texts (pretrained vectors' words, see build)."""
    PAD, UNK = 0, 1

    def __init__(self, itos: list[str], extra: int = 0, unk_in_training: bool = True):
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.extra = extra
        # False when every training token has its own id: then only an empty text (encoded as <unk>) reads <unk>.
        self.unk_in_training = unk_in_training

    @classmethod
    def build(cls, token_lists, min_freq: int = 1, max_size: int | None = None, extra=()) -> "Vocabulary":
        """The training words (at least min_freq times, most frequent first, max_size in all), then `extra`
        words not among them: pretrained vectors' words, which need no training example to mean something."""
        counts = collections.Counter(token for tokens in token_lists for token in tokens)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 2)]
        known = set(ranked) | {"<pad>", "<unk>"}
        added = [t for t in dict.fromkeys(extra) if t not in known]
        kept = known | set(added)  # a training word cut by max_size may come back among the extra words
        return cls(["<pad>", "<unk>"] + ranked + added, len(added),
                   unk_in_training=any(t not in kept for t in counts))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens) -> list[int]:
        return [self.stoi.get(t, self.UNK) for t in tokens]

    def to_json(self) -> str:
        return json.dumps(self.itos)

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        return cls(json.loads(text))

    def save(self, path) -> None:
        with util.atomic_path(path) as tmp:
            tmp.write_text(self.to_json())

    @classmethod
    def load(cls, path) -> "Vocabulary":
        return cls.from_json(Path(path).read_text())


def read_text_csv(path: Path, known_labels=None) -> tuple[list[str], list[str]]:
    """Rows of a prepared sentence,label CSV; malformed rows and unknown labels are clear errors."""
    if not path.exists():
        raise DatasetError(f"{path} does not exist: prepare the dataset with `python dataset.py prepare`")
    try:
        return _read_text_rows(path, known_labels)
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text: prepare the dataset again with `python dataset.py prepare`, "
                           f"which writes UTF-8") from None
    except OSError as error:  # not readable by this user, say
        raise DatasetError(f"cannot read {path} ({error.strerror or error}): check its permissions, or prepare "
                           f"the dataset into a folder of your own with --data-dir") from None


def _read_text_rows(path: Path, known_labels) -> tuple[list[str], list[str]]:
    sentences, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path} is empty: prepare the dataset again")
        if header != ["sentence", "label"]:
            raise DatasetError(f"{path} does not start with the header 'sentence,label': prepare the dataset again")
        for row in reader:
            if len(row) != 2 or not row[1].strip():
                raise DatasetError(f"{path}:{reader.line_num} has no label (expected 'sentence,label'): "
                                   f"fix or remove that line")
            if known_labels is not None and row[1] not in known_labels:
                raise DatasetError(f"{path}:{reader.line_num} has label '{row[1]}', unknown in the training split: "
                                   f"fix that line or prepare the dataset again")
            sentences.append(row[0])
            labels.append(row[1])
    if not sentences:
        raise DatasetError(f"{path} holds no examples: prepare the dataset again")
    return sentences, labels


def _text_folder(name: str, data_dir, demo: bool) -> Path:
    if demo:
        if name not in DEMO_TEXT_FOR:
            raise DatasetError(f"no demo data stands in for '{name}': use one of {', '.join(TEXT_READERS)}")
        return ensure_demo(DEMO_TEXT_FOR[name], data_dir)
    if spec(name).kind != "text":
        raise DatasetError(f"'{name}' is not a text dataset: use one of {', '.join(TEXT_READERS)}")
    return dataset_path(name, data_dir)


def read_text_split(name: str, split: str, data_dir=None, demo: bool = False) -> tuple[list[str], list[str]]:
    folder = _text_folder(name, data_dir, demo)
    known = None
    if split != "train":
        known = set(read_text_csv(folder / "train.csv")[1])
    return read_text_csv(folder / f"{split}.csv", known)


@dataclass
class TextData:
    """A text dataset as padded integer arrays; the vocabulary comes from the training texts that train."""
    train_x: np.ndarray       # (N_train, max_seq_len) int32, 0 = padding
    train_y: np.ndarray       # (N_train,) int64
    train_lengths: np.ndarray  # (N_train,) int64, >= 1
    test_x: np.ndarray
    test_y: np.ndarray
    test_lengths: np.ndarray
    vocab: Vocabulary
    classes: list[str]
    name: str
    keep: np.ndarray           # indices of train_x that train (all of them without a validation split)
    held: np.ndarray | None    # indices of train_x held out for validation, or None


def encode_all(sentences, vocab: Vocabulary, max_len: int | None) -> list[list[int]]:
    """Token ids of each sentence, cut to max_len (None: whole); an empty sentence is one <unk>."""
    encoded = []
    for sentence in sentences:
        ids = vocab.encode(tokenize(sentence))[:max_len] if max_len else vocab.encode(tokenize(sentence))
        encoded.append(ids or [Vocabulary.UNK])  # an empty text still has one step to read
    return encoded


def pad(sequences: list[list[int]], length: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, length) int32 post-padded with 0 and truncated, plus the lengths (N,)."""
    out = np.zeros((len(sequences), length), dtype=np.int32)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for i, ids in enumerate(sequences):
        ids = ids[:length]
        out[i, :len(ids)] = ids
        lengths[i] = len(ids)
    return out, lengths


def _load_text(name, data_dir, demo, min_freq, max_vocab, valid_fraction, seed, extra_words=()):
    """Texts, labels, the validation split of train (kept, held or None) and the vocabulary of the kept texts:
    a word seen only in validation texts is as unknown to the model as a word seen only in test texts."""
    train_s, train_l = read_text_split(name, "train", data_dir, demo)
    test_s, test_l = read_text_split(name, "test", data_dir, demo)
    classes = sorted(set(train_l))
    index = {c: i for i, c in enumerate(classes)}
    train_y = np.array([index[c] for c in train_l], dtype=np.int64)
    test_y = np.array([index[c] for c in test_l], dtype=np.int64)
    keep, held = (validation_split(name, train_s, train_y, valid_fraction, seed) if valid_fraction > 0
                  else (np.arange(len(train_s)), None))
    vocab = Vocabulary.build((tokenize(train_s[i]) for i in keep), min_freq, max_vocab, extra_words)
    return train_s, train_y, test_s, test_y, keep, held, vocab, classes


def load_text_dataset(name: str, max_seq_len: int, data_dir=None, demo: bool = False, min_freq: int = 1,
                      max_vocab: int | None = None, valid_fraction: float = 0.0, seed: int = 0,
                      extra_words=()) -> TextData:
    """Padded/truncated integer arrays of a prepared text dataset (for the TensorFlow scripts).

    valid_fraction > 0 holds out part of train (validation_split: .keep and .held index train_x) and the
    vocabulary comes from the kept texts only, then extra_words (see Vocabulary.build)."""
    train_s, train_y, test_s, test_y, keep, held, vocab, classes = _load_text(
        name, data_dir, demo, min_freq, max_vocab, valid_fraction, seed, extra_words)
    train_x, train_len = pad(encode_all(train_s, vocab, max_seq_len), max_seq_len)
    test_x, test_len = pad(encode_all(test_s, vocab, max_seq_len), max_seq_len)
    return TextData(train_x, train_y, train_len, test_x, test_y, test_len, vocab, classes,
                    DEMO_TEXT_FOR[name] if demo else name, keep, held)


class Batch:
    """One minibatch: .sentence (T, B) LongTensor padded with 0, .label (B,), .lengths (B,)."""

    def __init__(self, sentence, label, lengths):
        self.sentence, self.label, self.lengths = sentence, label, lengths

    def __iter__(self):  # allows `sentence, label = batch`
        return iter((self.sentence, self.label))


class BucketIterator:
    """Batches of similar length (little padding), like torchtext's BucketIterator, on plain torch tensors.

    Training order: each epoch shuffles, sorts pools of 50 batches by length, and shuffles the batches;
    evaluation order: sorted by length. Deterministic for a seed; epoch e uses seed + e.
    """

    def __init__(self, sequences: list[list[int]], labels, batch_size: int, shuffle: bool, seed: int = 0,
                 device=None, pool_batches: int = 50):
        if batch_size < 1:
            raise DatasetError(f"batch size must be at least 1, got {batch_size}")
        self.sequences, self.labels = sequences, np.asarray(labels, dtype=np.int64)
        self.batch_size, self.shuffle, self.seed, self.device = batch_size, shuffle, seed, device
        self.pool = batch_size * pool_batches
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.sequences) / self.batch_size)

    def _order(self) -> list[np.ndarray]:
        lengths = np.array([len(s) for s in self.sequences])
        if not self.shuffle:
            order = np.argsort(lengths, kind="stable")
            return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(len(self.sequences))
        batches = []
        for start in range(0, len(order), self.pool):
            pool = order[start:start + self.pool]
            pool = pool[np.argsort(lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self):
        import torch
        for indices in self._order():
            seqs = [self.sequences[i] for i in indices]
            lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
            sentence = torch.zeros((int(lengths.max()), len(seqs)), dtype=torch.long)
            for j, s in enumerate(seqs):
                sentence[:len(s), j] = torch.tensor(s, dtype=torch.long)
            label = torch.from_numpy(self.labels[indices])
            if self.device is not None:
                sentence, label, lengths = sentence.to(self.device), label.to(self.device), lengths.to(self.device)
            yield Batch(sentence, label, lengths)
        if self.shuffle:
            self.epoch += 1


@dataclass
class TextIterators:
    train: BucketIterator
    valid: BucketIterator | None
    test: BucketIterator
    vocab: Vocabulary
    classes: list[str]
    name: str


def load_text_iterators(name: str, batch_size: int, valid_fraction: float = 0.1, seed: int = 0,
                        max_seq_len: int | None = None, device=None, data_dir=None, demo: bool = False,
                        min_freq: int = 1, max_vocab: int | None = None,
                        eval_batch_size: int | None = None, extra_words=()) -> TextIterators:
    """Train / validation (carved from train: validation_split) / test iterators for the PyTorch scripts.

    The vocabulary comes from the texts that train, then extra_words (see Vocabulary.build)."""
    train_s, train_y, test_s, test_y, keep, held, vocab, classes = _load_text(
        name, data_dir, demo, min_freq, max_vocab, valid_fraction, seed, extra_words)
    train_seq = encode_all(train_s, vocab, max_seq_len)
    test_seq = encode_all(test_s, vocab, max_seq_len)
    eval_batch_size = eval_batch_size or batch_size
    valid = None
    if held is not None:
        valid = BucketIterator([train_seq[i] for i in held], train_y[held], eval_batch_size, False, device=device)
    return TextIterators(BucketIterator([train_seq[i] for i in keep], train_y[keep], batch_size, True, seed, device),
                         valid, BucketIterator(test_seq, test_y, eval_batch_size, False, device=device),
                         vocab, classes, DEMO_TEXT_FOR[name] if demo else name)


def load_dataset(name: str, batch_size: int, data_dir=None, demo: bool = False, seed: int = 0,
                 max_seq_len: int | None = None, device=None):
    """The torchtext convenience the course used: (train_iter, test_iter, vocab_size).

    Batches have .sentence (sequence-first LongTensor) and .label; the iterators also carry .vocab and .classes.
    """
    its = load_text_iterators(name, batch_size, 0.0, seed, max_seq_len, device, data_dir, demo)
    for iterator in (its.train, its.test):
        iterator.vocab, iterator.classes = its.vocab, its.classes
    return its.train, its.test, len(its.vocab)


def glove_path(dim: int = 50, data_dir=None) -> Path:
    folder = data_root(data_dir) / "glove"
    for suffix in (".txt", ".txt.gz"):
        candidate = folder / f"glove.6B.{dim}d{suffix}"
        if candidate.exists():
            return candidate
    raise DatasetError(f"no GloVe {dim}d vectors in {folder}: run `python dataset.py download glove` or "
                       f"`python dataset.py prepare glove --source PATH`")


# GloVe's most frequent words that join a GloVe model's vocabulary (Vocabulary.build's extra, glove_words).
# Chosen on validation, seeds 0-2 (session 7): part 1's questions LSTM 83.7% against 82.4% with the training
# words alone, no seed worse.
GLOVE_VOCAB = 100_000


def add_glove_args(parser: argparse.ArgumentParser, vocab: int = GLOVE_VOCAB) -> None:
    """--glove FILE and --glove-vocab N: the options of every text script that can start from GloVe."""
    parser.add_argument("--glove", default=None, metavar="FILE",
                        help="GloVe vectors in the text format (default: glove.6B.<dim>d.txt in the data "
                             "folder's glove/, put there by `python dataset.py prepare glove --source FILE`)"
                             + util.QUIET_DEFAULT)
    parser.add_argument("--glove-vocab", type=util.positive(int, zero=True), default=vocab, metavar="N",
                        help="with GloVe embeddings, the vocabulary also holds GloVe's N most frequent words, kept "
                             "at their GloVe vectors, so that words absent from training keep their meaning "
                             "instead of becoming <unk> (0: the training words only)")


def _open_glove(dim: int, data_dir, path):
    """(path, open text file) of the GloVe file named, else of the one under data_dir."""
    path = Path(path) if path else glove_path(dim, data_dir)
    if not path.is_file():
        raise DatasetError(f"GloVe file {path} {'is a folder' if path.is_dir() else 'does not exist'}: "
                           f"give the path of glove.6B.{dim}d.txt")
    opener = gzip.open if path.name.endswith(".gz") else open
    return path, opener(path, "rt", encoding="utf-8")


@contextlib.contextmanager
def _reading_glove(path: Path):
    """Decoding errors while reading a GloVe file become one sentence."""
    try:
        yield
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error):
        raise DatasetError(f"GloVe file {path} is not UTF-8 text (or a damaged .gz): "
                           f"give the original glove.6B file") from None


def glove_words(count: int, dim: int = 50, data_dir=None, path=None) -> list[str]:
    """The first `count` words of a GloVe file: GloVe lists its words from the most frequent down."""
    path, lines = _open_glove(dim, data_dir, path)
    with lines as f, _reading_glove(path):
        return [line.partition(" ")[0] for line, _ in zip(f, range(count))]


def load_glove(words, dim: int = 50, data_dir=None, path=None, seed: int = 0) -> tuple[np.ndarray, int]:
    """(len(words), dim) float32 embedding rows for `words` (a list or a Vocabulary) and how many GloVe knew.

    Unknown words get N(0, 0.1) rows (fixed seed); row 0 (padding) is zeros.
    """
    itos = words.itos if isinstance(words, Vocabulary) else list(words)
    path, lines = _open_glove(dim, data_dir, path)
    index = {w: i for i, w in enumerate(itos)}
    matrix = np.random.default_rng(seed).normal(0, 0.1, (len(itos), dim)).astype(np.float32)
    found = np.zeros(len(itos), dtype=bool)
    number = 0
    with lines as f, _reading_glove(path):
        for number, line in enumerate(f, 1):
            word, _, rest = line.rstrip("\n").partition(" ")
            if rest.count(" ") != dim - 1:
                raise DatasetError(f"{path}:{number} has {rest.count(' ') + 1 if rest else 0} numbers, expected {dim}: "
                                   f"is this the {dim}d file?")
            i = index.get(word)
            if i is not None:
                try:
                    matrix[i] = np.array(rest.split(" "), dtype=np.float32)
                except ValueError:
                    raise DatasetError(f"{path}:{number} holds a value that is not a number: "
                                       f"the file is damaged, download it again") from None
                found[i] = True
    if number == 0:
        raise DatasetError(f"GloVe file {path} is empty: give the path of glove.6B.{dim}d.txt")
    if itos and itos[0] == "<pad>":
        matrix[0] = 0.0
    return matrix, int(found.sum())


# --------------------------------------------------------------------------- images and arrays

def image_folder(name_or_path: str, data_dir=None, demo: bool = False) -> Path:
    """Root of an ImageFolder dataset with train/ and test/: a prepared name, a path, or the demo images."""
    if demo:
        return ensure_demo("demo_images", data_dir)
    candidate = Path(name_or_path).expanduser()
    if name_or_path in REGISTRY:
        if REGISTRY[name_or_path].kind != "images":
            raise DatasetError(f"'{name_or_path}' is not an image dataset")
        root = dataset_path(name_or_path, data_dir)
    elif candidate.is_dir():
        root = candidate
    elif os.sep in name_or_path or "/" in name_or_path:
        raise DatasetError(f"no folder {candidate}: pass an existing ImageFolder dataset folder (train/ and test/ "
                           f"or val/, one subfolder per class)")
    else:
        names = [n for n, s in REGISTRY.items() if s.kind == "images"]
        raise DatasetError(f"unknown image dataset '{name_or_path}': use one of {', '.join(names)} or a folder path")
    folders = _split_folders(root) if not (root / "train").is_dir() else None
    if (root / "train").is_dir() and ((root / "test").is_dir() or (root / "val").is_dir()):
        return root
    if folders is not None:
        return folders[0].parent
    raise DatasetError(f"{root} has no train/ and test/ (or val/) class folders: see data/README.md for the layout")


def test_split_name(root: Path) -> str:
    return "test" if (Path(root) / "test").is_dir() else "val"


_SKIPPED_IMAGES: set[str] = set()  # reported already: a script reads its training folder more than once


def image_dataset(root, transform=None):
    """A torchvision ImageFolder that skips unreadable images with a warning naming each file (once per process)."""
    from torchvision import datasets
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist")

    def valid(path: str) -> bool:
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            return False
        if readable_image(Path(path)):
            return True
        # a print, not warnings.warn: that echoes a line of torchvision's code after the message
        if path not in _SKIPPED_IMAGES:
            _SKIPPED_IMAGES.add(path)
            print(f"warning: skipping unreadable image {path}", file=sys.stderr)
        return False

    try:
        return datasets.ImageFolder(str(root), transform=transform, is_valid_file=valid)
    except (FileNotFoundError, RuntimeError) as error:
        raise DatasetError(f"{root} holds no readable images in class folders ({error})") from None


# unpickling garbage raises any of these (a pickle of something else: TypeError, KeyError; numbers beyond uint8:
# OverflowError; a class that does not exist: ImportError, AttributeError)
_UNPICKLING_ERRORS = (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError,
                      IndexError, ImportError, OverflowError)


def _unpickling_error(error: Exception) -> str:
    """What went wrong, on one line: a KeyError's text is only the missing key."""
    return f"no {error} entry" if isinstance(error, KeyError) else " ".join(str(error).split()) or type(error).__name__


def _read_cifar_pickle(path: Path):
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["fine_labels"], dtype=np.int64)
    except _UNPICKLING_ERRORS as error:
        raise DamagedFile(path, f"is not a CIFAR-100 python batch ({_unpickling_error(error)})",
                          "prepare cifar100 again") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != data.shape[:1]:
        raise DamagedFile(path, f"has data of shape {data.shape} and labels of shape {labels.shape}, expected "
                                f"(N, 3072) and (N,)", "prepare cifar100 again")
    return data, labels


def _cifar_classes(seed: int, num_classes: int, total: int) -> np.ndarray:
    if not 2 <= num_classes <= total:  # one class would train a classifier with nothing to tell apart
        raise DatasetError(f"--num-classes must be between 2 and {total} (the classes there are to pick from), "
                           f"got {num_classes}")
    return np.sort(np.random.default_rng(seed).choice(total, num_classes, replace=False))


def _cifar_source(data_dir, demo):
    folder = ensure_demo("demo_cifar", data_dir) if demo else dataset_path("cifar100", data_dir)
    return folder


def cifar100(seed: int, num_classes: int = 4, data_dir=None, demo: bool = False):
    """A CIFAR-100 subset of `num_classes` distinct classes chosen by the seed, as in the course.

    Returns (train_x, train_y), (test_x, test_y): x float32 (N, 3072) scaled to [-0.5, 0.5], channel-major
    (reshape to (N, 3, 32, 32)); y int64 in 0..num_classes-1 (classes in increasing original id).
    """
    folder = _cifar_source(data_dir, demo)
    meta = _cifar_meta(folder)
    chosen = _cifar_classes(seed, num_classes, len(meta))
    out = []
    for split in ("train", "test"):
        data, labels = _read_cifar_pickle(folder / split)
        keep = np.isin(labels, chosen)
        x = data[keep].astype(np.float32) / 255.0 - 0.5
        y = np.searchsorted(chosen, labels[keep]).astype(np.int64)
        out.append((x, y))
    return out[0], out[1]


def _cifar_meta(folder: Path) -> list[str]:
    try:
        with open(folder / "meta", "rb") as f:
            return list(pickle.load(f, encoding="latin1")["fine_label_names"])
    except _UNPICKLING_ERRORS as error:
        raise DamagedFile(folder / "meta", f"is not CIFAR-100 metadata ({_unpickling_error(error)})",
                          "prepare cifar100 again") from None


def cifar100_class_names(seed: int, num_classes: int = 4, data_dir=None, demo: bool = False) -> list[str]:
    names = _cifar_meta(_cifar_source(data_dir, demo))
    return [names[i] for i in _cifar_classes(seed, num_classes, len(names))]


def _read_idx(path: Path) -> np.ndarray:
    again = "prepare the dataset again"
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a damaged body under a sound gzip header
        raise DamagedFile(path, f"is not a readable gzip file ({error})", again) from None
    ndim = raw[3] if len(raw) > 3 else 0
    if raw[:3] != b"\x00\x00\x08" or not ndim or len(raw) < 4 + 4 * ndim:  # magic number, then one size per axis
        raise DamagedFile(path, "is not an IDX file of unsigned bytes", again)
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(shape):  # math.prod: exact, where np.prod of huge sizes would overflow
        raise DamagedFile(path, f"is truncated or damaged ({data.size} bytes of data for shape {shape})", again)
    return data.reshape(shape)


def _read_idx_pair(folder: Path, name: str):
    out = []
    for prefix in ("train", "t10k"):
        images_path = folder / f"{prefix}-images-idx3-ubyte.gz"
        labels_path = folder / f"{prefix}-labels-idx1-ubyte.gz"
        for path in (images_path, labels_path):
            if not path.exists():
                raise DatasetError(f"{path} is missing: {name} needs {', '.join(IDX_FILES)}")
        images, labels = _read_idx(images_path), _read_idx(labels_path).astype(np.int64)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            # not naming the labels file: when preparing, this one is a scratch copy, perhaps of an uncompressed file
            raise DamagedFile(images_path, f"does not match the {prefix} labels (images of shape {images.shape}, "
                                           f"labels of shape {labels.shape})", "prepare the dataset again")
        out.append((images, labels))
    return out[0], out[1]


def load_mnist(name: str = "mnist", data_dir=None, demo: bool = False):
    """(x_train, y_train), (x_test, y_test) with x uint8 (N, 28, 28) and y int64 (MNIST or Fashion-MNIST)."""
    if demo:
        return _read_idx_pair(ensure_demo("demo_digits", data_dir), "demo_digits")
    if name not in ("mnist", "fashion_mnist"):
        raise DatasetError(f"unknown digit dataset '{name}': use mnist or fashion_mnist")
    return _read_idx_pair(dataset_path(name, data_dir), name)


def style_pair(data_dir=None, demo: bool = True) -> tuple[Path, Path]:
    """(content, style) image paths: the generated demo pair (real pairs are given as paths)."""
    folder = ensure_demo("demo_style", data_dir)
    return folder / "content.png", folder / "style.png"


def char_text(path=None, demo: bool = False, data_dir=None) -> str:
    """The text a character model trains on: a file (utf-8, else latin-1) or the built-in demo text."""
    if demo:
        return (ensure_demo("demo_chars", data_dir) / "text.txt").read_text(encoding="utf-8")
    if path is None:
        raise DatasetError("no text file given: pass --text FILE (any plain-text file) or use --demo")
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"text file {path} does not exist: pass an existing plain-text file with --text")
    text = read_plain_text(path, "--text")
    if not text.strip():
        raise DatasetError(f"text file {path} is empty: pass a file with text in it")
    return text


def read_plain_text(path: Path, option: str) -> str:
    """A user's text file: UTF-8, else cp1252 (Windows' single-byte text), else latin-1. A file holding NUL bytes
    (a model, an image, UTF-16) is refused rather than read as a few million odd characters."""
    raw = path.read_bytes()
    if b"\0" in raw:
        raise DatasetError(f"{path} is not plain text (it holds NUL bytes, as binary files do): pass a UTF-8 "
                           f"or single-byte text file with {option}")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")  # the five bytes cp1252 leaves undefined


# --------------------------------------------------------------------------- demo data

DEMO_KINDS = ("demo_text", "demo_topics", "demo_images", "demo_cifar", "demo_digits", "demo_style",
              "demo_chars")


def ensure_demo(kind: str, data_dir=None) -> Path:
    """The folder of one kind of demo data, generated (deterministically) on first use."""
    folder = data_root(data_dir) / kind
    if (folder / ".complete").exists():
        return folder
    if kind not in DEMO_BUILDERS:
        raise DatasetError(f"unknown demo data '{kind}': known are {', '.join(DEMO_KINDS)}")
    with _scratch_folder(folder.parent, f".{kind}.") as scratch:
        out = scratch / "out"  # made by mkdir, so it gets the umask's mode, not mkdtemp's private 0700
        out.mkdir()
        DEMO_BUILDERS[kind](out, np.random.default_rng(sum(map(ord, kind))))
        (out / ".complete").write_text("generated demo data, not a real dataset\n")
        if folder.exists() and not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # an interrupted older attempt
        try:
            os.replace(out, folder)
        except OSError:
            if not (folder / ".complete").exists():  # another process finished first: use its identical copy
                raise
    return folder


_POSITIVE = "good great excellent wonderful charming delightful best love brilliant moving funny superb".split()
_NEGATIVE = "bad awful boring worst dull poor hate mess tedious weak clumsy lifeless".split()
_FILLER = ("the a film movie story plot actor acting it this is was and of with its to in an that as director "
           "scenes script cast character ending music but for on").split()
_TOPICS = {
    "food": "bread cheese soup recipe kitchen bake dinner spicy flavor cook".split(),
    "music": "guitar song album band concert melody drum singer chorus piano".split(),
    "science": "atom cell physics energy experiment theory molecule orbit laboratory data".split(),
    "sport": "goal match team football coach score league player tennis race".split(),
}


def _demo_sentence(rng, strong, weak, length) -> str:
    words = list(rng.choice(_FILLER, length))
    picks = list(rng.choice(strong, rng.integers(2, 4))) + list(rng.choice(weak, rng.integers(0, 2)))
    for word in picks:
        words.insert(int(rng.integers(0, len(words) + 1)), word)
    return " ".join(words) + " ."


def _build_demo_text(folder: Path, rng) -> None:
    for split, n in (("train", 320), ("test", 120)):
        rows = []
        for i in range(n):
            label = ("neg", "pos")[i % 2]
            strong, weak = (_POSITIVE, _NEGATIVE) if label == "pos" else (_NEGATIVE, _POSITIVE)
            rows.append((_demo_sentence(rng, strong, weak, int(rng.integers(5, 14))), label))
        write_text_csv(folder / f"{split}.csv", [rows[i] for i in rng.permutation(n)])


def _build_demo_topics(folder: Path, rng) -> None:
    topics = list(_TOPICS)
    for split, n in (("train", 400), ("test", 120)):
        rows = []
        for i in range(n):
            label = topics[i % len(topics)]
            others = [w for t in topics if t != label for w in _TOPICS[t]]
            rows.append((_demo_sentence(rng, _TOPICS[label], others, int(rng.integers(4, 12))), label))
        write_text_csv(folder / f"{split}.csv", [rows[i] for i in rng.permutation(n)])


_SHAPE_CLASSES = {"red_circles": (200, 40, 40), "green_squares": (40, 170, 60), "blue_triangles": (50, 70, 210)}


def _demo_shape_image(rng, kind: str, color, size: int = 64):
    from PIL import Image, ImageDraw
    background = rng.integers(90, 170, 3)
    pixels = np.clip(background + rng.normal(0, 18, (size, size, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    r = int(rng.integers(size // 6, size // 3))
    cx, cy = rng.integers(r, size - r, 2)
    fill = tuple(int(np.clip(c + rng.normal(0, 20), 0, 255)) for c in color)
    if kind == "red_circles":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "green_squares":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return image


def _build_demo_images(folder: Path, rng) -> None:
    for split, n in (("train", 24), ("test", 8)):
        for kind, color in _SHAPE_CLASSES.items():
            (folder / split / kind).mkdir(parents=True)
            for i in range(n):
                _demo_shape_image(rng, kind, color).save(folder / split / kind / f"{kind}_{i:03d}.png")


def _build_demo_cifar(folder: Path, rng) -> None:
    """CIFAR-100-shaped pickles: 8 classes of colour-and-orientation patterns, 150 train / 40 test each."""
    names = [f"demo_{c}_{o}" for c in ("red", "green", "blue", "grey") for o in ("stripes", "blobs")]
    yy, xx = np.mgrid[0:32, 0:32]
    for split, per_class in (("train", 150), ("test", 40)):
        data, labels = [], []
        for label, name in enumerate(names):
            colour = {"red": (0.8, 0.2, 0.2), "green": (0.2, 0.7, 0.3), "blue": (0.2, 0.3, 0.8),
                      "grey": (0.5, 0.5, 0.5)}[name.split("_")[1]]
            for _ in range(per_class):
                phase, freq = rng.uniform(0, 6.3), rng.uniform(0.4, 0.8)
                if name.endswith("stripes"):
                    pattern = 0.5 + 0.5 * np.sin(freq * xx + phase)
                else:
                    cx, cy = rng.uniform(8, 24, 2)
                    pattern = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 40.0)
                image = np.stack([c * (0.4 + 0.6 * pattern) for c in colour])
                image = np.clip(image + rng.normal(0, 0.08, image.shape), 0, 1)
                data.append((image * 255).astype(np.uint8).reshape(-1))
                labels.append(label)
        order = rng.permutation(len(labels))
        with open(folder / split, "wb") as f:
            pickle.dump({"data": np.stack(data)[order], "fine_labels": list(np.array(labels)[order])}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": names}, f)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(header + array.astype(np.uint8).tobytes())  # mtime 0: identical bytes on every run


def _build_demo_digits(folder: Path, rng) -> None:
    """Digits 0-9 drawn with PIL's font at random sizes, offsets and strokes, plus noise (MNIST IDX files)."""
    from PIL import Image, ImageDraw, ImageFont
    fonts = [ImageFont.load_default(size=s) for s in (16, 18, 20, 22)]
    for prefix, n in (("train", 2000), ("t10k", 500)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        for i, digit in enumerate(labels):
            canvas = Image.new("L", (28, 28))
            draw = ImageDraw.Draw(canvas)
            font = fonts[int(rng.integers(len(fonts)))]
            x, y = rng.integers(4, 11), rng.integers(0, 6)
            draw.text((int(x), int(y)), str(digit), fill=255, font=font, stroke_width=int(rng.integers(0, 2)),
                      stroke_fill=255)
            canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
            noisy = np.asarray(canvas, dtype=np.float32) + rng.normal(0, 12, (28, 28))
            images[i] = np.clip(noisy, 0, 255).astype(np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


def _build_demo_style(folder: Path, rng) -> None:
    """A content 'photo' (sky, sun, houses) and a 'painting' (bold coloured waves), 128x128."""
    from PIL import Image, ImageDraw
    size = 128
    yy, xx = np.mgrid[0:size, 0:size] / size
    sky = np.stack([0.45 + 0.3 * yy, 0.65 + 0.2 * yy, 0.95 - 0.2 * yy], -1)
    content = Image.fromarray((sky * 255).astype(np.uint8))
    draw = ImageDraw.Draw(content)
    draw.ellipse([90, 12, 116, 38], fill=(250, 210, 60))
    draw.rectangle([0, 92, size, size], fill=(70, 130, 60))
    for x0, h, colour in ((10, 40, (180, 90, 70)), (48, 55, (220, 200, 160)), (86, 35, (150, 60, 60))):
        draw.rectangle([x0, 100 - h, x0 + 30, 100], fill=colour)
        draw.polygon([(x0 - 4, 100 - h), (x0 + 15, 80 - h), (x0 + 34, 100 - h)], fill=(90, 40, 30))
    content.save(folder / "content.png")
    waves = np.sin(12 * xx + 6 * np.sin(5 * yy)) * 0.5 + 0.5
    swirl = np.cos(9 * yy + 4 * np.cos(7 * xx)) * 0.5 + 0.5
    style = np.stack([0.1 + 0.8 * waves, 0.2 + 0.5 * swirl * waves, 0.9 - 0.7 * swirl], -1)
    style = np.clip(style + rng.normal(0, 0.03, style.shape), 0, 1)
    Image.fromarray((style * 255).astype(np.uint8)).save(folder / "style.png")


_CHAR_SUBJECTS = ["the old sailor", "a young student", "the quiet village", "my grandmother", "the tired doctor",
                  "a small dog", "the river", "our teacher", "the king", "a curious child"]
_CHAR_VERBS = ["walked along", "looked at", "remembered", "spoke about", "waited near", "dreamed of",
               "wrote to", "sang for", "laughed at", "followed"]
_CHAR_OBJECTS = ["the harbour", "the morning light", "an empty house", "the long winter", "a distant city",
                 "the green hills", "the evening bells", "a letter from home", "the narrow bridge", "the market"]
_CHAR_ENDINGS = [".", ".", ".", "!", "?", ", and nobody knew why.", ", as if nothing had happened.",
                 " before the rain came."]


def _build_demo_chars(folder: Path, rng) -> None:
    """About 100 KB of simple English built from a phrase bank: enough for a small char model to learn."""
    paragraphs = []
    while sum(map(len, paragraphs)) < 100_000:
        sentences = []
        for _ in range(int(rng.integers(3, 7))):
            sentence = (f"{rng.choice(_CHAR_SUBJECTS)} {rng.choice(_CHAR_VERBS)} {rng.choice(_CHAR_OBJECTS)}"
                        f"{rng.choice(_CHAR_ENDINGS)}")
            sentences.append(sentence[0].upper() + sentence[1:])
        paragraphs.append(" ".join(sentences))
    (folder / "text.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


DEMO_BUILDERS = {"demo_text": _build_demo_text, "demo_topics": _build_demo_topics, "demo_images": _build_demo_images,
                 "demo_cifar": _build_demo_cifar, "demo_digits": _build_demo_digits, "demo_style": _build_demo_style,
                 "demo_chars": _build_demo_chars}


_CAPTION_COLOURS = ["red", "green", "blue", "yellow"]
_CAPTION_THINGS = ["dog", "cat", "car", "boat", "bird"]
_CAPTION_PLACES = ["on the grass", "in the water", "on a road", "near a house"]


def demo_captions(num_train: int = 400, num_val: int = 100, feature_dim: int = 512, max_length: int = 12,
                  seed: int = 0) -> dict:
    """Generated captioning data in the format of cs231n's load_coco_data.

    Each 'image' is a colour, a thing and a place; its feature vector is a fixed random projection of those
    three one-hot codes plus noise, and its caption names them ("a red dog on the grass"), so a model can learn it.
    """
    rng = np.random.default_rng(seed)
    vocab_words = sorted({w for p in _CAPTION_COLOURS + _CAPTION_THINGS + _CAPTION_PLACES for w in p.split()} | {"a"})
    idx_to_word = ["<NULL>", "<START>", "<END>", "<UNK>"] + vocab_words
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    n_codes = len(_CAPTION_COLOURS) + len(_CAPTION_THINGS) + len(_CAPTION_PLACES)
    projection = rng.normal(0, 1, (n_codes, feature_dim)).astype(np.float32)
    data = {"word_to_idx": word_to_idx, "idx_to_word": idx_to_word}
    for split, n_images in (("train", num_train), ("val", num_val)):
        attributes = np.stack([rng.integers(0, len(_CAPTION_COLOURS), n_images),
                               rng.integers(0, len(_CAPTION_THINGS), n_images),
                               rng.integers(0, len(_CAPTION_PLACES), n_images)], 1)
        codes = np.zeros((n_images, n_codes), dtype=np.float32)
        codes[np.arange(n_images), attributes[:, 0]] = 1
        codes[np.arange(n_images), len(_CAPTION_COLOURS) + attributes[:, 1]] = 1
        codes[np.arange(n_images), len(_CAPTION_COLOURS) + len(_CAPTION_THINGS) + attributes[:, 2]] = 1
        features = codes @ projection + rng.normal(0, 0.1, (n_images, feature_dim)).astype(np.float32)
        captions = np.zeros((2 * n_images, max_length), dtype=np.int32)
        image_idxs = np.repeat(np.arange(n_images), 2)
        for row, image in enumerate(image_idxs):
            c, t, p = attributes[image]
            words = ["a", _CAPTION_COLOURS[c], _CAPTION_THINGS[t]] + _CAPTION_PLACES[p].split()
            ids = [word_to_idx["<START>"]] + [word_to_idx[w] for w in words] + [word_to_idx["<END>"]]
            captions[row, :len(ids)] = ids
        data[f"{split}_captions"] = captions
        data[f"{split}_image_idxs"] = image_idxs.astype(np.int32)
        data[f"{split}_features"] = features.astype(np.float32)
        data[f"{split}_urls"] = np.array([f"demo://{split}/{i}" for i in range(n_images)])
    return data


# --------------------------------------------------------------------------- command line

def _present(name: str, root: Path) -> bool:
    return (root / name).is_dir() and any((root / name).iterdir())


def cmd_list(args) -> None:
    root = data_root(args.data_dir)
    _refuse_a_file(root)
    print(f"data root: {root}")
    print(f"{'name':16} {'kind':8} {'present':8} description / counts")
    for name, s in REGISTRY.items():
        present = _present(name, root)
        try:
            detail = describe_counts(name, root / name) if present else s.description
        except DatasetError as error:  # one damaged dataset: say so on its line, and list the others
            detail = f"DAMAGED: {error}"
        print(f"{name:16} {s.kind:8} {'yes' if present else 'no':8} {detail}")
    for kind in DEMO_KINDS:
        print(f"{kind:16} {'demo':8} {'yes' if (root / kind / '.complete').exists() else 'no':8} "
              f"generated demo data (python dataset.py demo)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="data root (default: $COURSE_DATA_DIR or data/)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="what is known, what is present, where")
    download_parser = commands.add_parser("download", help="download from the official source and prepare")
    download_parser.add_argument("name")
    prepare_parser = commands.add_parser("prepare", help="prepare from a local archive or extracted folder")
    prepare_parser.add_argument("name")
    prepare_parser.add_argument("--source", required=True, help="the archive or folder (official layout)")
    prepare_parser.add_argument("--seed", type=util.seed_number, default=0, help="seed of the train/test split")
    commands.add_parser("demo", help="write every kind of demo data")
    args = parser.parse_args(argv)
    warnings.simplefilter("always")
    warnings.showwarning = lambda message, *rest, **kw: print(f"warning: {message}", file=sys.stderr)
    if args.command == "list":
        cmd_list(args)
    elif args.command == "download":
        download(args.name, args.data_dir)
    elif args.command == "prepare":
        prepare(args.name, args.source, args.data_dir, args.seed)
    else:
        for kind in DEMO_KINDS:
            print(f"{kind}: {ensure_demo(kind, args.data_dir)}")


if __name__ == "__main__":
    util.run_main(main)
