"""The closed-form arithmetic of largemodels.costs."""
import math

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
