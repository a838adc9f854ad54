"""Image captioning with the NumPy RNN and LSTM on the cs231n COCO features.

    python numpy_layers/image_captioning.py            # needs data/coco_captioning (python dataset.py download coco_captioning)
    python numpy_layers/image_captioning.py --demo     # small generated captions, seconds

Trains a CaptioningRNN per cell type (vanilla RNN, LSTM) with Adam, then writes learning curves,
greedily sampled captions of training and validation images (with their image URLs) and the unigram
BLEU of the sampled captions against all reference captions of each image. Both cells are scored on
the same images; the training images are ones whose captions the model trained on.
"""
import argparse
import json
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

import dataset
import util
from bleu_utils import IGNORED, corpus_bleu
from captioning_solver import CaptioningSolver
from coco_utils import decode_captions, load_coco_data, subsample_train_captions
from rnn import CaptioningRNN

SPLITS = ("train", "val")
DEMO = dict(epochs=25, lr=1e-2, wordvec_dim=32, hidden_dim=64)   # small enough for seconds on one core


def decay_factor(text: str) -> float:
    """An argparse type for --lr-decay: a factor in (0, 1] (1 keeps the learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text}")
    return value


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--cell", default="both", choices=["rnn", "lstm", "both"], help="recurrent cell(s) to train")
    parser.add_argument("--max-train", type=util.positive(int), default=50000,
                        help="training captions drawn at random (with replacement, seeded by --seed) from "
                        "COCO (ignored with --demo)")
    parser.add_argument("--wordvec-dim", type=util.positive(int), default=256, help="word vector size")
    parser.add_argument("--hidden-dim", type=util.positive(int), default=512, help="hidden state size")
    parser.add_argument("--lr-decay", type=decay_factor, default=0.95,
                        help="learning-rate factor after every epoch, in (0, 1]")
    parser.add_argument("--num-samples", type=util.positive(int), default=10,
                        help="captions sampled per split into samples_<cell>.md")
    parser.add_argument("--bleu-images", type=util.positive(int), default=1000,
                        help="images per split on which BLEU is computed")
    util.add_common_args(parser, epochs=10, batch_size=100, lr=5e-3, unused=("device",))
    util.add_threads_arg(parser, 1, library="BLAS", why=util.ONE_THREAD)
    parser.epilog = "With --demo the defaults are " + ", ".join(f"{k}={v}" for k, v in DEMO.items()) + "."
    return util.parse_args(parser, **DEMO)


def load_data(args, rng):
    """(data, full data, name): COCO's data keeps --max-train training captions drawn with rng; the full
    data keeps every caption, as BLEU's references."""
    if args.demo:
        data = dataset.demo_captions()
        return data, data, "demo_captions"
    full = load_coco_data(dataset.data_root(args.data_dir) / "coco_captioning")
    return subsample_train_captions(full, args.max_train, rng), full, "coco_captioning"


def evaluation_images(data, split, count, rng):
    """count random images of one split that have a caption in data: for train, images the model saw."""
    images = np.unique(data[f"{split}_image_idxs"])
    return rng.choice(images, min(count, len(images)), replace=False)


def references_of(full, split, images):
    """image index -> all its reference captions (text) in the full data, so that a training image has
    its five references like a validation image, not the one or two the training subset happened to keep."""
    keep = np.isin(full[f"{split}_image_idxs"], images)
    references = defaultdict(list)
    for image, caption in zip(full[f"{split}_image_idxs"][keep],
                              decode_captions(full[f"{split}_captions"][keep], full["idx_to_word"])):
        references[int(image)].append(caption)
    return references


def plain(caption):
    """A caption for reading: without <START>, <END> and <NULL>."""
    return " ".join(word for word in caption.split() if word not in IGNORED)


def sample_split(model, data, split, images):
    """Greedy captions (text) of the given images of one split."""
    captions = model.sample(data[f"{split}_features"][images], max_length=data[f"{split}_captions"].shape[1])
    return decode_captions(captions, data["idx_to_word"])


def evaluate(model, data, images, references, num_samples):
    """Unigram BLEU per split on the given images, and a markdown block of sampled captions of the first
    num_samples of them, with their references and URLs."""
    bleu, lines = {}, []
    for split in SPLITS:
        sampled = sample_split(model, data, split, images[split])
        image_references = [references[split][int(i)] for i in images[split]]
        bleu[split] = corpus_bleu(image_references, sampled)
        lines.append(f"## {split} (unigram BLEU over {len(images[split])} images: {bleu[split]:.3f})\n")
        for image, caption, refs in list(zip(images[split], sampled, image_references))[:num_samples]:
            lines.append(f"- image {image}: {data[f'{split}_urls'][image]}\n  - sampled: {plain(caption)}\n"
                         f"  - references:")
            lines += [f"    - {plain(reference)}" for reference in refs]
        lines.append("")
    return bleu, "\n".join(lines)


def train_and_report(args):
    rng = np.random.default_rng(args.seed)
    data, full, name = load_data(args, rng)
    # chosen once, so that both cells are scored, and their samples shown, on the same images
    images = {split: evaluation_images(data, split, args.bleu_images, rng) for split in SPLITS}
    references = {split: references_of(full, split, images[split]) for split in SPLITS}
    epochs, lr = args.epochs, args.lr
    run = util.start_run(args, "image_captioning", name)
    print(f"{name}: {len(data['train_captions'])} training captions of {len(data['train_features'])} images, "
          f"vocabulary {len(data['word_to_idx'])} words")
    metrics = {"epochs": epochs}
    for cell in (["rnn", "lstm"] if args.cell == "both" else [args.cell]):
        model = CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                              wordvec_dim=args.wordvec_dim, hidden_dim=args.hidden_dim, cell_type=cell,
                              seed=args.seed)
        print(f"training the {cell.upper()} captioner ...", flush=True)
        solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": lr},
                                  lr_decay=args.lr_decay, num_epochs=epochs, batch_size=args.batch_size,
                                  verbose=False, progress=True, seed=args.seed)
        solver.train()
        per_epoch = np.array_split(np.array(solver.loss_history), epochs)
        util.plot_curves({"train_loss": [float(chunk.mean()) for chunk in per_epoch],
                          "val_loss": solver.val_loss_history},
                         run.path(f"curves_{cell}.png"), title=f"{cell.upper()} captioning ({name})")
        bleu, samples = evaluate(model, data, images, references, args.num_samples)
        run.path(f"samples_{cell}.md").write_text(f"# {cell.upper()} captions ({name})\n\n{samples}")
        with util.atomic_path(run.path(f"captioner_{cell}.npz")) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, word_to_idx=json.dumps(data["word_to_idx"]), config=json.dumps(
                {"cell_type": cell, "input_dim": int(data["train_features"].shape[1]),
                 "wordvec_dim": args.wordvec_dim, "hidden_dim": args.hidden_dim}), **model.params)
        print(f"{cell.upper()}: final train loss {solver.loss_history[-1]:.3f}, "
              f"unigram BLEU train {bleu['train']:.3f} val {bleu['val']:.3f}")
        metrics.update({f"bleu_train_{cell}": bleu["train"], f"bleu_val_{cell}": bleu["val"],
                        f"final_train_loss_{cell}": solver.loss_history[-1],
                        f"final_val_loss_{cell}": solver.val_loss_history[-1]})
    run.finish(metrics)


def main():
    args = parse_args()
    with threadpool_limits(limits=args.threads, user_api="blas"):
        train_and_report(args)


if __name__ == "__main__":
    util.run_main(main)
