"""Scaling laws: the fits, the published laws, the schedule and the sweep (largemodels.scaling)."""
import subprocess
import sys

import numpy as np
import pytest
from largemodels import GPTConfig, costs, scaling

# Hoffmann et al. (2022), Table 3 (Approach 1): parameters, FLOPs, tokens.
CHINCHILLA_TABLE_3 = [(400e6, 1.92e19, 8.0e9), (1e9, 1.21e20, 20.2e9), (10e9, 1.23e22, 205.1e9),
                      (67e9, 5.76e23, 1.5e12), (175e9, 3.85e24, 3.7e12), (1e12, 1.27e26, 21.2e12)]


def test_power_law_fit_recovers_known_constants_from_noisy_losses():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e3, 1e5, 8)
    truth = (4.3, 0.27, 1.7)  # a, alpha, l_inf: close to the book's measured sweep
    misses = 0
    for _ in range(20):
        losses = scaling._power_law(n, *truth) + rng.normal(0, 0.003, n.shape)
        fit = scaling.fit_power_law(n, losses)
        assert fit.r2 > 0.98
        misses += abs(fit.alpha - truth[1]) > 3 * fit.alpha_err
        misses += abs(fit.l_inf - truth[2]) > 3 * fit.l_inf_err
    assert misses <= 2  # the covariance's errors are honest: 3 sigma covers nearly all


def test_power_law_fit_without_noise_is_exact_and_log_log_slope_is_exact():
    n = np.geomspace(1e3, 1e6, 6)
    fit = scaling.fit_power_law(n, scaling._power_law(n, 2.0, 0.5, 1.0))
    assert (fit.a, fit.alpha, fit.l_inf) == pytest.approx((2.0, 0.5, 1.0), rel=1e-4)
    slope, intercept, r2 = scaling.fit_log_log(n, 3.0 * n**-0.076)
    assert slope == pytest.approx(-0.076) and np.exp(intercept) == pytest.approx(3.0)
    assert r2 == pytest.approx(1.0)


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 4"):
        scaling.fit_power_law([1, 2, 3], [3, 2, 1])
    with pytest.raises(ValueError, match="equal length"):
        scaling.fit_log_log([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="> 0"):
        scaling.fit_log_log([1, 2, 0], [1, 2, 3])


def test_lower_envelope_keeps_only_new_minima():
    x, y = scaling.lower_envelope([3, 1, 2, 4, 5], [1.5, 3.0, 2.0, 1.8, 1.0])
    assert x.tolist() == [1, 2, 3, 5] and y.tolist() == [3.0, 2.0, 1.5, 1.0]


def test_twenty_tokens_per_parameter_reproduces_chinchilla_table_3():
    for n_params, flops, tokens in CHINCHILLA_TABLE_3:
        assert costs.training_flops(n_params, tokens) == pytest.approx(flops, rel=0.05)  # 6 N D
        n, d = scaling.tokens_per_param_optimal(flops)  # the table's D / N: 20 to 22.4
        assert n == pytest.approx(n_params, rel=0.05) and d == pytest.approx(tokens, rel=0.08)


def test_hoffmann_law_gives_the_published_exponent_and_besiroglu_the_chinchilla_shape():
    budgets = np.array([1e20, 1e24])
    n_opt = [scaling.HOFFMANN.compute_optimal(c)[0] for c in budgets]
    slope = np.diff(np.log(n_opt))[0] / np.diff(np.log(budgets))[0]
    assert slope == pytest.approx(0.46, abs=0.01)  # Hoffmann et al., Table 2, Approach 3
    # Besiroglu et al. (2024): their refit agrees with Chinchilla itself, 70B on 1.4T tokens
    n, d = scaling.BESIROGLU.compute_optimal(5.76e23)
    assert n == pytest.approx(70e9, rel=0.1) and d == pytest.approx(1.4e12, rel=0.1)
    assert 6 * n * d == pytest.approx(5.76e23)


def test_compute_optimal_point_is_the_minimum_on_the_budget():
    law, flops = scaling.HOFFMANN, 1e22
    n_opt, d_opt = law.compute_optimal(flops)
    best = law.loss(n_opt, d_opt)
    for factor in (0.5, 0.8, 1.25, 2.0):  # move along C = 6 N D
        n = n_opt * factor
        assert law.loss(n, flops / (6 * n)) > best


def test_non_embedding_params_of_gpt2_small_is_kaplans_12_l_d2():
    n = scaling.non_embedding_params(GPTConfig.gpt2("small"))
    assert n == 124_439_808 - 50257 * 768 - 1024 * 768
    assert n == pytest.approx(12 * 12 * 768**2, rel=0.002)  # Kaplan et al., eq. 2.1


def test_non_embedding_params_matches_the_torch_model():
    torch = pytest.importorskip("torch")
    from largemodels import torch as plm

    config = scaling.sweep_config(vocab_size=50, n_embd=16)
    model = plm.GPT(config)
    counted = sum(p.numel() for name, p in model.named_parameters()
                  if not name.startswith(("wte", "wpe")))
    assert isinstance(model.wte.weight, torch.nn.Parameter)
    assert scaling.non_embedding_params(config) == counted


def test_one_cycle_lr_matches_pytorch():
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    total, peak = 37, 0.02
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak, total_steps=total,
                                                cycle_momentum=False)
    for step in range(total):
        assert scaling.one_cycle_lr(step, total, peak) == pytest.approx(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="step"):
        scaling.one_cycle_lr(total, total, peak)


def test_random_windows_are_shifted_and_reproducible():
    ids = np.arange(100)
    (x, y), = scaling.random_windows(ids, 1, 4, 8, seed=3)
    assert x.shape == y.shape == (4, 8) and np.all(y == x + 1)
    (x2, _), = scaling.random_windows(ids, 1, 4, 8, seed=3)
    assert np.array_equal(x, x2)


def test_frameworks_train_alike_from_the_same_weights():
    pytest.importorskip("torch")
    from largemodels import parity
    from largemodels import tensorflow as tlm
    from largemodels import torch as plm

    ids, alphabet = scaling.char_ids("the quick brown fox jumps over the lazy dog. " * 20)
    batches = scaling.random_windows(ids, 6, 4, 16)
    val = scaling.random_windows(ids, 1, 8, 16, seed=1)[0]
    config = scaling.sweep_config(len(alphabet), 16, context=16)
    torch_model, keras_model = plm.GPT(config), tlm.GPT(config)
    parity.copy_weights(torch_model, keras_model)
    lrs = [scaling.one_cycle_lr(i, 6, 0.01) for i in range(6)]
    runs = [lm.train_on_batches(m, batches, lrs, validation=val, eval_every=3)
            for lm, m in ((plm, torch_model), (tlm, keras_model))]
    assert runs[0]["val_step"] == runs[1]["val_step"] == [0, 3, 6]
    assert np.allclose(runs[0]["loss"], runs[1]["loss"], atol=1e-4)
    assert np.allclose(runs[0]["val_loss"], runs[1]["val_loss"], atol=1e-4)
    assert runs[0]["val_loss"][-1] < runs[0]["val_loss"][0] - 0.1  # it learns


def test_command_line_runs_a_tiny_sweep():
    pytest.importorskip("torch")
    args = ["--framework", "torch", "--widths", "8", "12", "16", "24", "--steps", "4",
            "--eval-every", "2", "--text-chars", "20000"]
    done = subprocess.run([sys.executable, "-m", "largemodels.scaling", *args],
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[2] for line in lines[:4]] == ["8", "12", "16", "24"]
    assert lines[-1].startswith("L(N) = ") and "R^2" in lines[-1]


def test_run_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="framework"):
        scaling.run_sweep("jax", [8], 2)
    with pytest.raises(TypeError, match="widths"):
        scaling.run_sweep("torch", [8.5], 2)
