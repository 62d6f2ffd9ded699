"""The closed-form arithmetic of largemodels.costs."""
import dataclasses
import math
import random

import pytest

from largemodels import GPTConfig, costs

GPT2_SMALL = GPTConfig.gpt2("small")


def test_gpt2_small_has_124439808_parameters():
    assert costs.gpt_param_count(GPT2_SMALL) == 124_439_808


def test_untied_head_adds_one_embedding_matrix():
    extra = costs.gpt_param_count(GPT2_SMALL, tied=False) - costs.gpt_param_count(GPT2_SMALL)
    assert extra == 50257 * 768


def test_breakdown_sums_to_total():
    parts = costs.gpt_param_breakdown(GPT2_SMALL)
    assert parts["blocks"] == 12 * (12 * 768**2 + 13 * 768)
    assert sum(parts.values()) == costs.gpt_param_count(GPT2_SMALL)


def test_gpt2_sizes_grow():
    sizes = [costs.gpt_param_count(GPTConfig.gpt2(s)) for s in ("small", "medium", "large", "xl")]
    assert sizes == sorted(sizes)
    assert 1.5e9 < sizes[-1] < 1.6e9  # GPT-2 XL: "1.5B"


def test_forward_flops_formula_by_hand():
    c = GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=2)
    per_token = 1 * (24 * 2 * 2 + 4 * 4 * 2) + 2 * 2 * 10
    assert costs.gpt_forward_flops(c) == 4 * per_token
    assert costs.gpt_training_flops(c, seq_len=2) == 3 * costs.gpt_forward_flops(c, seq_len=2)


def test_six_n_d_matches_gpt3_report():
    # Brown et al. (2020) report 3.14e23 training FLOPs for 175B parameters and 300B tokens.
    assert costs.training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)


def test_training_state_is_16_bytes_per_parameter():
    for precision in ("fp32", "mixed"):
        assert sum(costs.training_state_bytes(1000, precision).values()) == 16_000
    # Megatron Core's fp32 main gradients: 2 + 4 + 12 bytes
    assert sum(costs.training_state_bytes(1000, "mixed_fp32_grads").values()) == 18_000
    with pytest.raises(ValueError, match="precision"):
        costs.training_state_bytes(1000, "fp8")


def test_weight_bytes_per_dtype():
    assert costs.weight_bytes(10, "bfloat16") == 20
    assert costs.weight_bytes(10, "int4") == 5


def test_estimate_run_arithmetic():
    gpu = costs.Hardware("toy", peak_flops=1e12, watts=500)
    run = costs.estimate_run(3.6e15, gpu, n_gpus=2, mfu=0.5, pue=1.0, usd_per_gpu_hour=3.0,
                             kg_co2_per_kwh=0.5)
    assert run.gpu_hours == pytest.approx(2.0)  # 3.6e15 / (0.5e12 * 3600)
    assert run.wall_days == pytest.approx(1 / 24)
    assert run.energy_kwh == pytest.approx(1.0)
    assert run.cost_usd == pytest.approx(6.0)
    assert run.co2_tonnes == pytest.approx(0.0005)


@pytest.mark.parametrize("kwargs, message", [
    (dict(mfu=0), "mfu"), (dict(mfu=1.5), "mfu"), (dict(n_gpus=0), "n_gpus"),
    (dict(n_gpus=1.5), "n_gpus"), (dict(pue=0.9), "pue"), (dict(flops=-1), "flops"),
])
def test_estimate_run_rejects_bad_input(kwargs, message):
    args = dict(flops=1e20, hardware=costs.Hardware("toy", 1e12, 300), n_gpus=8, mfu=0.4)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        costs.estimate_run(**args)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="config"):
        costs.gpt_param_count({"n_layer": 12})
    with pytest.raises(ValueError, match="seq_len"):
        costs.gpt_forward_flops(GPT2_SMALL, seq_len=2048)
    with pytest.raises(ValueError, match="dtype"):
        costs.weight_bytes(10, "float8")
    with pytest.raises(TypeError, match="hardware"):
        costs.estimate_run(1e20, "A100", 8, 0.4)
    with pytest.raises(ValueError, match="watts"):
        costs.Hardware("toy", 1e12, 0)


def test_gpt_config_validation():
    with pytest.raises(ValueError, match="n_embd must be divisible by n_head"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=3, n_embd=8)
    with pytest.raises(TypeError, match="n_layer"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1.0, n_head=2, n_embd=8)
    with pytest.raises(ValueError, match="block_size"):
        GPTConfig(vocab_size=10, block_size=0, n_layer=1, n_head=2, n_embd=8)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=1.0)
    with pytest.raises(ValueError, match="size"):
        GPTConfig.gpt2("huge")
    assert math.isclose(GPT2_SMALL.head_size, 64)


def test_presets_memory_and_mfu():
    assert costs.devices_to_hold(350e9, costs.A100) == 5  # GPT-3's fp16 weights on 80 GB cards
    with pytest.raises(ValueError, match="memory_bytes"):
        costs.devices_to_hold(1e9, costs.Hardware("no memory given", 1e12, 100))
    assert costs.mfu(156e12, costs.A100.peak_flops) == pytest.approx(0.5)
    run = costs.estimate_run(3.6e18, costs.A100, n_gpus=1, mfu=0.5, pue=1.0)
    assert run.flops_per_joule == pytest.approx(3.6e18 / (run.energy_kwh * 3.6e6))


def test_hardware_presets_are_complete_and_in_decimal_units():
    assert costs.A100 in costs.PRESETS and costs.H100 in costs.PRESETS
    for hw in costs.PRESETS:
        assert hw.memory_bytes and hw.memory_bandwidth and hw.peak_flops > 1e14, hw.name
    assert costs.A100.memory_bytes == 80e9 and costs.A100.memory_bytes / 2**30 < 75  # 74.5 GiB
    assert costs.A100_40GB.memory_bandwidth < costs.A100.memory_bandwidth  # 1.555 vs 2.039 TB/s
    assert costs.H200.peak_flops == costs.H100.peak_flops  # same chip, more and faster memory
    with pytest.raises(ValueError, match="memory_bandwidth"):
        costs.Hardware("toy", 1e12, 100, memory_bandwidth=0)


def test_memory_read_seconds():
    gpu = costs.Hardware("toy", 1e12, 100, memory_bandwidth=2e12)
    assert costs.memory_read_seconds(4e12, gpu) == pytest.approx(2.0)
    assert costs.memory_read_seconds(4e12, gpu, n_devices=4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="memory_bandwidth"):
        costs.memory_read_seconds(1e9, costs.Hardware("no bandwidth", 1e12, 100))
    with pytest.raises(ValueError, match="n_devices"):
        costs.memory_read_seconds(1e9, gpu, n_devices=0)


def test_matrix_products_are_picked_by_name_in_both_frameworks():
    tf_counts = {"MatMul": 10, "BatchMatMulV2": 20, "Einsum": 4, "AddV2": 1, "Mul": 2}
    torch_counts = {"aten.mm": 10, "aten.addmm": 20, "aten.bmm": 4, "aten.baddbmm": 8,
                    "aten.add": 1, "aten.mul": 2}
    assert costs.matmul_flops(tf_counts) == 34
    assert costs.matmul_flops(torch_counts) == 42
    assert not costs.is_matrix_product("aten.mean") and not costs.is_matrix_product("Sum")
    with pytest.raises(TypeError, match="by_op"):
        costs.matmul_flops([("MatMul", 1)])


# The modern decoder: GQA, RoPE, RMSNorm, SwiGLU, no biases, tied or untied head.

# Exact totals of the released checkpoints (safetensors metadata). Sources: config.json and
# model card, huggingface.co/meta-llama/Llama-3.2-1B, huggingface.co/meta-llama/Llama-3.2-3B,
# huggingface.co/meta-llama/Llama-3.1-8B.
PUBLISHED_LLAMA_PARAMS = {"3.2-1B": 1_235_814_400, "3.2-3B": 3_212_749_824,
                          "3.1-8B": 8_030_261_248}


@pytest.mark.parametrize("name", sorted(PUBLISHED_LLAMA_PARAMS))
def test_llama3_param_counts_match_the_published_checkpoints(name):
    assert costs.gpt_param_count(GPTConfig.llama(name)) == PUBLISHED_LLAMA_PARAMS[name]


def test_tied_argument_overrides_the_config():
    llama_8b = GPTConfig.llama("3.1-8B")  # untied
    head = 128256 * 4096
    assert costs.gpt_param_count(llama_8b, tied=True) == PUBLISHED_LLAMA_PARAMS["3.1-8B"] - head
    assert costs.gpt_param_breakdown(llama_8b)["output_head"] == head
    assert costs.gpt_param_breakdown(GPTConfig.llama("3.2-1B"))["output_head"] == 0
    # the GPT-2 breakdown (printed in Section 1.1) keeps its parts and their order
    assert list(costs.gpt_param_breakdown(GPT2_SMALL)) == [
        "token_embedding", "position_embedding", "blocks", "final_layernorm", "output_head"]
    with pytest.raises(TypeError, match="tied"):
        costs.gpt_param_count(GPT2_SMALL, tied="yes")


def _hf_param_count(model):
    return sum(p.numel() for p in model.parameters())  # a tied weight is one Parameter


def _random_shape(seed, n_head):
    rng = random.Random(seed)
    return {"vocab_size": rng.randint(5, 300), "block_size": rng.randint(4, 64),
            "n_layer": rng.randint(1, 3), "n_head": n_head,
            "n_embd": n_head * 2 * rng.randint(1, 4),  # head_size even, as RoPE needs
            "n_hidden": rng.randint(3, 100)}


@pytest.mark.parametrize("kv_heads", ["mha", "gqa", "mqa"])
@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_llama_like_param_count_matches_hugging_face(kv_heads, bias, tied):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    n_kv_head = {"mha": 4, "gqa": 2, "mqa": 1}[kv_heads]
    shape = _random_shape(seed=10 * n_kv_head + 2 * bias + tied, n_head=4)
    config = GPTConfig.llama_like(n_kv_head=n_kv_head, bias=bias, tie_head=tied, **shape)
    hf_config = transformers.LlamaConfig(
        vocab_size=config.vocab_size, max_position_embeddings=config.block_size,
        num_hidden_layers=config.n_layer, hidden_size=config.n_embd,
        num_attention_heads=config.n_head, num_key_value_heads=config.n_kv_head,
        head_dim=config.head_size, intermediate_size=config.n_hidden,
        attention_bias=bias, mlp_bias=bias, tie_word_embeddings=tied)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(hf_config)
    assert _hf_param_count(model) == costs.gpt_param_count(config)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("seed", [1, 2])
def test_gpt2_like_param_count_matches_hugging_face(tied, seed):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    config = GPTConfig(tie_head=tied, **_random_shape(seed, n_head=2 * seed))
    hf_config = transformers.GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.block_size, n_layer=config.n_layer,
        n_embd=config.n_embd, n_head=config.n_head, n_inner=config.n_hidden,
        tie_word_embeddings=tied)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(hf_config)
    assert _hf_param_count(model) == costs.gpt_param_count(config)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_rope_with_layernorm_and_gelu_matches_gpt_neox(tied):
    # GPT-NeoX: rotary positions, LayerNorm, GELU MLP, biases, multi-head attention.
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    config = GPTConfig(positions="rope", tie_head=tied, **_random_shape(seed=3, n_head=4))
    hf_config = transformers.GPTNeoXConfig(
        vocab_size=config.vocab_size, max_position_embeddings=config.block_size,
        num_hidden_layers=config.n_layer, hidden_size=config.n_embd,
        num_attention_heads=config.n_head, intermediate_size=config.n_hidden,
        attention_bias=True, tie_word_embeddings=tied)
    with torch.device("meta"):
        model = transformers.GPTNeoXForCausalLM(hf_config)
    assert _hf_param_count(model) == costs.gpt_param_count(config)


def _tiny_hf_llama(config):
    transformers = pytest.importorskip("transformers")
    hf_config = transformers.LlamaConfig(
        vocab_size=config.vocab_size, max_position_embeddings=config.block_size,
        num_hidden_layers=config.n_layer, hidden_size=config.n_embd,
        num_attention_heads=config.n_head, num_key_value_heads=config.n_kv_head,
        head_dim=config.head_size, intermediate_size=config.n_hidden,
        tie_word_embeddings=config.tie_head, attn_implementation="eager")
    return transformers.LlamaForCausalLM(hf_config).eval()


TINY_LLAMA = GPTConfig.llama_like(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32,
                                  n_kv_head=2, n_hidden=40)


def test_llama_like_forward_flops_match_pytorch_flop_counter():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    model = _tiny_hf_llama(TINY_LLAMA)  # eager attention: the full T x T products
    batch, T = 3, 12
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(batch, T, dtype=torch.long))
    assert counter.get_total_flops() == batch * costs.gpt_forward_flops(TINY_LLAMA, seq_len=T)


def test_kv_cache_bytes_match_hugging_face_cache():
    torch = pytest.importorskip("torch")
    model = _tiny_hf_llama(TINY_LLAMA)
    batch, T = 3, 10
    with torch.no_grad():
        cache = model(torch.zeros(batch, T, dtype=torch.long), use_cache=True).past_key_values
    stored = sum(t.nbytes for layer in cache.layers for t in (layer.keys, layer.values))
    assert stored == costs.kv_cache_bytes(TINY_LLAMA, T, batch_size=batch, dtype="float32")


def test_kv_cache_of_llama_8b_at_8k_tokens_is_one_gib():
    llama_8b = GPTConfig.llama("3.1-8B")
    for dtype in ("bfloat16", "float16"):
        assert costs.kv_cache_bytes(llama_8b, 8192, dtype=dtype) == 2**30  # 2*32*8*128*8192*2
    # grouped-query attention: 8 key/value heads instead of 32 keep a quarter of the cache
    multi_head = dataclasses.replace(llama_8b, n_kv_head=llama_8b.n_head)
    assert costs.kv_cache_bytes(multi_head, 8192) == 4 * 2**30
    assert costs.kv_cache_bytes(llama_8b, 8192, batch_size=4, dtype="int8") == 2 * 2**30


def test_kv_cache_bytes_rejects_bad_input():
    with pytest.raises(ValueError, match="seq_len"):
        costs.kv_cache_bytes(GPT2_SMALL, 1025)
    with pytest.raises(TypeError, match="seq_len"):
        costs.kv_cache_bytes(GPT2_SMALL, 10.0)
    with pytest.raises(ValueError, match="batch_size"):
        costs.kv_cache_bytes(GPT2_SMALL, 10, batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        costs.kv_cache_bytes(GPT2_SMALL, 10, dtype="float8")
    with pytest.raises(TypeError, match="config"):
        costs.kv_cache_bytes("gpt2", 10)
