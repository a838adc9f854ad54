"""Image captioning with a recurrent network on image features (vanilla RNN or LSTM)."""
import numpy as np

from rnn_layers import (lstm_backward, lstm_forward, lstm_step_forward, rnn_backward, rnn_forward,
                        rnn_step_forward, temporal_fc_backward, temporal_fc_forward, temporal_softmax_loss,
                        word_embedding_backward, word_embedding_forward)


class CaptioningRNN:
    """
    Produces captions from image features with a recurrent network: the features (N, D), projected
    to the initial hidden state, condition a vanilla RNN or LSTM that reads word vectors of dimension
    W and predicts, at every step, a score for each of the V words of the vocabulary.

    Sequences of length T; hidden size H. Captions are integer arrays (N, T + 1) starting with <START>
    and padded with <NULL>, whose positions are left out of the loss. No regularisation.

    Learnable parameters in self.params: W_proj (D, H), b_proj (H,), W_embed (V, W),
    Wx (W, H) or (W, 4H), Wh (H, H) or (H, 4H), b (H,) or (4H,), W_vocab (H, V), b_vocab (V,).
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128, cell_type="rnn",
                 dtype=np.float32, seed=None):
        if cell_type not in ("rnn", "lstm"):
            raise ValueError(f'invalid cell_type "{cell_type}": use "rnn" or "lstm"')
        rng = np.random.default_rng(seed)
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        vocab_size = len(word_to_idx)
        self._null, self._start, self._end = word_to_idx["<NULL>"], word_to_idx.get("<START>"), word_to_idx.get("<END>")
        gates = 4 if cell_type == "lstm" else 1

        def scaled(shape, fan_in):
            return rng.standard_normal(shape) / np.sqrt(fan_in)
        self.params = {
            "W_embed": rng.standard_normal((vocab_size, wordvec_dim)) / 100,
            "W_proj": scaled((input_dim, hidden_dim), input_dim), "b_proj": np.zeros(hidden_dim),
            "Wx": scaled((wordvec_dim, gates * hidden_dim), wordvec_dim),
            "Wh": scaled((hidden_dim, gates * hidden_dim), hidden_dim), "b": np.zeros(gates * hidden_dim),
            "W_vocab": scaled((hidden_dim, vocab_size), hidden_dim), "b_vocab": np.zeros(vocab_size),
        }
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}

    def loss(self, features, captions):
        """
        Training loss and gradients.

        Inputs:
        - features: image features, of shape (N, D)
        - captions: ground-truth captions, integers of shape (N, T + 1), each in 0 <= y < V

        Returns a tuple of:
        - loss: scalar, the temporal softmax loss of predicting captions[:, 1:] from captions[:, :-1]
        - grads: dict with the keys and shapes of self.params
        """
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        p = self.params
        forward, backward = (rnn_forward, rnn_backward) if self.cell_type == "rnn" else (lstm_forward, lstm_backward)

        h0 = features @ p["W_proj"] + p["b_proj"]                              # (N, H)
        words, embed_cache = word_embedding_forward(captions_in, p["W_embed"])  # (N, T, W)
        hidden, rnn_cache = forward(words.transpose(1, 0, 2), h0, p["Wx"], p["Wh"], p["b"])  # (T, N, H)
        scores, fc_cache = temporal_fc_forward(hidden.transpose(1, 0, 2), p["W_vocab"], p["b_vocab"])  # (N, T, V)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dhidden, grads["W_vocab"], grads["b_vocab"] = temporal_fc_backward(dscores, fc_cache)
        dwords, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dhidden.transpose(1, 0, 2), rnn_cache)
        grads["W_embed"] = word_embedding_backward(dwords.transpose(1, 0, 2), embed_cache)
        grads["W_proj"] = features.T @ dh0
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads

    def sample(self, features, max_length=30):
        """
        Greedy decoding: start from <START> and feed back the highest-scoring word at every step.

        Inputs:
        - features: image features, of shape (N, D)
        - max_length: number of words to produce

        Returns:
        - captions: integer array of shape (N, max_length); after <END> every position is <NULL>
        """
        p = self.params
        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = np.full(N, self._start, dtype=np.int32)
        finished = np.zeros(N, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "rnn":
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1).astype(np.int32)
            captions[~finished, t] = word[~finished]
            finished |= word == self._end
        return captions
