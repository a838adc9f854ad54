"""Classify sentences with a saved part-1 text model (any <dataset>_<unit>.py or text_classification.py run).

The run folder's model.pt holds the architecture, weights, vocabulary and class names, so nothing
else is needed; it is loaded with torch.load(weights_only=True).

    python part1_pytorch/predict_text.py --model-dir results/sentiment_lstm/sentiment_lstm_random \
        --text "a gorgeous, witty film"
    python part1_pytorch/predict_text.py --model-dir RUN_FOLDER --file sentences.txt
    python part1_pytorch/predict_text.py --demo    (after `python part1_pytorch/sentiment_lstm.py --demo`)
"""
import argparse

import text_classification
import text_models
import util

DEMO_RUN = util.default_run_dir("sentiment_lstm", "demo_text", "lstm_random")
DEMO_SENTENCES = ["a wonderful , moving film with a brilliant cast .", "a boring , tedious mess ."]

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-dir", default=None, help="a text run folder (or its model.pt)")
    parser.add_argument("--text", action="append", default=[], help="a sentence to classify (repeatable)")
    parser.add_argument("--file", default=None, help="classify every line of this file")
    parser.add_argument("--top", type=util.positive(int), default=1, help="show this many likeliest classes")
    util.add_common_args(parser, epochs=0, unused=("data_dir",),
                         results_help="also write predictions.csv and metrics.json into this folder "
                                      "(default: print only)",
                         demo_help=f"use the model of `sentiment_lstm.py --demo` ({DEMO_RUN}) on two sentences")
    args = parser.parse_args(argv)
    if args.demo:
        if args.model_dir is None and not (DEMO_RUN / "model.pt").is_file():
            util.fail(f"no demo model in {DEMO_RUN}: run `python part1_pytorch/sentiment_lstm.py --demo` first")
        args.model_dir = args.model_dir or DEMO_RUN
        args.text = args.text or DEMO_SENTENCES
    if args.model_dir is None:
        util.fail("no model given: pass --model-dir RUN_FOLDER (a text script's run folder) or --demo")
    if any(not text.strip() for text in args.text):
        util.fail("a --text is empty: give each --text a sentence to classify")
    # each prediction is printed beside its sentence, so a file's blank lines can go (nothing to align)
    lines = [line for line in text_classification.read_lines(args.file, "--file") if line.strip()] if args.file else []
    sentences = args.text + lines
    if not sentences:
        util.fail("nothing to classify: pass --text \"a sentence\" or --file FILE with sentences in it")
    util.set_seed(args.seed)
    predictor = text_models.TextPredictor.load(args.model_dir, util.get_device(args.device))
    print(f"model {args.model_dir}: classes {', '.join(predictor.classes)}; {len(sentences)} texts")
    probabilities = predictor.probabilities(sentences)
    shown_classes = min(args.top, len(predictor.classes))
    rows = []
    for sentence, row in zip(sentences, probabilities):
        best = row.argsort()[::-1][:shown_classes]
        print(", ".join(f"{predictor.classes[i]} {row[i]:.2f}" for i in best) + f"\t{sentence}")
        rows.append([sentence, *[f"{predictor.classes[i]} {row[i]:.4f}" for i in best]])
    util.save_prediction_run(args, "predict_text", ["text", *[f"class {i + 1}" for i in range(shown_classes)]],
                             rows, {"model_dir": str(args.model_dir)})


if __name__ == "__main__":
    util.run_main(main)
