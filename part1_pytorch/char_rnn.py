"""Character-level language model: a 2-layer LSTM that learns to write like its training text.

Embedded characters -> LSTM (2 layers) -> linear layer over the character vocabulary, trained with
truncated backpropagation through time: the text is cut into `batch_size` parallel streams, each
step reads the next `--seq-len` characters of every stream and starts from the hidden state the
previous step ended with (detached, so gradients stop at the chunk boundary). The last
`--valid-fraction` of the text is held out for the validation loss, reported in bits per character.

Samples are appended to samples.txt in the run folder during training. The trained model is
exported by TorchScript scripting (generation has a sampling loop with control flow, which tracing
cannot capture); the exported file generates exactly the text the eager model does for the same seed.

    python part1_pytorch/char_rnn.py --demo
    python part1_pytorch/char_rnn.py --text corpus.txt --time-limit 600
    python part1_pytorch/char_rnn.py --generate results/char_rnn/<run>/char_rnn_scripted.pt --prime "The "
"""
from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import dataset
import text_models
import util

DEMO_DEFAULTS = {"epochs": 2, "hidden_dim": 128, "seq_len": 64, "time_limit": 10.0, "sample_every": 50,
                 "length": 200}
VALID_STREAMS = 8  # the validation text is read as this many parallel streams


class CharRNN(nn.Module):
    """Characters -> embedding -> multi-layer LSTM -> logits over the character vocabulary.

    The vocabulary lives in the module (chars, char_to_index) so a scripted export is self-contained.
    """

    def __init__(self, chars: str, embedding_dim: int = 64, hidden_dim: int = 256, num_layers: int = 2,
                 dropout: float = 0.1):
        super().__init__()
        self.chars: List[str] = list(chars)
        self.char_to_index: Dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.embedding = nn.Embedding(len(self.chars), embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, num_layers, dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_dim, len(self.chars))

    def forward(self, x: torch.Tensor, hidden: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
                ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """x: LongTensor (B, T) of character ids; hidden: (h, c), each (layers, B, H), or None for zeros.

        Returns logits (B, T, V) and the hidden state after the last step.
        """
        output, hidden = self.lstm(self.embedding(x), hidden)
        return self.decoder(self.dropout(output)), hidden

    @torch.jit.export
    def generate(self, prime: str, length: int, temperature: float = 1.0, top_k: int = 0) -> str:
        """The prime followed by `length` sampled characters (random numbers from torch's global generator).

        temperature < 1 sharpens the distribution, > 1 flattens it; top_k > 0 samples among the k
        most likely characters only. Every character of prime must be in the vocabulary. Runs on the
        model's device.
        """
        device = self.decoder.weight.device
        ids: List[int] = [self.char_to_index[c] for c in prime]
        if len(ids) == 0:
            ids = [0]
        out: List[str] = [prime]
        with torch.no_grad():
            logits, hidden = self.forward(torch.tensor([ids], dtype=torch.long, device=device), None)
            for _ in range(length):
                # in float64 and from the largest logit down, so that a tiny temperature gives the likeliest
                # character (0 / t = 0, the rest -inf) rather than inf / inf = nan
                last = logits[0, -1].double()
                scaled = (last - last.max()) / temperature
                if top_k > 0 and top_k < scaled.numel():
                    values, candidates = torch.topk(scaled, top_k)
                    choice = candidates[torch.multinomial(F.softmax(values, dim=0), 1)]
                else:
                    choice = torch.multinomial(F.softmax(scaled, dim=0), 1)
                index = int(choice.item())
                out.append(self.chars[index])
                logits, hidden = self.forward(torch.tensor([[index]], dtype=torch.long, device=device), hidden)
        return "".join(out)


def encode(text: str, chars: str) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(chars)}
    return np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))


def streams(ids: np.ndarray, batch_size: int) -> torch.Tensor:
    """Cut a 1-D id array into batch_size contiguous streams: LongTensor (batch_size, N // batch_size)."""
    usable = len(ids) // batch_size * batch_size
    return torch.from_numpy(ids[:usable].reshape(batch_size, -1))


def chunks(data: torch.Tensor, seq_len: int):
    """(inputs, targets) pairs of shape (B, <= seq_len): targets are the inputs shifted by one character."""
    for start in range(0, data.shape[1] - 1, seq_len):
        end = min(start + seq_len, data.shape[1] - 1)
        yield data[:, start:end], data[:, start + 1:end + 1]


def detach(hidden):
    return tuple(h.detach() for h in hidden)


def validation_loss(model: CharRNN, data: torch.Tensor, seq_len: int) -> float:
    """Mean cross-entropy (nats per character) over the validation streams, hidden state carried."""
    model.eval()
    total, count, hidden = 0.0, 0, None
    with torch.no_grad():
        for x, y in chunks(data, seq_len):
            logits, hidden = model(x, hidden)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    if count == 0:
        raise ValueError(f"validation_loss: streams of {data.shape[1]} characters hold no (input, target) pair")
    return total / count


def sample_text(model, seed: int, prime: str, length: int, temperature: float, top_k: int) -> str:
    """model.generate with its own seed; the global random state (dropout in training) is left untouched,
    on the CPU and on every visible GPU."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return model.generate(prime, length, temperature, top_k)


def export_scripted(model: CharRNN, path: Path) -> None:
    """Script (not trace: generate has a data-dependent loop) and save atomically."""
    with warnings.catch_warnings():
        # torch.jit is deprecated in favour of torch.export, which cannot capture the sampling loop.
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(model.eval())
        with util.atomic_path(path) as tmp:
            scripted.save(str(tmp))


def load_scripted(path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")


def load_any(path) -> nn.Module:
    """A TorchScript export or a model.pt checkpoint of this script."""
    path = Path(path)
    if not path.is_file():
        util.fail(f"no model file at {path}: pass char_rnn_scripted.pt or model.pt from a char_rnn run folder")
    try:
        scripted = load_scripted(path)
    except RuntimeError:
        pass
    else:
        if not hasattr(scripted, "chars") or not hasattr(scripted, "generate"):
            util.fail(f"{path} is a TorchScript model but not a char_rnn export (it has no character vocabulary): "
                      "pass char_rnn_scripted.pt or model.pt from a char_rnn run folder")
        return scripted
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = CharRNN(**checkpoint["hyperparameters"])
        model.load_state_dict(checkpoint["state_dict"])
    except Exception as error:  # anything unreadable here means the file is not one of ours
        util.fail(f"{path} is neither a TorchScript export nor a char_rnn checkpoint ({type(error).__name__}): "
                  "pass a file from a char_rnn run folder")
    return model.eval()


def check_sampling(args, chars) -> None:
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        util.fail(f"--temperature must be > 0 and finite, got {args.temperature}")
    if args.top_k < 0:
        util.fail(f"--top-k must be >= 0 (0 = no limit), got {args.top_k}")
    unknown = sorted(set(args.prime) - set(chars))
    if unknown:
        util.fail(f"the prime contains characters the model never saw ({''.join(unknown)!r}): "
                  "use characters of the training text")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    util.add_common_args(parser, epochs=20, batch_size=32, lr=3e-3)
    parser.add_argument("--text", default=None, help="training text: a plain-text file, UTF-8 (else read as cp1252) "
                        "(required unless --demo or --generate)")
    parser.add_argument("--embedding-dim", type=util.positive(int), default=32, help="character embedding size")
    parser.add_argument("--hidden-dim", type=util.positive(int), default=256, help="LSTM state size")
    parser.add_argument("--num-layers", type=util.positive(int), default=2, help="LSTM layers")
    parser.add_argument("--dropout", type=util.rate, default=0.1, help="dropout between layers")
    parser.add_argument("--seq-len", type=util.positive(int), default=64,
                        help="characters per truncated-BPTT chunk")
    parser.add_argument("--clip", type=util.positive(float), default=5.0, help="gradient norm clipping")
    parser.add_argument("--valid-fraction", type=float, default=0.05, help="held-out end of the text")
    parser.add_argument("--time-limit", type=util.positive(float), default=600.0,
                        help="stop training after this many seconds")
    parser.add_argument("--sample-every", type=util.positive(int), default=200,
                        help="write a sample (and the validation loss) every this many steps")
    parser.add_argument("--prime", default="",
                        help="text generation continues (empty: start after the vocabulary's first "
                             "character, usually a newline or space)")
    parser.add_argument("--length", type=util.positive(int), default=400, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (> 0)")
    parser.add_argument("--top-k", type=util.positive(int, zero=True), default=0,
                        help="sample among the k likeliest characters (0: all)")
    parser.add_argument("--generate", metavar="MODEL", default=None,
                        help="skip training: print text generated by a saved model (TorchScript or model.pt)")
    util.add_threads_arg(parser, 1, why=util.ONE_THREAD)
    return util.parse_args(parser, argv, **DEMO_DEFAULTS)


def training_split(args, length: int) -> int:
    """Where the validation part of a text of `length` characters starts; a user error if either part is too
    short: every training and every validation stream needs an input and a target."""
    split = int(length * (1 - args.valid_fraction))
    needed = VALID_STREAMS * 2
    if split < args.batch_size * 2:
        # blame --valid-fraction only where a smaller validation part would leave enough to train on
        smaller_part = f"lower --valid-fraction (now {args.valid_fraction}), " * (length - needed >= args.batch_size * 2)
        util.fail(f"the training part of the text has {split} of its {length} characters, too few for "
                  f"{args.batch_size} training streams: {smaller_part}lower --batch-size or use a longer text")
    if length - split < needed:
        util.fail(f"the validation part of the text has {length - split} characters, fewer than the {needed} that "
                  f"{VALID_STREAMS} streams need: raise --valid-fraction (now {args.valid_fraction}) or use a "
                  f"longer text")
    return split


def train(args, text: str, split: int, run, device) -> dict:
    """Train on text[:split], validate on text[split:] (split: training_split's)."""
    chars = "".join(sorted(set(text)))
    ids = encode(text, chars)
    train_data = streams(ids[:split], args.batch_size).to(device)
    valid_data = streams(ids[split:], VALID_STREAMS).to(device)

    util.set_seed(args.seed)
    hyperparameters = {"chars": chars, "embedding_dim": args.embedding_dim, "hidden_dim": args.hidden_dim,
                       "num_layers": args.num_layers, "dropout": args.dropout}
    model = CharRNN(**hyperparameters).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil((train_data.shape[1] - 1) / args.seq_len)
    print(f"{len(text):,} characters ({len(chars)} distinct), {split:,} for training in {args.batch_size} streams, "
          f"{steps_per_epoch} steps per epoch; {sum(p.numel() for p in model.parameters()):,} parameters, on {device}")

    curves = {"train_loss": [], "valid_loss": [], "valid_bpc": []}
    checkpoint_steps: List[int] = []
    best_bpc, best_state, best_checkpoint, step, started = float("inf"), None, 0, 0, time.time()
    samples = run.path("samples.txt")
    samples.write_text("")

    def checkpoint(train_loss: float) -> None:
        nonlocal best_bpc, best_state, best_checkpoint
        util.check_finite_loss(train_loss, f"up to step {step}")
        valid = validation_loss(model, valid_data, args.seq_len)
        bpc = valid / math.log(2)
        curves["train_loss"].append(train_loss)
        curves["valid_loss"].append(valid)
        curves["valid_bpc"].append(bpc)
        checkpoint_steps.append(step)
        if bpc < best_bpc:
            best_bpc, best_state = bpc, {k: v.clone() for k, v in model.state_dict().items()}
            best_checkpoint = len(checkpoint_steps)
        text_sample = sample_text(model, args.seed, args.prime, 200, args.temperature, args.top_k)
        with samples.open("a") as handle:
            handle.write(f"--- step {step}, {time.time() - started:.0f} s ({util.cpu_seconds():.0f} s of CPU), "
                         f"valid bpc {bpc:.3f}\n{text_sample}\n\n")
        util.say(f"step {step}: train loss {train_loss:.3f}, valid loss {valid:.3f} = {bpc:.3f} bits/char")
        model.train()

    # the reported training loss is per character: a short last chunk counts for its few characters only
    stopped, epochs_completed, loss_sum, targets = False, 0, 0.0, 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = None  # every epoch reads the streams from their start
        bar = util.progress(chunks(train_data, args.seq_len), total=steps_per_epoch,
                            desc=f"epoch {epoch}/{args.epochs}")
        for x, y in bar:
            # checked before a step (a limit reached after the very last one stops nothing), after the first
            # (so there is a model to keep)
            if step and time.time() - started > args.time_limit:
                util.say(f"time limit of {args.time_limit:g} s reached after step {step} (in epoch {epoch})")
                stopped = True
                break
            logits, hidden = model(x, hidden)
            hidden = detach(hidden)  # truncated BPTT: keep the state, cut the graph
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            loss_sum += loss.item() * y.numel()
            targets += y.numel()
            step += 1
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if step % args.sample_every == 0:
                checkpoint(loss_sum / targets)
                loss_sum, targets = 0.0, 0
        if stopped:
            break
        epochs_completed = epoch
    if targets:
        checkpoint(loss_sum / targets)
    model.load_state_dict(best_state)
    return {"model": model, "hyperparameters": hyperparameters, "curves": curves, "best_bpc": best_bpc,
            "best_checkpoint": best_checkpoint, "checkpoint_steps": checkpoint_steps, "steps": step,
            "epochs_completed": epochs_completed, "stopped_by_time_limit": stopped,
            "train_seconds": time.time() - started, "characters": len(text)}


def main(argv=None):
    args = parse_args(argv)
    util.use_threads(args.threads)
    util.check_valid_fraction(args.valid_fraction)
    device = util.get_device(args.device)
    if args.generate:
        model = load_any(args.generate).to(device)
        check_sampling(args, model.chars)
        print(sample_text(model, args.seed, args.prime, args.length, args.temperature, args.top_k))
        return
    if args.text is None and not args.demo:
        util.fail("no training text: pass --text FILE (a UTF-8 text file) or --demo")
    text = dataset.char_text(path=args.text, demo=args.demo and args.text is None, data_dir=args.data_dir)
    name = "demo_chars" if args.demo and args.text is None else Path(args.text).stem
    split = training_split(args, len(text))
    check_sampling(args, text)
    run = util.start_run(args, "char_rnn", name, f"lstm{args.num_layers}x{args.hidden_dim}")
    result = train(args, text, split, run, device)
    model = result["model"].cpu().eval()  # saved, exported and compared with its export on the CPU

    util.save_torch({"hyperparameters": result["hyperparameters"], "state_dict": model.state_dict()},
                    run.path("model.pt"))
    export_scripted(model, run.path("char_rnn_scripted.pt"))
    eager = sample_text(model, args.seed, args.prime, args.length, args.temperature, args.top_k)
    exported = sample_text(load_scripted(run.path("char_rnn_scripted.pt")), args.seed, args.prime,
                           args.length, args.temperature, args.top_k)
    print(f"--- generated (seed {args.seed}, temperature {args.temperature}, top-k {args.top_k}):\n{eager}\n---")
    print("the TorchScript export generates the same text" if eager == exported
          else "WARNING: the TorchScript export generated a different text")
    (run.path("generated.txt")).write_text(eager + "\n")
    # plot_curves numbers the points 1, 2, ...: the title says which training step each one is
    util.plot_curves(result["curves"], run.path("curves.png"), xlabel="checkpoint", kept=result["best_checkpoint"],
                     title=f"char_rnn on {name}: a checkpoint every {args.sample_every} steps and at the end "
                           f"(step {result['steps']})")
    run.finish({"valid_bpc": result["best_bpc"], "valid_loss": result["best_bpc"] * math.log(2),
                "steps": result["steps"], "epochs_completed": result["epochs_completed"],
                "stopped_by_time_limit": result["stopped_by_time_limit"],
                "best_checkpoint_step": result["checkpoint_steps"][result["best_checkpoint"] - 1],
                "checkpoint_steps": result["checkpoint_steps"], "train_seconds": round(result["train_seconds"], 1),
                "characters": result["characters"], "vocab_size": len(model.chars),
                "export_generates_same_text": eager == exported, "threads": torch.get_num_threads(),
                "hyperparameters": {k: v for k, v in result["hyperparameters"].items() if k != "chars"},
                "batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr, "curves": result["curves"]})


if __name__ == "__main__":
    util.run_main(main)
