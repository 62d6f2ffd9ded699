"""Parameter, FLOP, memory, time, energy and money arithmetic for Transformer language models.

Pure Python. Each function states its formula; the book checks them against PyTorch and
TensorFlow. Notation: V vocabulary, T context length, L layers, d width, N parameters,
D training tokens. A FLOP is one floating-point add or multiply, so a multiply-accumulate
counts as 2 FLOPs.
"""
import math
from dataclasses import dataclass
from numbers import Real

from ._checks import check_bool, fraction, one_of, positive_int, positive_real
from .config import GPTConfig

_HOURS_PER_DAY = 24.0


def _check_config(config):
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a largemodels.GPTConfig, got {type(config).__name__}")
    return config


def gpt_param_breakdown(config, tied=None):
    """Parameters of a GPT-2-style or Llama-style model, per part.

    GPT-2 (the config's defaults): each of the L blocks has two LayerNorms (2d each), the
    attention projections W_qkv (d x 3d, bias 3d) and W_o (d x d, bias d), and the MLP
    W_1 (d x 4d, bias 4d) and W_2 (4d x d, bias d): 12 d^2 + 13 d. Add token embeddings V d,
    learned positions T d and a final LayerNorm 2 d. An untied output head adds V d (GPT-2
    has no head bias).

    The modern options, with h = n_hidden and d_kv = n_kv_head * head_size: W_q and W_o stay
    d x d, W_k and W_v are d x d_kv each; a GELU MLP has two matrices d x h, SwiGLU three;
    RMSNorm has a scale only (d); rotary positions have no parameters; ``bias=False`` drops
    every bias. A Llama block: 2 d^2 + 2 d d_kv + 3 d h + 2 d. ``final_layernorm`` counts the
    final norm of either kind. ``tied`` overrides ``config.tie_head`` (None: the config's).
    """
    c = _check_config(config)
    tied = c.tie_head if tied is None else check_bool("tied", tied)
    V, T, L, d, h = c.vocab_size, c.block_size, c.n_layer, c.n_embd, c.n_hidden
    d_kv = c.n_kv_head * c.head_size
    norm = 2 * d if c.norm == "layernorm" else d  # scale and shift, or scale only
    attention = 2 * d * d + 2 * d * d_kv + (2 * d + 2 * d_kv if c.bias else 0)
    if c.mlp == "gelu":
        mlp = 2 * d * h + (h + d if c.bias else 0)
    else:  # swiglu: gate and up d x h, down h x d
        mlp = 3 * d * h + (2 * h + d if c.bias else 0)
    return {
        "token_embedding": V * d,
        "position_embedding": T * d if c.positions == "learned" else 0,
        "blocks": L * (attention + mlp + 2 * norm),
        "final_layernorm": norm,
        "output_head": 0 if tied else V * d,
    }


def gpt_param_count(config, tied=None):
    """Total parameters, the sum of :func:`gpt_param_breakdown`. GPT-2:
    V d + T d + L (12 d^2 + 13 d) + 2 d (+ V d untied). Llama (RoPE, RMSNorm, SwiGLU, no biases):
    V d + L (2 d^2 + 2 d d_kv + 3 d h + 2 d) + d (+ V d untied)."""
    return sum(gpt_param_breakdown(config, tied=tied).values())


def gpt_forward_flops(config, seq_len=None):
    """Matrix-multiply FLOPs of one forward pass over one sequence of ``seq_len`` tokens.

    Per token and layer: the projections cost 2 (3 d^2 + d^2 + 8 d^2) = 24 d^2, and attention
    costs 2 T d for the scores Q K^T plus 2 T d for the weighted sum of values (the full
    T x T product, as a plain implementation computes it before masking). The tied output
    head costs 2 d V per token. Element-wise work (LayerNorm, GELU, softmax) is ignored.
    In general, with h = n_hidden and d_kv = n_kv_head * head_size, the projections cost
    2 (2 d^2 + 2 d d_kv) and the MLP 2 d h times 2 (GELU) or 3 (SwiGLU); the attention
    products stay 4 T d, since the query heads still span d.
    """
    c = _check_config(config)
    T = c.block_size if seq_len is None else positive_int("seq_len", seq_len)
    if T > c.block_size:
        raise ValueError(f"seq_len must be <= block_size={c.block_size}, got {T}")
    d, L, V, h = c.n_embd, c.n_layer, c.vocab_size, c.n_hidden
    d_kv = c.n_kv_head * c.head_size
    projections = 2 * (2 * d * d + 2 * d * d_kv)  # W_q, W_o; W_k, W_v
    mlp = 2 * d * h * (2 if c.mlp == "gelu" else 3)
    per_token = L * (projections + mlp + 4 * T * d) + 2 * d * V
    return T * per_token


def gpt_training_flops(config, seq_len=None):
    """Forward plus backward FLOPs for one sequence: the backward pass of a matrix multiply
    computes two products (gradients of input and of weight), so training costs 3x forward."""
    return 3 * gpt_forward_flops(config, seq_len)


def is_matrix_product(op):
    """Whether an operation name from ``count_flops(..., by_op=True)`` is a matrix product.

    TensorFlow: ``MatMul``, ``BatchMatMul*`` and ``Einsum``; PyTorch: the aten products
    ``mm``, ``addmm``, ``bmm``, ``baddbmm``. The names are matched by rule, not listed,
    because which ones a model uses depends on the framework's version.
    """
    if not isinstance(op, str):
        raise TypeError(f"op must be an operation name (str), got {type(op).__name__}")
    return "MatMul" in op or "Einsum" in op or op.split(".")[-1].endswith("mm")


def matmul_flops(by_op):
    """The FLOPs of the matrix products in a ``{operation: FLOPs}`` count, in either framework."""
    if not isinstance(by_op, dict):
        raise TypeError(f"by_op must be a dict from count_flops(..., by_op=True), got "
                        f"{type(by_op).__name__}")
    return sum(n for op, n in by_op.items() if is_matrix_product(op))


def training_flops(n_params, n_tokens):
    """The 6 N D rule (Kaplan et al., 2020): 2 N FLOPs per token forward, 4 N backward."""
    return 6.0 * positive_real("n_params", n_params) * positive_real("n_tokens", n_tokens)


# Bytes per parameter kept during training with Adam, without activations: weights + gradients +
# optimizer state. "mixed" is the accounting of Rajbhandari et al. (2020): 16-bit weights and
# gradients plus an fp32 master copy, m and v (2 + 2 + 12 = 16), a lower bound for mixed
# precision. Megatron Core keeps fp32 "main" gradients, 2 + 4 + 12 = 18 bytes
# ("mixed_fp32_grads"; its distributed-optimizer documentation also lists 20 for 16-bit
# gradients, which it copies to fp32). "fp32" trains entirely in 32 bits: 4 + 4 + 8 = 16.
_TRAINING_BYTES = {
    "fp32": {"weights": 4, "gradients": 4, "optimizer": 8},
    "mixed": {"weights": 2, "gradients": 2, "optimizer": 12},  # fp32 master, m and v
    "mixed_fp32_grads": {"weights": 2, "gradients": 4, "optimizer": 12},
}
DTYPE_BYTES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2, "int8": 1, "int4": 0.5}


def weight_bytes(n_params, dtype="float32"):
    """Bytes needed to store ``n_params`` weights in ``dtype``."""
    one_of("dtype", dtype, set(DTYPE_BYTES))
    return positive_real("n_params", n_params) * DTYPE_BYTES[dtype]


def kv_cache_bytes(config, seq_len, batch_size=1, dtype="float16"):
    """Bytes of the key/value cache that generation keeps for ``batch_size`` sequences of
    ``seq_len`` tokens: a key and a value of n_kv_head * head_size numbers per token and
    layer, 2 L n_kv_head head_size T B bytes_per_value. Grouped-query attention shrinks it by
    n_head / n_kv_head. Llama 3.1-8B at 8,192 tokens in 16 bits: exactly 1 GiB."""
    c = _check_config(config)
    T = positive_int("seq_len", seq_len)
    if T > c.block_size:
        raise ValueError(f"seq_len must be <= block_size={c.block_size}, got {T}")
    B = positive_int("batch_size", batch_size)
    one_of("dtype", dtype, set(DTYPE_BYTES))
    values = 2 * c.n_layer * c.n_kv_head * c.head_size * T * B  # a key and a value
    return values * DTYPE_BYTES[dtype]


def training_state_bytes(n_params, precision="mixed"):
    """Bytes of weights, gradients and Adam state, per part: 16 N for ``"fp32"`` and for
    ``"mixed"`` (2 + 2 + 12, the ZeRO paper's lower bound), 18 N for ``"mixed_fp32_grads"``
    (16-bit weights, fp32 gradients, as Megatron Core keeps them). Activations come on top and
    depend on batch size and context length."""
    one_of("precision", precision, set(_TRAINING_BYTES))
    n = positive_real("n_params", n_params)
    return {part: n * b for part, b in _TRAINING_BYTES[precision].items()}


ZERO_STAGES = (0, 1, 2, 3)


def sharded_training_state_bytes(n_params, n_devices, stage, precision="mixed"):
    """Bytes of weights, gradients and Adam state that *each* of ``n_devices`` data-parallel
    devices holds under ZeRO ``stage`` (Rajbhandari et al., 2020), per part.

    Stage 0 is plain data parallelism: every device holds everything (as
    :func:`training_state_bytes`). Stage 1 shards the optimizer state over the devices,
    stage 2 the gradients as well, stage 3 the weights too (PyTorch's FSDP). With Psi
    parameters, K optimizer bytes per parameter (12 for ``"mixed"``) and N_d devices:
    (2 + 2 + K) Psi, 4 Psi + K Psi / N_d, 2 Psi + (2 + K) Psi / N_d, (2 + 2 + K) Psi / N_d.
    The shards are taken as equal; real implementations round to whole tensors or pad.
    """
    one_of("precision", precision, set(_TRAINING_BYTES))
    one_of("stage", stage, set(ZERO_STAGES))
    n_devices = positive_int("n_devices", n_devices)
    sharded = {"weights": stage >= 3, "gradients": stage >= 2, "optimizer": stage >= 1}
    return {part: b / n_devices if sharded[part] else b
            for part, b in training_state_bytes(n_params, precision).items()}


def ring_allreduce_bytes(n_bytes, n_devices):
    """Bytes each device sends (and receives) to all-reduce ``n_bytes`` with the ring algorithm
    (Patarasuk and Yuan, 2009): a reduce-scatter and an all-gather of N_d - 1 steps each, every
    step moving one N_d-th of the data, 2 (N_d - 1) / N_d * n_bytes. It hardly grows with N_d,
    which is why data parallelism scales to many devices when the links are fast."""
    n_devices = positive_int("n_devices", n_devices)
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, Real) or n_bytes < 0:
        raise ValueError(f"n_bytes must be a number >= 0, got {n_bytes!r}")
    return 2 * (n_devices - 1) / n_devices * n_bytes


@dataclass(frozen=True)
class Hardware:
    """An accelerator: dense peak FLOP/s at the training precision, board power in watts and,
    optionally, its memory in bytes and its memory bandwidth in bytes per second.

    Memory is in decimal units, as vendors state it: "80 GB" is 80e9 bytes, which is 74.5 GiB
    (1 GiB = 2**30 bytes), the number ``nvidia-smi`` and most tools print.
    """

    name: str
    peak_flops: float
    watts: float
    memory_bytes: float | None = None
    memory_bandwidth: float | None = None

    def __post_init__(self):
        positive_real("peak_flops", self.peak_flops)
        positive_real("watts", self.watts)
        if self.memory_bytes is not None:
            positive_real("memory_bytes", self.memory_bytes)
        if self.memory_bandwidth is not None:
            positive_real("memory_bandwidth", self.memory_bandwidth)


# Data-sheet figures: dense (not 2:4-sparse) tensor-core peak at 16-bit precision, maximum board
# power, memory and peak memory bandwidth. Sources in the book's references.bib.
#: NVIDIA V100 SXM2 32GB (2017).
V100 = Hardware("NVIDIA V100 SXM2 32GB", peak_flops=125e12, watts=300,  # nvidia2017v100
                memory_bytes=32e9, memory_bandwidth=900e9)
#: NVIDIA A100 SXM4 40GB (2020).
A100_40GB = Hardware("NVIDIA A100 SXM4 40GB", peak_flops=312e12, watts=400,  # nvidia2020a100
                     memory_bytes=40e9, memory_bandwidth=1.555e12)
#: NVIDIA A100 SXM4 80GB (2021).
A100 = Hardware("NVIDIA A100 SXM4 80GB", peak_flops=312e12, watts=400,  # nvidia2021a100
                memory_bytes=80e9, memory_bandwidth=2.039e12)
#: NVIDIA H100 SXM5 80GB (2022).
H100 = Hardware("NVIDIA H100 SXM5 80GB", peak_flops=989.4e12, watts=700,  # nvidia2022h100
                memory_bytes=80e9, memory_bandwidth=3.35e12)
#: NVIDIA H200 SXM 141GB (2024).
H200 = Hardware("NVIDIA H200 SXM 141GB", peak_flops=989.4e12, watts=700,  # nvidia2024h200
                memory_bytes=141e9, memory_bandwidth=4.8e12)
#: NVIDIA B200 at 1000 W (2024).
B200 = Hardware("NVIDIA B200 (DGX/HGX, 1000 W)", peak_flops=2.25e15, watts=1000,  # nvidia2024b200
                memory_bytes=180e9, memory_bandwidth=8e12)
#: AMD Instinct MI300X (2023).
MI300X = Hardware("AMD Instinct MI300X", peak_flops=1307.4e12, watts=750,  # amd2023mi300x
                  memory_bytes=192e9, memory_bandwidth=5.3e12)
PRESETS = (V100, A100_40GB, A100, H100, H200, B200, MI300X)


def devices_to_hold(n_bytes, hardware):
    """How many accelerators it takes just to hold ``n_bytes`` (ceil(n_bytes / memory))."""
    if not isinstance(hardware, Hardware) or hardware.memory_bytes is None:
        raise ValueError("hardware must be a largemodels.costs.Hardware with memory_bytes set")
    return math.ceil(positive_real("n_bytes", n_bytes) / hardware.memory_bytes)


def memory_read_seconds(n_bytes, hardware, n_devices=1):
    """Time to read ``n_bytes`` once from memory at the hardware's peak bandwidth, spread evenly
    over ``n_devices``: n_bytes / (n_devices * memory_bandwidth). A lower bound: real kernels
    reach only part of the peak bandwidth."""
    if not isinstance(hardware, Hardware) or hardware.memory_bandwidth is None:
        raise ValueError("hardware must be a largemodels.costs.Hardware with memory_bandwidth set")
    n_devices = positive_int("n_devices", n_devices)
    return positive_real("n_bytes", n_bytes) / (n_devices * hardware.memory_bandwidth)


def mfu(flops_per_second, peak_flops):
    """Model-FLOPs utilization: the model's useful FLOPs per second (e.g. 6 N tokens/s for
    training) divided by the hardware's peak FLOP/s (Chowdhery et al., 2022)."""
    return positive_real("flops_per_second", flops_per_second) / positive_real("peak_flops", peak_flops)


@dataclass(frozen=True)
class RunEstimate:
    """What :func:`estimate_run` returns; every field is in the unit its name states."""

    flops: float
    gpu_hours: float
    wall_days: float
    energy_kwh: float
    cost_usd: float
    co2_tonnes: float

    @property
    def flops_per_joule(self):
        """Energy efficiency: useful FLOPs per joule drawn (1 kWh = 3.6e6 J)."""
        return self.flops / (self.energy_kwh * 3.6e6)


def estimate_run(flops, hardware, n_gpus, mfu, *, pue=1.1, usd_per_gpu_hour=2.0,
                 kg_co2_per_kwh=0.4):
    """Turn a FLOP budget into time, energy, money and CO2.

    gpu_hours = flops / (peak_flops * mfu) / 3600;  wall_days = gpu_hours / n_gpus / 24;
    energy_kwh = gpu_hours * watts / 1000 * pue;  cost = gpu_hours * usd_per_gpu_hour;
    co2 = energy_kwh * kg_co2_per_kwh / 1000. ``mfu`` is the model-FLOPs utilization, the
    fraction of peak that does useful model arithmetic. The defaults for ``pue``, the price and
    the grid's carbon intensity are assumptions: pass your own.
    """
    if not isinstance(hardware, Hardware):
        raise TypeError(f"hardware must be a largemodels.costs.Hardware, got {type(hardware).__name__}")
    flops = positive_real("flops", flops)
    n_gpus = positive_int("n_gpus", n_gpus)
    mfu = fraction("mfu", mfu, allow_zero=False)
    if positive_real("pue", pue) < 1:
        raise ValueError(f"pue must be >= 1, got {pue}")
    gpu_hours = flops / (hardware.peak_flops * mfu) / 3600.0
    energy_kwh = gpu_hours * hardware.watts / 1000.0 * pue
    return RunEstimate(
        flops=flops,
        gpu_hours=gpu_hours,
        wall_days=gpu_hours / n_gpus / _HOURS_PER_DAY,
        energy_kwh=energy_kwh,
        cost_usd=gpu_hours * positive_real("usd_per_gpu_hour", usd_per_gpu_hour),
        co2_tonnes=energy_kwh * positive_real("kg_co2_per_kwh", kg_co2_per_kwh) / 1000.0,
    )
