"""Model configurations shared by the PyTorch and TensorFlow implementations."""
from dataclasses import dataclass

from ._checks import fraction, positive_int


@dataclass(frozen=True)
class GPTConfig:
    """A GPT-2-style decoder-only Transformer.

    vocab_size: number of token ids; block_size: longest context (learned positions);
    n_layer: Transformer blocks; n_head: attention heads; n_embd: model width d;
    dropout: dropout probability used in training.
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            positive_int(name, getattr(self, name))
        fraction("dropout", self.dropout)
        if self.dropout >= 1:
            raise ValueError(f"dropout must be < 1, got {self.dropout}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd must be divisible by n_head, got n_embd={self.n_embd}, n_head={self.n_head}"
            )

    @property
    def head_size(self):
        return self.n_embd // self.n_head

    @classmethod
    def gpt2(cls, size="small"):
        """The released GPT-2 configurations: layers and widths from Radford et al. (2019),
        Table 2; the head counts, which the paper does not give, from the hparams.json files
        OpenAI released with the checkpoints (github.com/openai/gpt-2)."""
        shapes = {"small": (12, 12, 768), "medium": (24, 16, 1024),
                  "large": (36, 20, 1280), "xl": (48, 25, 1600)}
        if size not in shapes:
            raise ValueError(f"size must be one of {sorted(shapes)}, got {size!r}")
        n_layer, n_head, n_embd = shapes[size]
        return cls(vocab_size=50257, block_size=1024, n_layer=n_layer, n_head=n_head, n_embd=n_embd)
