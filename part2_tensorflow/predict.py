"""Classify sentences with a text model saved by a part-2 run (tf.saved_model + vocabulary).

    python part2_tensorflow/predict.py --model-dir results/tf_sentiment_lstm/sentiment_lstm/model \
        --text "a gripping, beautifully acted film"

Prints, per text, the predicted class and its softmax probability.
"""
import argparse

import numpy as np

import text_rnn
import util
from tf_training import use_device

DEMO_MODEL = util.RESULTS_ROOT / "tf_sentiment_lstm" / "demo_text_lstm" / "model"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-dir", help="the `model` folder of a training run")
    parser.add_argument("--text", action="append",
                        help="a text to classify (repeat the option for several)")
    util.add_common_args(parser, epochs=0, unused=("data_dir",),
                         results_help="also write predictions.csv and metrics.json into this folder "
                                      "(default: print only)",
                         demo_help=f"defaults: the model of `sentiment_lstm.py --demo` ({DEMO_MODEL}) and two "
                                   "sentences")
    args = parser.parse_args()
    if args.demo:
        if args.model_dir is None and not DEMO_MODEL.is_dir():
            util.fail(f"no demo model in {DEMO_MODEL}: run `python part2_tensorflow/sentiment_lstm.py --demo` first")
        args.model_dir = args.model_dir or str(DEMO_MODEL)
        args.text = args.text or ["a wonderful , charming film", "a dull and boring mess"]
    if not args.model_dir or not args.text:
        util.fail("give --model-dir (a training run's model folder) and at least one --text, or use --demo")
    if any(not text.strip() for text in args.text):
        util.fail("--text is empty: give the sentence to classify in quotes")
    use_device(args.device)
    util.set_seed(args.seed)
    model, vocab, settings = text_rnn.load_model(args.model_dir)
    print(f"model {args.model_dir}: classes {', '.join(settings['classes'])}; {len(args.text)} texts")
    tokens, lengths = text_rnn.encode_texts(args.text, vocab, settings["max_seq_len"])
    logits = model.predict_logits(tokens, lengths).numpy()
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    rows = []
    for text, p in zip(args.text, probs):
        best = int(np.argmax(p))
        print(f"{settings['classes'][best]}\t{p[best]:.3f}\t{text}")
        rows.append([text, settings["classes"][best], f"{p[best]:.4f}"])
    util.save_prediction_run(args, "tf_predict", ["text", "predicted", "probability"], rows,
                             {"model_dir": str(args.model_dir)})


if __name__ == "__main__":
    util.run_main(main)
