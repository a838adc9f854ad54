"""Classify sentences with a text model saved by a part-2 run (tf.saved_model + vocabulary).

    python part2_tensorflow/predict.py --model-dir results/tf_sentiment_lstm/sentiment_lstm/model \
        --text "a gripping, beautifully acted film"

Prints, per text, the predicted class and its softmax probability.
"""
import argparse

import numpy as np

import text_rnn
import util


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="the `model` folder of a training run")
    parser.add_argument("--text", action="append", required=True,
                        help="a text to classify (repeat the option for several)")
    args = parser.parse_args()
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
