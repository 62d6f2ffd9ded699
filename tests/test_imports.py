"""Import behaviour, checked in fresh interpreters and a fresh Jupyter kernel."""
import subprocess
import sys
import textwrap

import pytest


def run_python(code, cwd):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_core_imports_no_framework(tmp_path):
    out = run_python("""
        import sys, largemodels
        print('torch' in sys.modules, 'tensorflow' in sys.modules)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_torch_half_does_not_import_tensorflow(tmp_path):
    out = run_python("""
        import sys
        from largemodels import torch as lm
        print('tensorflow' in sys.modules, 'keras' in sys.modules)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_tensorflow_half_does_not_import_torch_and_is_quiet(tmp_path):
    out = run_python("""
        import sys
        from largemodels import tensorflow as lm
        lm.devices()
        print('torch' in sys.modules)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]
    assert out.stderr == ""  # no C++ start-up logs reach stderr


def test_import_in_a_jupyter_kernel_started_elsewhere(tmp_path):
    jupyter_client = pytest.importorskip("jupyter_client")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        outputs = []
        reply = kc.execute_interactive(
            "import largemodels, os; print(largemodels.__version__, os.getcwd() == %r)" % str(tmp_path),
            timeout=120, output_hook=lambda msg: outputs.append(msg))
        assert reply["content"]["status"] == "ok"
        text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        assert text.split() == [__import__("largemodels").__version__, "True"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
