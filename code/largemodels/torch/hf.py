"""Convert between the package's :class:`~largemodels.torch.gpt.GPT` and Hugging Face
``transformers``' GPT-2 (``GPT2LMHeadModel``) and Llama (``LlamaForCausalLM``) models.

With internet access, ``from_pretrained("gpt2")`` or
``from_pretrained("meta-llama/Llama-3.2-1B")`` (a gated repository: accept Meta's licence
and log in first) loads released weights into the package's model in one call. The
conversion is exact: the tests build small random Hugging Face models from config objects,
convert them, and compare logits (≤ 1e-5 in float32) and state dicts (equal, both ways).
``transformers`` is needed only for the functions that build Hugging Face objects; the
state-dict mappings are plain PyTorch.

Layouts. GPT-2's checkpoints store their projections as ``Conv1D`` weights (in, out): they
are transposed into ``nn.Linear`` (out, in); the names are otherwise the package's.
Llama's separate q, k, v projections are stacked into the package's single ``c_attn`` (the
queries first, then the keys, then the values); gate, up and down projections become
``c_gate``, ``c_fc`` and ``c_proj``. Both use rotary embeddings in the same "rotate half"
layout (see :mod:`largemodels.rope`), so no permutation is needed.
"""

import torch

from ..config import GPTConfig, RopeScaling
from .gpt import GPT

__all__ = [
    "config_from_hf",
    "config_to_hf",
    "from_hf",
    "from_pretrained",
    "state_dict_from_hf",
    "state_dict_to_hf",
    "to_hf",
]

_GPT2_CONV1D = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)
_LLAMA_NAMES = {  # package name in block i -> Hugging Face name in model.layers.i
    "ln_1.weight": "input_layernorm.weight",
    "ln_2.weight": "post_attention_layernorm.weight",
    "attn.c_proj": "self_attn.o_proj",
    "mlp.c_gate": "mlp.gate_proj",
    "mlp.c_fc": "mlp.up_proj",
    "mlp.c_proj": "mlp.down_proj",
}


def _family(config):
    if (
        config.positions == "learned"
        and config.norm == "layernorm"
        and config.mlp == "gelu"
        and config.bias
        and config.n_kv_head == config.n_head
    ):
        return "gpt2"
    if (
        config.positions == "rope"
        and config.norm == "rmsnorm"
        and config.mlp == "swiglu"
    ):
        return "llama"
    raise ValueError(
        "Hugging Face has GPT-2 (learned positions, LayerNorm, GELU, biases, "
        "multi-head) and Llama (RoPE, RMSNorm, SwiGLU) layouts; this config mixes them"
    )


def config_from_hf(hf_config):
    """A :class:`~largemodels.config.GPTConfig` from a ``GPT2Config`` or ``LlamaConfig``."""
    c = hf_config
    if c.model_type == "gpt2":
        if c.activation_function != "gelu_new":
            raise ValueError(
                f"GPT-2's MLP uses the tanh GELU ('gelu_new'), got {c.activation_function!r}"
            )
        return GPTConfig(
            vocab_size=c.vocab_size,
            block_size=c.n_positions,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            n_hidden=c.n_inner or 4 * c.n_embd,
            norm_eps=c.layer_norm_epsilon,
            tie_head=c.tie_word_embeddings,
        )
    if c.model_type != "llama":
        raise ValueError(
            f"only GPT-2 and Llama configs convert, got model_type={c.model_type!r}"
        )
    if c.hidden_act != "silu" or c.attention_bias != c.mlp_bias:
        raise ValueError(
            "the package's Llama decoder needs hidden_act='silu' and the same "
            f"attention_bias and mlp_bias, got {c.hidden_act!r}, {c.attention_bias}, {c.mlp_bias}"
        )
    if getattr(c, "head_dim", None) not in (
        None,
        c.hidden_size // c.num_attention_heads,
    ):
        raise ValueError(
            f"head_dim must be hidden_size / num_attention_heads, got {c.head_dim}"
        )
    rope = dict(getattr(c, "rope_parameters", None) or {})  # transformers >= 5
    rope = {
        "rope_theta": getattr(c, "rope_theta", 10000.0),
        **(getattr(c, "rope_scaling", None) or {}),
        **rope,
    }
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", "llama3"):
        raise ValueError(f"rope_type must be 'default' or 'llama3', got {kind!r}")
    scaling = (
        None
        if kind == "default"
        else RopeScaling(
            factor=rope["factor"],
            low_freq_factor=rope["low_freq_factor"],
            high_freq_factor=rope["high_freq_factor"],
            original_block_size=rope["original_max_position_embeddings"],
        )
    )
    return GPTConfig(
        vocab_size=c.vocab_size,
        block_size=c.max_position_embeddings,
        n_layer=c.num_hidden_layers,
        n_head=c.num_attention_heads,
        n_embd=c.hidden_size,
        n_kv_head=c.num_key_value_heads,
        positions="rope",
        norm="rmsnorm",
        mlp="swiglu",
        n_hidden=c.intermediate_size,
        bias=c.attention_bias,
        tie_head=c.tie_word_embeddings,
        rope_theta=rope["rope_theta"],
        rope_scaling=scaling,
        norm_eps=c.rms_norm_eps,
    )


def config_to_hf(config):
    """A ``transformers`` ``GPT2Config`` or ``LlamaConfig`` for a GPT-2- or Llama-style config."""
    import transformers

    c = config
    if _family(c) == "gpt2":
        return transformers.GPT2Config(
            vocab_size=c.vocab_size,
            n_positions=c.block_size,
            n_layer=c.n_layer,
            n_head=c.n_head,
            n_embd=c.n_embd,
            n_inner=c.n_hidden,
            layer_norm_epsilon=c.norm_eps,
            tie_word_embeddings=c.tie_head,
            resid_pdrop=c.dropout,
            embd_pdrop=c.dropout,
            attn_pdrop=0.0,
            bos_token_id=None,
            eos_token_id=None,
        )
    rope = {"rope_type": "default", "rope_theta": c.rope_theta}
    if c.rope_scaling is not None:
        s = c.rope_scaling
        rope.update(
            rope_type="llama3",
            factor=s.factor,
            low_freq_factor=s.low_freq_factor,
            high_freq_factor=s.high_freq_factor,
            original_max_position_embeddings=s.original_block_size,
        )
    return transformers.LlamaConfig(
        vocab_size=c.vocab_size,
        max_position_embeddings=c.block_size,
        num_hidden_layers=c.n_layer,
        num_attention_heads=c.n_head,
        num_key_value_heads=c.n_kv_head,
        hidden_size=c.n_embd,
        intermediate_size=c.n_hidden,
        attention_bias=c.bias,
        mlp_bias=c.bias,
        tie_word_embeddings=c.tie_head,
        rope_parameters=rope,
        rms_norm_eps=c.norm_eps,
        hidden_act="silu",
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )


def _llama_names(config, i):
    """(package name, Hugging Face name) of block i's tensors other than q, k, v."""
    suffixes = (".weight", ".bias") if config.bias else (".weight",)
    for ours, theirs in _LLAMA_NAMES.items():
        for suffix in ("",) if ours.startswith("ln") else suffixes:
            yield f"blocks.{i}.{ours}{suffix}", f"model.layers.{i}.{theirs}{suffix}"


def _qkv_names(config, i):
    """(package c_attn name, Hugging Face q, k, v names) of block i, per weight and bias."""
    for suffix in ("weight", "bias") if config.bias else ("weight",):
        hf = [f"model.layers.{i}.self_attn.{p}_proj.{suffix}" for p in "qkv"]
        yield f"blocks.{i}.attn.c_attn.{suffix}", hf


def state_dict_from_hf(hf_state_dict, config):
    """The package's state dict from a Hugging Face GPT-2 or Llama state dict."""
    sd = dict(hf_state_dict)
    out = {}
    if _family(config) == "gpt2":
        for name, tensor in sd.items():
            if name.endswith((".attn.bias", ".attn.masked_bias")):
                continue  # old checkpoints store GPT-2's causal mask as a buffer
            name = name.removeprefix("transformer.").replace("h.", "blocks.", 1)
            if name == "lm_head.weight" and config.tie_head:
                continue  # the same tensor as wte.weight
            out[name] = tensor.t() if name.endswith(_GPT2_CONV1D) else tensor
        return out
    out["wte.weight"] = sd["model.embed_tokens.weight"]
    out["ln_f.weight"] = sd["model.norm.weight"]
    if not config.tie_head:
        out["lm_head.weight"] = sd["lm_head.weight"]
    for i in range(config.n_layer):
        for ours, (q, k, v) in _qkv_names(config, i):
            out[ours] = torch.cat([sd[q], sd[k], sd[v]], dim=0)  # queries, keys, values
        for ours, theirs in _llama_names(config, i):
            out[ours] = sd[theirs]
    return out


def state_dict_to_hf(state_dict, config):
    """A Hugging Face GPT-2 or Llama state dict from the package's (the inverse mapping)."""
    sd = dict(state_dict)
    if _family(config) == "gpt2":
        out = {}
        for name, tensor in sd.items():
            tensor = tensor.t() if name.endswith(_GPT2_CONV1D) else tensor
            if name != "lm_head.weight":
                name = "transformer." + name.replace("blocks.", "h.", 1)
            out[name] = tensor
        if config.tie_head:
            out["lm_head.weight"] = sd["wte.weight"]
        return out
    out = {
        "model.embed_tokens.weight": sd["wte.weight"],
        "model.norm.weight": sd["ln_f.weight"],
        "lm_head.weight": sd["wte.weight" if config.tie_head else "lm_head.weight"],
    }
    widths = [config.n_embd, *[config.n_kv_head * config.head_size] * 2]  # q, k, v
    for i in range(config.n_layer):
        for ours, theirs in _qkv_names(config, i):
            out.update(zip(theirs, sd[ours].split(widths, dim=0)))
        for ours, theirs in _llama_names(config, i):
            out[theirs] = sd[ours]
    return out


def from_hf(hf_model):
    """A package :class:`~largemodels.torch.gpt.GPT` with a Hugging Face model's weights
    (float32)."""
    config = config_from_hf(hf_model.config)
    model = GPT(config)
    model.load_state_dict(state_dict_from_hf(hf_model.state_dict(), config))
    return model.float()


def to_hf(model):
    """A Hugging Face ``GPT2LMHeadModel`` or ``LlamaForCausalLM`` with the model's weights."""
    import transformers

    hf_config = config_to_hf(model.config)
    family = (
        transformers.GPT2LMHeadModel
        if hf_config.model_type == "gpt2"
        else transformers.LlamaForCausalLM
    )
    hf_model = family(hf_config)
    hf_model.load_state_dict(state_dict_to_hf(model.state_dict(), model.config))
    return hf_model.eval()


def from_pretrained(name):
    """Download a released GPT-2 or Llama checkpoint from the Hugging Face Hub (needs
    internet and ``transformers``) and return it as a package
    :class:`~largemodels.torch.gpt.GPT`."""
    import transformers

    hf_model = transformers.AutoModelForCausalLM.from_pretrained(
        name, dtype=torch.float32
    )
    return from_hf(hf_model)
