"""Framework-neutral helpers for model compression (Section 5.1): NumPy in, NumPy and numbers out.

- :func:`median_ms`: the median wall time of a call, in milliseconds.
- :func:`int8_symmetric`: symmetric per-channel int8 quantization of a weight matrix, by hand.
- :func:`file_sizes`: bytes on disk of weight matrices stored dense, zip-compressed and as CSR.
- :func:`sparsity`: the fraction of zeros in a set of arrays.
- :func:`table`: rows of results as aligned text.

The framework twins (``largemodels.torch.compress``, ``largemodels.tensorflow.compress``) do the
pruning, the distillation loss and saving; they re-export these names.
"""
import pathlib
import time

import numpy as np

__all__ = ["file_sizes", "int8_symmetric", "median_ms", "sparsity", "table"]


def median_ms(fn, repeats=20, warmup=2):
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times; the median in milliseconds.

    The median resists the odd slow call on a shared machine; treat the result as rough.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    for name, value, low in (("repeats", repeats, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def int8_symmetric(weight, axis=0):
    """Quantize ``weight`` to int8 with one scale per slice along ``axis`` (per channel).

    scale = max ``|w|`` over the slice / 127, q = round(w / scale), clipped to [-127, 127], so that
    q * scale is within scale / 2 of w. Returns ``(q, scale)``: q int8 with the shape of
    ``weight``, scale float32 with ``weight.shape[axis]`` entries. An all-zero slice gets scale 1.
    """
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim < 1:
        raise ValueError(f"weight must have at least one axis, got shape {w.shape}")
    if not isinstance(axis, int) or not -w.ndim <= axis < w.ndim:
        raise ValueError(f"axis must be an int in [{-w.ndim}, {w.ndim - 1}], got {axis!r}")
    other = tuple(a for a in range(w.ndim) if a != axis % w.ndim)
    amax = np.max(np.abs(w), axis=other, keepdims=True)  # 1 along every axis but `axis`
    scale = np.where(amax > 0, amax / 127, 1).astype(np.float32)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, scale.reshape(-1)


def sparsity(arrays):
    """The fraction of entries that are exactly zero, over a list (or dict) of arrays."""
    arrays = list(arrays.values()) if isinstance(arrays, dict) else list(arrays)
    if not arrays:
        raise ValueError("arrays must not be empty")
    total = sum(np.asarray(a).size for a in arrays)
    return sum(int(np.sum(np.asarray(a) == 0)) for a in arrays) / total


def _csr(matrix):
    """CSR parts of a 2-D view of ``matrix``: values (float32), column indices and row pointers."""
    m = np.asarray(matrix, dtype=np.float32).reshape(len(matrix), -1)
    rows, cols = np.nonzero(m)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(m)))])
    index = np.int16 if m.shape[1] <= np.iinfo(np.int16).max else np.int32
    return m[rows, cols], cols.astype(index), indptr.astype(np.int32)


def file_sizes(arrays, folder, name="weights"):
    """Write ``arrays`` ({name: array}) three ways into ``folder``; return the files' bytes.

    "dense": every float32 entry (``np.savez``); "compressed": the same, zip-deflated
    (``np.savez_compressed``), which squeezes runs of zeros; "CSR": only the nonzero values with
    their column indices (int16 where they fit) and row pointers, the compressed sparse row
    format. Real files, so the sizes include each format's own overhead.
    """
    if not isinstance(arrays, dict) or not arrays:
        raise ValueError("arrays must be a non-empty dict {name: array}")
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
    dense = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    csr = {f"{k}.{part}": a for k, v in dense.items() for part, a in zip("vic", _csr(v))}
    sizes = {}
    for kind, write, content in (("dense", np.savez, dense),
                                 ("compressed", np.savez_compressed, dense),
                                 ("CSR", np.savez, csr)):
        path = folder / f"{name}-{kind}.npz"
        write(path, **{k.replace("/", "_"): v for k, v in content.items()})
        sizes[kind] = path.stat().st_size
    return sizes


def table(rows, formats=None):
    """Rows (dicts with the same keys) as text: a header, then one aligned line per row.

    ``formats`` maps a column to a format spec (``{"accuracy": ".1%"}``); other numbers get
    ``","`` (ints) or ``".3g"`` (floats), None prints as "-". The first column is left-aligned.
    """
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("rows must be a non-empty list of dicts")
    columns, formats = list(rows[0]), formats or {}
    if any(list(r) != columns for r in rows):
        raise ValueError(f"every row must have the columns {columns}, in that order")

    def cell(column, value):
        if value is None:
            return "-"
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            default = "," if isinstance(value, (int, np.integer)) else ".3g"
            return format(value, formats.get(column, default))
        return str(value)

    text = [[cell(c, r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    lines = [[c for c in columns], *text]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                for i, (v, w) in enumerate(zip(line, widths))) for line in lines)
