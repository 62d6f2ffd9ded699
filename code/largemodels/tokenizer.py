"""A byte-level BPE tokenizer, written to be read: train merges, encode, decode.

Byte-pair encoding (Sennrich et al., 2016) starts from a base vocabulary and keeps adding the
most frequent pair of neighbouring tokens as a new token. GPT-2's byte-level variant (Radford
et al., 2019) starts from the 256 byte values, so every string has an encoding and
``decode(encode(text)) == text`` for any Unicode text. A regular expression first cuts the text
into chunks (a word with its leading space, a number, a run of punctuation or of whitespace);
merges never cross a chunk boundary.

Training counts pairs over the *distinct* chunks, each weighted by how often it occurs, and
after a merge recounts only the chunks that contain the merged pair (an index pair -> chunks
says which), so a 4k vocabulary trains on half a megabyte of text in seconds.

Ties: of two equally frequent pairs, the one with the smaller ids wins (compared first by the
left id, then by the right), with the bytes in Hugging Face ``tokenizers``' order: the printable
bytes ``!``..``~``, ``¡``..``¬``, ``®``..``ÿ`` first, then the rest (space, control bytes, ...).
That is the rule of its ``BpeTrainer``, so our merges follow its merges.
"""
import heapq
import warnings
from collections import Counter, defaultdict
from numbers import Integral

import regex

__all__ = ["GPT2_PATTERN", "BPETokenizer"]

#: GPT-2's pre-tokenizer: contractions, words, numbers, punctuation, whitespace.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Hugging Face numbers the bytes by the code point of GPT-2's printable stand-in for each byte:
# printable bytes stand for themselves, the others get the code points 256, 257, ...
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
              *range(ord("®"), ord("ÿ") + 1)]
_TIE_RANK = {b: r for r, b in enumerate(_PRINTABLE + sorted(set(range(256)) - set(_PRINTABLE)))}


def _tie_key(pair):
    """Sort key among equally frequent pairs: smallest first; merged tokens rank by their id."""
    return _TIE_RANK.get(pair[0], pair[0]), _TIE_RANK.get(pair[1], pair[1])


def _merge(ids, pair, new_id):
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, scanning left to right."""
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def _learn_merges(chunk_counts, n_merges):
    """Up to ``n_merges`` merges learned from ``chunk_counts`` (a Counter of distinct chunks)."""
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # token ids per chunk
    counts = list(chunk_counts.values())
    pair_counts = defaultdict(int)  # pair -> occurrences in the text
    where = defaultdict(set)  # pair -> indices of the words that contain it (or did once)
    for i, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += counts[i]
            where[pair].add(i)
    # A max-heap on (count, smallest tie key); an entry whose count is out of date is
    # re-pushed with the current count when it comes to the top.
    heap = [(-count, _tie_key(pair), pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < n_merges:
        neg_count, _, pair = heapq.heappop(heap)
        if -neg_count != pair_counts[pair]:  # the pair lost occurrences to earlier merges
            if pair_counts[pair] > 0:
                heapq.heappush(heap, (-pair_counts[pair], _tie_key(pair), pair))
            continue
        new_id = 256 + len(merges)
        merges.append(pair)
        new_pairs = set()
        for i in where.pop(pair):  # recount only the words that contain the pair
            old, new = words[i], _merge(words[i], pair, new_id)
            for p in zip(old, old[1:]):
                pair_counts[p] -= counts[i]
            for p in zip(new, new[1:]):
                pair_counts[p] += counts[i]
                where[p].add(i)
                if new_id in p:  # only pairs with the new token can have grown
                    new_pairs.add(p)
            words[i] = new
        for p in new_pairs:
            heapq.heappush(heap, (-pair_counts[p], _tie_key(p), p))
    return merges


class BPETokenizer:
    """A byte-level BPE tokenizer: ids 0..255 are the bytes, id 256 + i is ``merges[i]``.

    Build one with :meth:`train`, or from a list of merges learned before. ``pattern`` is
    the pre-tokenization regex (``regex`` module syntax); it must match every character of
    the text, as GPT-2's does, or encoding loses the characters it skips.
    """

    def __init__(self, merges, pattern=GPT2_PATTERN):
        self.merges = [tuple(pair) for pair in merges]  # (id_a, id_b) in the order learned
        self.pattern = pattern
        self._vocab = [bytes([b]) for b in range(256)]  # token id -> its bytes
        for i, (a, b) in enumerate(self.merges):
            for token in (a, b):
                if isinstance(token, bool) or not isinstance(token, Integral) or not (
                        0 <= token < 256 + i):
                    raise ValueError(f"merges[{i}] must pair ids below {256 + i}, got {(a, b)}")
            self._vocab.append(self._vocab[a] + self._vocab[b])
        self._ranks = {pair: i for i, pair in enumerate(self.merges)}  # pair -> merge rank
        self._split = regex.compile(pattern)
        self._cache = {}  # chunk -> its ids; grows with the distinct chunks encoded

    @classmethod
    def train(cls, text, vocab_size, pattern=GPT2_PATTERN):
        """Learn ``vocab_size - 256`` merges from ``text`` and return the tokenizer.

        If the text runs out of pairs first (every chunk is a single token), training stops
        there with a warning, and the tokenizer's ``vocab_size`` is smaller than asked.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must not be empty: there is nothing to learn merges from")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, Integral):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be >= 256 (one id per byte), got {vocab_size}")
        chunk_counts = Counter(regex.findall(pattern, text))
        merges = _learn_merges(chunk_counts, vocab_size - 256)
        if len(merges) < vocab_size - 256:
            warnings.warn(f"the text supports only {256 + len(merges)} tokens, "
                          f"fewer than vocab_size={vocab_size}; stopped there", stacklevel=2)
        return cls(merges, pattern)

    @property
    def vocab_size(self):
        """Number of token ids: 256 bytes plus one per merge."""
        return len(self._vocab)

    def token_bytes(self, token_id):
        """The bytes that token ``token_id`` stands for."""
        self._check_id(token_id)
        return self._vocab[token_id]

    def encode(self, text):
        """The token ids of ``text``: each chunk starts as bytes, then the pair with the
        earliest merge is merged, again and again, until no learned merge applies."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids = []
        for chunk in self._split.findall(text):
            if chunk not in self._cache:
                self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(self._cache[chunk])
        return ids

    def _encode_chunk(self, chunk):
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self._ranks.get(p, float("inf")))
            if pair not in self._ranks:
                break
            ids = _merge(ids, pair, 256 + self._ranks[pair])
        return ids

    def decode(self, ids):
        """The text of ``ids``. Ids cut from a longer sequence may end inside a multi-byte
        character; bytes that are not valid UTF-8 decode to U+FFFD (``errors="replace"``)."""
        ids = list(ids)
        for token_id in ids:
            self._check_id(token_id)
        return b"".join(self._vocab[i] for i in ids).decode("utf-8", errors="replace")

    def _check_id(self, token_id):
        if isinstance(token_id, bool) or not isinstance(token_id, Integral) or not (
                0 <= token_id < self.vocab_size):
            raise ValueError(f"unknown token id {token_id!r}: ids are ints in "
                             f"[0, {self.vocab_size})")
