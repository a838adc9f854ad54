"""Export a saved model to TorchScript, by tracing and by scripting, and check both on an example batch.

Writes <model>.traced.pt and <model>.scripted.pt beside the model (or into --results-dir); each holds the
class names and preprocessing (as the extra file meta.json), so predict.py and C++ / mobile runtimes can use it alone.
Both exports must reproduce the original model's outputs to 1e-5 on the example batch.

    python part1_pytorch/export.py results/finetune/hymenoptera_resnet18/model.pt
    python part1_pytorch/export.py --demo
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import util
import vision

TOLERANCE = 1e-5


def export(model, example: torch.Tensor, method: str):
    """A TorchScript module made by torch.jit.trace (recording one run) or torch.jit.script (compiling the code)."""
    if method == "traced":
        return torch.jit.trace(model, example)
    return torch.jit.script(model)


def check_difference(difference: float, what: str) -> None:
    """`not <=`, so that a NaN difference fails too."""
    if not difference <= TOLERANCE:
        raise RuntimeError(f"{what} differs from the model by {difference:.2e}, more than {TOLERANCE}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model", nargs="?", default=None,
                        help="model.pt saved by finetune.py, transfer_learning.py or feature.py, or its run "
                             "folder (default with --demo: the model of finetune.py --demo)")
    util.add_common_args(parser, epochs=0, batch_size=4, unused=("data_dir", "device"),
                         results_help="write the exports and export.json into this folder (default: beside the model)",
                         demo_help="export the model of `finetune.py --demo`")
    args = parser.parse_args(argv)
    vision.quiet_scripted_googlenet()
    if args.demo:
        args.model = vision.demo_model(args.model)
    if not args.model:
        util.fail("no model given: pass a model.pt saved by a training script (or use --demo)")
    path = vision.model_file(args.model)
    if vision.is_torchscript(path):
        util.fail(f"{path} is already a TorchScript file: pass the model.pt it was exported from")
    out_dir = Path(args.results_dir) if args.results_dir else path.parent
    util.writable_folder(out_dir, "--results-dir")
    util.set_seed(args.seed)
    model, meta = vision.load_any(path)
    crop = meta["preprocessing"]["crop"]
    example = torch.randn(args.batch_size, 3, crop, crop)
    with torch.inference_mode():
        expected = vision.scores_of(model(example))
    if not torch.isfinite(expected).all():
        util.fail(f"{path} gives NaN or infinite outputs on a random batch, so no export can be checked "
                  f"against it: retrain the model")

    def difference(module) -> float:
        with torch.no_grad():
            return (vision.scores_of(module(example)) - expected).abs().max().item()

    results = {}
    for method in ("traced", "scripted"):
        with torch.no_grad():
            exported = export(model, example, method)
        outputs = difference(exported)
        check_difference(outputs, f"the {method} export")
        target = out_dir / f"{path.stem}.{method}.pt"
        with util.atomic_path(target) as tmp:
            torch.jit.save(exported, str(tmp), _extra_files={vision.TORCHSCRIPT_META: json.dumps(meta)})
            # the export reloads through predict.py's loader: check that round trip before the file takes its name
            reloaded = difference(vision.load_any(tmp)[0])
            check_difference(reloaded, f"the {method} export, reloaded,")
        results[method] = {"file": str(target), "max_abs_difference": outputs,
                           "reloaded_max_abs_difference": reloaded}
        print(f"{method}: {target} (outputs within {outputs:.1e} of the model on a batch of {len(example)})")
    util.save_json(results, out_dir / f"{path.stem}.export.json")


if __name__ == "__main__":
    util.run_main(main)
