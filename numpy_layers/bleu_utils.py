"""Unigram BLEU of sampled captions against reference captions (what the assignment reports)."""
import math
from collections import Counter

IGNORED = {"<START>", "<END>", "<NULL>"}


def _words(caption):
    return [word for word in caption.split() if word not in IGNORED]


def bleu_score(references, candidate):
    """
    Unigram BLEU of one candidate caption against its reference captions: the clipped unigram
    precision (each word counts at most as often as in the reference that has it most often) times the
    brevity penalty exp(1 - r / c) when the candidate (c words) is shorter than the reference closest
    in length (r words). <START>, <END> and <NULL> are ignored.

    Inputs:
    - references: list of strings (whitespace-separated words)
    - candidate: string

    Returns:
    - score in [0, 1]
    """
    candidate_words = _words(candidate)
    reference_words = [_words(reference) for reference in references]
    if not candidate_words or not any(reference_words):
        return 0.0
    most = Counter()
    for words in reference_words:
        for word, count in Counter(words).items():
            most[word] = max(most[word], count)
    clipped = sum(min(count, most[word]) for word, count in Counter(candidate_words).items())
    precision = clipped / len(candidate_words)
    c = len(candidate_words)
    r = min((len(words) for words in reference_words), key=lambda length: (abs(length - c), length))
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return precision * brevity


def corpus_bleu(references_per_caption, candidates):
    """Mean unigram BLEU over candidates (list of str), each with its list of reference strings."""
    scores = [bleu_score(refs, cand) for refs, cand in zip(references_per_caption, candidates)]
    return sum(scores) / len(scores) if scores else 0.0
