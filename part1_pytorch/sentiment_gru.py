"""Sentiment: sentence polarity of movie-review snippets (pos / neg), classified by a GRU (part 1, PyTorch).

Embedding -> one GRU layer -> the maximum of its outputs over the real words (`--pooling max`; `last` takes
the course's last hidden state) -> linear, trained with Adam and gradient clipping; the epoch with the best
validation accuracy is kept and tested once. `--unit rnn` swaps the recurrent unit, `--embeddings glove`
starts from GloVe 6B vectors. The defaults below are the tuned settings.

    python part1_pytorch/sentiment_gru.py --demo
    python part1_pytorch/sentiment_gru.py [--embeddings glove]
"""
import text_models
import util

TUNED = dict(unit="gru", epochs=12, batch_size=64, lr=3e-3, embedding_dim=128, hidden_dim=128, dropout=0.5,
             max_seq_len=None, max_vocab=None, min_freq=2, pooling="max")
# The LSTM's choice (128/128 beat 64/64 by 0.9 validation points over seeds 0-3); for the GRU, seed 0 agreed
# (validation 78.0% against 77.0%). Tried for the GRU alone, mean validation over seeds 0-3 against 76.4%: learning
# rate 0.002 76.6%, dropout 0.3 76.3%, minimum count 1 75.5%; none a clear gain. A bidirectional layer lost
# again in session 9 (seeds 0-3: 75.91% against 76.63%; seed 0 76.12% against 78.12%), and so did label smoothing
# 0.1 (seeds 0-4: 76.15% against 76.75%, every seed worse). In session 10 weight decay 1e-5 / 1e-4 left seed 0
# worse (77.50% / 77.62% against 78.12%; seed 1 77.88% / 77.75% against 77.88%): stopped there.
# GloVe knows rare words the random embeddings cannot learn: keep them, and train more gently. With GloVe a
# bidirectional layer won on validation (mean over seeds 0-3: 79.1% against 78.0%; for the LSTM it made no
# difference, 78.6% against 78.5%, so the LSTM stays one-directional).
GLOVE = dict(min_freq=1, lr=2e-3, bidirectional=True)


def main(argv=None):
    args = text_models.classifier_args(__doc__.split("\n\n")[0], argv, TUNED, GLOVE)
    text_models.run_classifier(args, "sentiment_gru", "sentiment")


if __name__ == "__main__":
    util.run_main(main)
