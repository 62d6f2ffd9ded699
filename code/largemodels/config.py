"""Model configurations shared by the PyTorch and TensorFlow implementations."""
import math
from dataclasses import dataclass

from ._checks import check_bool, fraction, one_of, positive_int, positive_real


@dataclass(frozen=True)
class RopeScaling:
    """Llama 3.1's stretch of the rotary frequencies for long contexts ("llama3" in
    Hugging Face's configs): wavelengths longer than ``original_block_size / low_freq_factor``
    are divided by ``factor``, those shorter than ``original_block_size / high_freq_factor``
    are kept, and those in between are blended. See :func:`largemodels.rope.inverse_frequencies`.
    """

    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_block_size: int = 8192

    def __post_init__(self):
        for name in ("factor", "low_freq_factor", "high_freq_factor"):
            positive_real(name, getattr(self, name))
        positive_int("original_block_size", self.original_block_size)
        if self.high_freq_factor <= self.low_freq_factor:
            raise ValueError(f"high_freq_factor must be > low_freq_factor, got "
                             f"{self.high_freq_factor} and {self.low_freq_factor}")


@dataclass(frozen=True)
class GPTConfig:
    """A decoder-only Transformer: GPT-2 by default, the Llama family with its options.

    vocab_size: number of token ids; block_size: longest context; n_layer: Transformer
    blocks; n_head: query heads; n_embd: model width d; dropout: dropout probability
    used in training. The options of the modern decoder (Section 3.7), with GPT-2's
    choice as the default:

    - n_kv_head: key/value heads, dividing n_head (None: n_head, i.e. multi-head
      attention; fewer: grouped-query attention; 1: multi-query attention);
    - positions: "learned" (GPT-2's position table) or "rope" (rotary embeddings,
      base ``rope_theta``, optionally stretched by ``rope_scaling``);
    - norm: "layernorm" or "rmsnorm", with epsilon ``norm_eps``;
    - mlp: "gelu" (Linear, tanh GELU, Linear) or "swiglu" (SiLU-gated, three matrices);
    - n_hidden: the MLP's hidden width (None: 4 d for "gelu"; for "swiglu", 8 d / 3
      rounded up to a multiple of 64, which keeps the MLP's parameters near 8 d^2);
    - bias: whether the Linear layers have biases; tie_head: whether the output head
      shares the token embedding's weight.
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    n_kv_head: int | None = None
    positions: str = "learned"
    norm: str = "layernorm"
    mlp: str = "gelu"
    n_hidden: int | None = None
    bias: bool = True
    tie_head: bool = True
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    norm_eps: float = 1e-5

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
        one_of("positions", self.positions, ("learned", "rope"))
        one_of("norm", self.norm, ("layernorm", "rmsnorm"))
        one_of("mlp", self.mlp, ("gelu", "swiglu"))
        check_bool("bias", self.bias)
        check_bool("tie_head", self.tie_head)
        positive_real("rope_theta", self.rope_theta)
        positive_real("norm_eps", self.norm_eps)
        if self.rope_scaling is not None and not isinstance(self.rope_scaling, RopeScaling):
            raise TypeError(f"rope_scaling must be a largemodels.config.RopeScaling or None, "
                            f"got {type(self.rope_scaling).__name__}")
        if self.positions == "rope" and self.head_size % 2:
            raise ValueError(f"rotary embeddings rotate pairs of features: head_size = n_embd / "
                             f"n_head must be even, got {self.head_size}")
        # Resolve the defaults, so that every field holds a concrete value.
        n_kv_head = self.n_head if self.n_kv_head is None else positive_int("n_kv_head", self.n_kv_head)
        if self.n_head % n_kv_head:
            raise ValueError(f"n_kv_head must divide n_head, got n_kv_head={n_kv_head}, "
                             f"n_head={self.n_head}")
        if self.n_hidden is None:
            n_hidden = 4 * self.n_embd if self.mlp == "gelu" else swiglu_hidden_size(self.n_embd)
        else:
            n_hidden = positive_int("n_hidden", self.n_hidden)
        object.__setattr__(self, "n_kv_head", n_kv_head)
        object.__setattr__(self, "n_hidden", n_hidden)

    @property
    def head_size(self):
        """Channels per attention head, ``n_embd // n_head``."""
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

    @classmethod
    def llama(cls, name="3.2-1B"):
        """The shapes of Meta's Llama 3 models, from the config.json files published with
        the weights (huggingface.co/meta-llama): RoPE with base 500,000 and the "llama3"
        frequency stretch, RMSNorm (epsilon 1e-5), SwiGLU, no biases, 8 key/value heads.
        The 1B and 3B models tie the output head to the embedding; 8B does not."""
        shapes = {  # n_layer, n_head, n_embd, n_hidden, tied, rope factor
            "3.2-1B": (16, 32, 2048, 8192, True, 32.0),
            "3.2-3B": (28, 24, 3072, 8192, True, 32.0),
            "3.1-8B": (32, 32, 4096, 14336, False, 8.0),
        }
        if name not in shapes:
            raise ValueError(f"name must be one of {sorted(shapes)}, got {name!r}")
        n_layer, n_head, n_embd, n_hidden, tied, factor = shapes[name]
        return cls(vocab_size=128256, block_size=131072, n_layer=n_layer, n_head=n_head,
                   n_embd=n_embd, n_kv_head=8, positions="rope", norm="rmsnorm", mlp="swiglu",
                   n_hidden=n_hidden, bias=False, tie_head=tied, rope_theta=500000.0,
                   rope_scaling=RopeScaling(factor=factor), norm_eps=1e-5)

    @classmethod
    def llama_like(cls, vocab_size, block_size, n_layer, n_head, n_embd, n_kv_head=None,
                   **options):
        """A small model with the Llama family's parts (RoPE, RMSNorm, SwiGLU, no biases,
        untied head) and any shape: the modern decoder at a size a CPU can train."""
        parts = dict(positions="rope", norm="rmsnorm", mlp="swiglu", bias=False, tie_head=False)
        return cls(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                   n_embd=n_embd, n_kv_head=n_kv_head, **{**parts, **options})


def swiglu_hidden_size(n_embd, multiplier=1.0, multiple_of=64):
    """The SwiGLU width rule of Llama's reference code: start from 2/3 of 4 d (so that three
    matrices hold about the 8 d^2 parameters of a 4 d GELU MLP), scale by ``multiplier``,
    round up to a multiple of ``multiple_of``. Llama 3.1-8B: d = 4096, multiplier 1.3,
    multiple_of 1024 -> 14336."""
    hidden = int(2 * 4 * positive_int("n_embd", n_embd) / 3)
    hidden = int(positive_real("multiplier", multiplier) * hidden)
    step = positive_int("multiple_of", multiple_of)
    return step * math.ceil(hidden / step)
