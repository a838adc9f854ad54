"""Newsgroups: 20 Newsgroups posts (bydate split), 20 groups, classified by an LSTM (part 1, PyTorch).

Embedding -> one LSTM layer -> the maximum of its outputs over the real words (`--pooling max`; `last` takes
the course's last hidden state) -> linear, trained with Adam and gradient clipping; the epoch with the best
validation accuracy is kept and tested once. `--unit rnn` swaps the recurrent unit. The embeddings start from
GloVe 6B vectors (`--embeddings random` learns them from scratch). The defaults below are the tuned settings.

    python part1_pytorch/newsgroups_lstm.py --demo
    python part1_pytorch/newsgroups_lstm.py [--embeddings random]
"""
import text_models
import util

TUNED = dict(unit="lstm", epochs=10, batch_size=64, lr=3e-3, embedding_dim=100, hidden_dim=128, dropout=0.3,
             max_seq_len=200, max_vocab=50000, min_freq=1, pooling="max", embeddings="glove")


def main(argv=None):
    args = text_models.classifier_args(__doc__.split("\n\n")[0], argv, TUNED)
    text_models.run_classifier(args, "newsgroups_lstm", "newsgroups")


if __name__ == "__main__":
    util.run_main(main)
