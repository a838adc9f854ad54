"""Spam: Enron1 e-mails, ham / spam, classified by a GRU (part 1, PyTorch).

Embedding -> one GRU layer -> the maximum of its outputs over the real words (`--pooling max`; `last` takes
the course's last hidden state) -> linear, trained with Adam and gradient clipping; the epoch with the best
validation accuracy is kept and tested once. `--unit rnn` swaps the recurrent unit, `--embeddings glove`
starts from GloVe 6B vectors. The defaults below are the tuned settings.

    python part1_pytorch/spam_gru.py --demo
    python part1_pytorch/spam_gru.py [--embeddings glove]
"""
import text_models
import util

TUNED = dict(unit="gru", epochs=10, batch_size=64, lr=3e-3, embedding_dim=64, hidden_dim=64, dropout=0.3,
             max_seq_len=300, max_vocab=30000, min_freq=2, pooling="max")
# 300 tokens instead of 150 won on validation for the GRU (mean over seeds 0-3: 98.84% against 98.52%, no seed
# worse); for the LSTM at 64/64 they tied (98.07% both): spam_lstm.py takes 300 with 128/128.
# Not adopted (session 9, against 98.71% over seeds 0-4): a bidirectional layer, 98.87% but seed 4 one e-mail
# worse, at twice the time; the LSTM's 128/128, stopped after seed 2 was worse (98.28% over seeds 0-2); label
# smoothing 0.1, stopped when seed 0 was worse (98.45% against 98.71%; seed 3 98.97% against 98.71%).
# Nor (session 10) 600 tokens: 98.71% too (98.71 / 97.16 / 99.23 / 99.23 / 99.23%, seeds 1 and 4 worse), at twice
# the time.
GLOVE = dict(min_freq=1)


def main(argv=None):
    args = text_models.classifier_args(__doc__.split("\n\n")[0], argv, TUNED, GLOVE)
    text_models.run_classifier(args, "spam_gru", "spam")


if __name__ == "__main__":
    util.run_main(main)
