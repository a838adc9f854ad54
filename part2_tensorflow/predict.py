"""Classify sentences with a text model saved by a part-2 run (tf.saved_model + vocabulary).

    python part2_tensorflow/predict.py --model-dir results/tf_sentiment_lstm/sentiment_lstm/model \
        --text "a gripping, beautifully acted film"

Prints, per text, the predicted class and its softmax probability.
"""
import argparse

import numpy as np

import text_rnn
import util

DEMO_MODEL = util.RESULTS_ROOT / "tf_sentiment_lstm" / "demo_text_lstm" / "model"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-dir", help="the `model` folder of a training run")
    parser.add_argument("--text", action="append",
                        help="a text to classify (repeat the option for several)")
    parser.add_argument("--demo", action="store_true",
                        help=f"defaults: the model of `sentiment_lstm.py --demo` ({DEMO_MODEL}) and two sentences")
    args = parser.parse_args()
    if args.demo:
        args.model_dir = args.model_dir or str(DEMO_MODEL)
        args.text = args.text or ["a wonderful , charming film", "a dull and boring mess"]
    if not args.model_dir or not args.text:
        util.fail("give --model-dir (a training run's model folder) and at least one --text, or use --demo")
    if any(not text.strip() for text in args.text):
        util.fail("--text is empty: give the sentence to classify in quotes")
    model, vocab, settings = text_rnn.load_model(args.model_dir)
    tokens, lengths = text_rnn.encode_texts(args.text, vocab, settings["max_seq_len"])
    logits = model.predict_logits(tokens, lengths).numpy()
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    for text, p in zip(args.text, probs):
        best = int(np.argmax(p))
        print(f"{settings['classes'][best]}\t{p[best]:.3f}\t{text}")


if __name__ == "__main__":
    util.run_main(main)
