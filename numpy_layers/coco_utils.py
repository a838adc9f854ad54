"""The cs231n COCO captioning data: captions, VGG16 fc7 image features, vocabulary and image URLs.

The files (coco2014_captions.h5, train2014_vgg16_fc7[_pca].h5, val2014_vgg16_fc7[_pca].h5,
coco2014_vocab.json, train2014_urls.txt, val2014_urls.txt) live in <data root>/coco_captioning,
put there by `python dataset.py download coco_captioning` (or `prepare coco_captioning --source PATH`).
"""
import json
import os

import numpy as np

import dataset

BASE_DIR = os.path.join(dataset.data_root(), "coco_captioning")
AGAIN = "download the data again with `python dataset.py download coco_captioning` (or pass --demo)"


def read_h5(path, keys=None):
    """{name: array} of the datasets `keys` (default: all) of an HDF5 file; a missing or unreadable file is a
    DatasetError naming it."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return {key: np.asarray(f[key]) for key in (keys or list(f))}
    except FileNotFoundError:
        raise dataset.DatasetError(f"{path} is missing: {AGAIN}") from None
    except OSError:  # h5py: "Unable to open file (file signature not found)", truncated files
        raise dataset.DatasetError(f"{path} is not a readable HDF5 file (damaged or truncated): {AGAIN}") from None


def read_text(path):
    """The text of one of the data's small files; a missing or undecodable file is a DatasetError naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise dataset.DatasetError(f"{path} is missing: {AGAIN}") from None
    except UnicodeDecodeError:
        raise dataset.DatasetError(f"{path} is not UTF-8 text (damaged): {AGAIN}") from None


def load_coco_data(base_dir=BASE_DIR, max_train=None, pca_features=True, rng=None):
    """
    Load the captioning data into a dict with the keys
    - train_captions, val_captions: int arrays (N, 17) of word indices, <START> ... <END> <NULL>...
    - train_image_idxs, val_image_idxs: int arrays (N,), the image of each caption
    - train_features, val_features: image features (num_images, 512) with pca_features, else (num_images, 4096)
    - word_to_idx (dict), idx_to_word (list), train_urls, val_urls (arrays of str)

    max_train keeps a random subset of that many training captions (see subsample_train_captions; rng: a
    np.random.Generator, or None for the global np.random state, as in the assignment).
    """
    base_dir = str(base_dir)
    if not os.path.isfile(os.path.join(base_dir, "coco2014_captions.h5")):
        raise dataset.DatasetError(f"no COCO captioning data in {base_dir}: run `python dataset.py download "
                                   f"coco_captioning` (or pass --demo for the generated captions)")
    data = read_h5(os.path.join(base_dir, "coco2014_captions.h5"))
    suffix = "_pca" if pca_features else ""
    for split in ("train", "val"):
        features = read_h5(os.path.join(base_dir, f"{split}2014_vgg16_fc7{suffix}.h5"), ["features"])
        data[f"{split}_features"] = features["features"]
        urls = read_text(os.path.join(base_dir, f"{split}2014_urls.txt"))
        data[f"{split}_urls"] = np.asarray([line.strip() for line in urls.splitlines()])
    vocab_path = os.path.join(base_dir, "coco2014_vocab.json")
    try:
        data.update(json.loads(read_text(vocab_path)))
    except json.JSONDecodeError:
        raise dataset.DatasetError(f"{vocab_path} is not valid JSON (damaged): {AGAIN}") from None
    if max_train is not None:
        data = subsample_train_captions(data, max_train, rng)
    return data


def subsample_train_captions(data, max_train, rng=None):
    """
    A copy of data with max_train training captions drawn at random with replacement, as in the assignment.
    rng: a np.random.Generator; None draws from the global np.random state (the assignment's behaviour),
    which a script has not seeded yet when it loads its data.
    """
    num_captions = data["train_captions"].shape[0]
    if rng is None:
        keep = np.random.randint(num_captions, size=max_train)
    else:
        keep = rng.integers(num_captions, size=max_train)
    return {**data, "train_captions": data["train_captions"][keep], "train_image_idxs": data["train_image_idxs"][keep]}


def decode_captions(captions, idx_to_word):
    """
    Word indices to text: a caption (T,) to a string, or captions (N, T) to a list of N strings.
    <NULL> tokens are dropped and decoding stops after <END>.
    """
    singleton = np.ndim(captions) == 1
    decoded = []
    for caption in np.atleast_2d(captions):
        words = []
        for index in caption:
            word = idx_to_word[int(index)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def sample_coco_minibatch(data, batch_size=100, split="train", rng=None):
    """
    A random minibatch (with replacement) of captions of one split.

    Returns a tuple of:
    - captions: (batch_size, T) word indices
    - image_features: (batch_size, D) features of the captioned images
    - urls: (batch_size,) URLs of those images
    """
    rng = np.random.default_rng() if rng is None else rng
    pick = rng.integers(data[f"{split}_captions"].shape[0], size=batch_size)
    image_idxs = data[f"{split}_image_idxs"][pick]
    return data[f"{split}_captions"][pick], data[f"{split}_features"][image_idxs], data[f"{split}_urls"][image_idxs]
