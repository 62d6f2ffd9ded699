"""Run notebooks top to bottom in a fresh kernel, store their outputs, record time and memory.

    python tools/run_notebooks.py                 # every notebook under chapters/
    python tools/run_notebooks.py chapters/01_background/1_1_parameters.ipynb

Each notebook is executed in its own directory by a new ``python3`` kernel; its outputs are
written back in place. The wall time and the kernel's peak resident memory (VmHWM) of every
run are merged into ``chapters/appendix/notebook_runs.csv``, which the book shows.
"""
import argparse
import csv
import os
import pathlib
import platform
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
TABLE = ROOT / "chapters" / "appendix" / "notebook_runs.csv"
FIELDS = ["notebook", "seconds", "peak_memory_mib", "machine"]


def peak_rss_mib(pid):
    """Peak resident memory of a Linux process, from /proc; None elsewhere."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        peak = peak_rss_mib(pid)
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return seconds, peak


def machine():
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", " + torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{os.cpu_count()}-core {platform.machine()} CPU{gpu}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "chapters").rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    rows = {}
    if TABLE.exists():
        with TABLE.open() as f:
            rows = {row["notebook"]: row for row in csv.DictReader(f)}
    where = machine()
    for path in paths:
        name = path.relative_to(ROOT / "chapters").as_posix()
        print(f"running {name} ...", flush=True)
        seconds, peak = run(path)
        print(f"  {seconds:.1f} s, peak {peak or float('nan'):.0f} MiB", flush=True)
        rows[name] = {"notebook": name, "seconds": f"{seconds:.1f}",
                      "peak_memory_mib": f"{peak:.0f}" if peak else "", "machine": where}
    existing = {p.relative_to(ROOT / "chapters").as_posix() for p in (ROOT / "chapters").rglob("*.ipynb")}
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    with TABLE.open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows) if k in existing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
