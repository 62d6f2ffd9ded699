"""The PyTorch and TensorFlow halves of the package offer the same names and the same models."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import largemodels
from largemodels import GPTConfig, costs
from largemodels import tensorflow as tlm
from largemodels import torch as plm

import tensorflow as tf  # noqa: E402  (after largemodels.tensorflow: imported quietly)
import torch  # noqa: E402

FRAMEWORKS = [plm, tlm]
TINY = GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=4, n_embd=32)


def to_framework(lm, array):
    return torch.as_tensor(array) if lm is plm else tf.constant(array)


def test_same_public_names():
    assert set(plm.__all__) == set(tlm.__all__)
    for name in plm.__all__:
        assert hasattr(plm, name) and hasattr(tlm, name)
    assert (plm.FRAMEWORK, tlm.FRAMEWORK) == ("pytorch", "tensorflow")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_layer=st.integers(1, 3), n_head=st.integers(1, 4), head_size=st.integers(1, 8),
       vocab_size=st.integers(2, 300), block_size=st.integers(2, 64))
def test_param_count_formula_matches_both_frameworks(n_layer, n_head, head_size, vocab_size, block_size):
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer,
                       n_head=n_head, n_embd=n_head * head_size)
    expected = costs.gpt_param_count(config)
    for lm in FRAMEWORKS:
        assert lm.count_params(lm.GPT(config)) == expected


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_gpt2_small_param_count(lm):
    model = lm.GPT(GPTConfig.gpt2("small"))
    assert lm.count_params(model) == 124_439_808


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_gpt_logits_shape_and_errors(lm):
    model = lm.GPT(TINY)
    idx = to_framework(lm, np.zeros((2, 5), dtype=np.int32 if lm is tlm else np.int64))
    assert tuple(model(idx).shape) == (2, 5, TINY.vocab_size)
    with pytest.raises(ValueError, match="block_size"):
        model(to_framework(lm, np.zeros((1, TINY.block_size + 1), dtype=np.int64)))
    with pytest.raises(ValueError, match="batch, time"):
        model(to_framework(lm, np.zeros((5,), dtype=np.int64)))
    with pytest.raises(TypeError, match="config"):
        lm.GPT({"n_layer": 2})


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_gpt_is_causal(lm):
    """Changing a later token leaves the logits of earlier positions unchanged."""
    model = lm.GPT(TINY)
    a = np.arange(8, dtype=np.int64)[None]  # (1, 8)
    b = a.copy()
    b[0, 5] = 42
    la, lb = (np.asarray(model(to_framework(lm, x))) if lm is tlm else model(to_framework(lm, x)).detach().numpy()
              for x in (a, b))
    np.testing.assert_allclose(la[:, :5], lb[:, :5], atol=1e-6)
    assert np.abs(la[:, 5:] - lb[:, 5:]).max() > 1e-4


@pytest.mark.parametrize("causal", [False, True])
def test_attention_agrees_between_frameworks_and_with_sdpa(causal):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    out_pt = plm.attention(*(torch.as_tensor(t) for t in (q, k, v)), causal=causal).numpy()
    out_tf = np.asarray(tlm.attention(*(tf.constant(t) for t in (q, k, v)), causal=causal))
    sdpa = torch.nn.functional.scaled_dot_product_attention(
        *(torch.as_tensor(t) for t in (q, k, v)), is_causal=causal).numpy()
    np.testing.assert_allclose(out_pt, sdpa, atol=1e-5)
    np.testing.assert_allclose(out_tf, sdpa, atol=1e-5)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_attention_rejects_wrong_rank(lm):
    x = to_framework(lm, np.zeros((2, 5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="rank 4"):
        lm.attention(x, x, x)




def gpt_forward_and_train(lm, config, idx):
    """(forward, training step) functions of a fresh GPT, for count_flops."""
    model = lm.GPT(config)
    if lm is plm:
        def train(x):
            logits = model(x)  # (B, T, V)
            torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten()).backward()
        return model, train
    import keras

    def train(x):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # (B, T, V)
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(x, logits, from_logits=True))
        return tape.gradient(loss, model.trainable_weights)
    return (lambda x: model(x)), train


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_flop_counters_match_the_formula_in_matrix_multiplies(lm):
    batch = 2
    idx = to_framework(lm, np.random.default_rng(0).integers(0, TINY.vocab_size, (batch, TINY.block_size)))
    forward, train = gpt_forward_and_train(lm, TINY, idx)
    for fn, expected in ((forward, batch * costs.gpt_forward_flops(TINY)),
                         (train, batch * costs.gpt_training_flops(TINY))):
        by_op = lm.count_flops(fn, idx, by_op=True)
        assert all(isinstance(op, str) and isinstance(n, int) and n > 0 for op, n in by_op.items())
        assert list(by_op.values()) == sorted(by_op.values(), reverse=True)
        assert lm.count_flops(fn, idx) == sum(by_op.values())
        assert costs.matmul_flops(by_op) == expected
        if lm is plm:
            assert sum(by_op.values()) == expected  # FlopCounterMode counts nothing else here
        else:
            assert expected < sum(by_op.values()) < 1.1 * expected  # plus some element-wise ops


def test_tensorflow_batch_matmul_count_corrected():
    """TF's registered BatchMatMul count reads transpose_a, not adj_x; count_flops recounts it."""
    a, b = tf.ones((2, 5, 3)), tf.ones((2, 5, 4))  # contract over the 5 rows of a

    def product(a, b):
        return tf.linalg.matmul(a, b, adjoint_a=True)  # (2, 3, 4)

    assert tlm.count_flops(product, a, b, by_op=True) == {"BatchMatMulV2": 2 * 2 * 3 * 4 * 5}
    graph = tf.function(product).get_concrete_function(a, b).graph  # negative control:
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    raw = tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
    assert raw == 2 * 2 * 3 * 4 * 3  # the profiler alone contracts over the wrong axis


def test_tensorflow_counts_no_flops_for_relu():
    x = tf.ones((4, 8))
    assert tlm.count_flops(tf.nn.relu, x) == 0
    assert tlm.count_flops(lambda x: x + 1.0, x, by_op=True) == {"AddV2": 32}


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=["pytorch", "tensorflow"])
def test_helpers_reject_wrong_types(lm):
    with pytest.raises(TypeError, match="model"):
        lm.count_params("not a model")
    with pytest.raises(TypeError, match="fn"):
        lm.count_flops(42)


def test_devices_and_report():
    report = largemodels.device_report()
    assert report["pytorch"][0] == "cpu" and report["tensorflow"][0].startswith("cpu")
    assert str(plm.device()) == ("cuda" if torch.cuda.is_available() else "cpu")
    assert tlm.device() == ("/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0")
    with pytest.raises(ValueError, match="frameworks"):
        largemodels.device_report("jax")


def test_seed_everything_seeds_both_frameworks():
    largemodels.seed_everything(7)
    a = (torch.rand(3).numpy(), tf.random.uniform((3,)).numpy())
    largemodels.seed_everything(7)
    b = (torch.rand(3).numpy(), tf.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpt_runs_on_gpu_in_both_frameworks():
    model = plm.GPT(TINY).to(plm.device())
    assert model(torch.zeros(1, 4, dtype=torch.long, device=plm.device())).is_cuda
    with tf.device(tlm.device()):
        out = tlm.GPT(TINY)(tf.zeros((1, 4), dtype=tf.int32))
    assert "GPU" in out.device


def test_cpu_peak_from_cpuinfo():
    from largemodels.devices import _cpu_peak
    cpu = ("processor: {n}\nvendor_id: GenuineIntel\ncpu family: 6\nphysical id: 0\ncore id: 0\n"
           "cpu MHz: 2200.0\nflags: fpu sse2 avx avx2 fma avx512f\n")
    colab = "\n".join(cpu.format(n=n) for n in (0, 1))  # one core, two hyper-threads
    peak = _cpu_peak(colab, [0, 1], None, "float32", None)
    assert (peak.cores, peak.simd, peak.simd_lanes, peak.fma_units) == (1, "AVX-512", 16, 2)
    assert peak.flops == 1 * 2.2e9 * 16 * 2 * 2 and not peak.clock_is_max
    boost = _cpu_peak(colab, [0, 1], 3.9e9, "float64", 1)
    assert boost.clock_is_max and boost.flops == 3.9e9 * 8 * 1 * 2
    zen4 = colab.replace("GenuineIntel", "AuthenticAMD").replace("family: 6", "family: 25")
    assert _cpu_peak(zen4, [0, 1], None, "float32", None).fma_units == 1
    no_clock = "\n".join(line for line in colab.splitlines() if "MHz" not in line)
    assert _cpu_peak(no_clock, [0, 1], None, "float32", None).flops is None


def test_cpu_peak_of_this_machine():
    peak = largemodels.devices.cpu_peak_flops()
    assert peak.cores >= 1
    if peak.flops is not None:
        assert peak.flops == peak.cores * peak.clock_hz * peak.simd_lanes * peak.fma_units * 2
        assert largemodels.devices.cpu_peak_flops("float64").flops == peak.flops / 2
    with pytest.raises(ValueError, match="dtype"):
        largemodels.devices.cpu_peak_flops("bfloat16")
