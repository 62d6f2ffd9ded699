"""What hardware each framework sees, and the theoretical peak of this machine's CPU."""
import importlib
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ._checks import one_of, positive_int

_MODULES = {"pytorch": "largemodels.torch", "tensorflow": "largemodels.tensorflow"}


def device_report(frameworks=("pytorch", "tensorflow")):
    """Return ``{framework: [device description, ...]}`` for the named frameworks.

    Each framework is imported through this package, so TensorFlow is configured (quiet,
    GPU memory growth on) before it sees a device.
    """
    if isinstance(frameworks, str):
        frameworks = (frameworks,)
    report = {}
    for name in frameworks:
        one_of("frameworks", name, set(_MODULES))
        report[name] = importlib.import_module(_MODULES[name]).devices()
    return report


@dataclass(frozen=True)
class CPUPeak:
    """A CPU's theoretical peak: ``cores x clock x SIMD lanes x FMA units x 2`` FLOP/s.

    ``flops`` is ``None`` when the clock is unknown. ``clock_source`` says where the clock came
    from, and whether it is the maximum (boost) clock or only the clock the operating system
    reports, which on a virtual machine is usually the nominal (base) clock: a chip that
    boosts above it computes faster than this "peak".
    """

    cores: int
    clock_hz: float | None
    clock_source: str
    simd: str
    simd_lanes: int
    fma_units: int
    flops: float | None

    @property
    def clock_is_max(self):
        """True if the clock is the chip's maximum, so that ``flops`` is an upper bound."""
        return self.clock_source.startswith("maximum")


_SIMD_BITS = (("avx512f", "AVX-512", 512), ("avx2", "AVX2", 256), ("avx", "AVX", 256),
              ("asimd", "NEON", 128), ("sse2", "SSE2", 128))


def cpu_peak_flops(dtype="float32", fma_units=None):
    """The theoretical peak FLOP/s of the CPU cores this process may run on, as a :class:`CPUPeak`.

    The peak is ``cores x clock x SIMD lanes x FMA units x 2``: every core can start
    ``fma_units`` fused multiply-adds per cycle, each on a full SIMD register of ``dtype``
    numbers, and a multiply-add counts as 2 FLOPs. Read at run time:

    * cores: the physical cores among the CPUs this process may use (hyper-threads share
      their core's arithmetic units), from ``os.sched_getaffinity`` and ``/proc/cpuinfo``;
    * SIMD width: the widest of the ``avx512f``, ``avx2``/``avx`` and ``sse2`` flags
      (``asimd`` on ARM) in ``/proc/cpuinfo``;
    * clock: the maximum (boost) clock from cpufreq or ``lscpu``'s "CPU max MHz" where the
      system reports one, else the "cpu MHz" of ``/proc/cpuinfo``, labelled as such in
      ``clock_source`` (a virtual machine reports its nominal clock there); if none is
      known, ``clock_hz`` and ``flops`` are ``None``;
    * FMA units per core: not visible in any flag. Unless ``fma_units`` is given we assume 2
      with the ``fma`` flag (Intel since Haswell, AMD since Zen 2, Xeon Gold 6000 and
      Platinum at 512 bits; AMD's Zen 4 runs 512-bit FMAs in two halves, which we count as
      one unit) and 1 without it (one multiplier and one adder). Client and some server
      Intel parts have only one 512-bit unit: pass ``fma_units=1`` for them.

    On a system other than Linux nothing is read and ``flops`` is ``None``.
    """
    one_of("dtype", dtype, {"float32", "float64"})
    if fma_units is not None:
        fma_units = positive_int("fma_units", fma_units)
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() != "Linux" or not cpuinfo.exists():
        return CPUPeak(os.cpu_count() or 1, None, "unknown: only Linux's /proc/cpuinfo is read",
                       "unknown", 0, fma_units or 0, None)
    cpus = sorted(os.sched_getaffinity(0))
    return _cpu_peak(cpuinfo.read_text(), cpus, _max_clock_hz(cpus), dtype, fma_units)


def _cpu_peak(cpuinfo_text, cpus, max_clock_hz, dtype, fma_units):
    """The peak from the text of /proc/cpuinfo, the CPUs in use and the maximum clock if known."""
    blocks = [dict(_fields(block)) for block in cpuinfo_text.strip().split("\n\n")]
    used = [b for b in blocks if int(b.get("processor", -1)) in cpus] or blocks
    cores = len({(b.get("physical id"), b.get("core id", b.get("processor"))) for b in used})
    first = used[0]
    flags = set((first.get("flags") or first.get("Features") or "").split())
    simd, bits = next(((name, n) for flag, name, n in _SIMD_BITS if flag in flags), ("scalar", 64))
    if fma_units is None:
        zen4_avx512 = simd == "AVX-512" and first.get("vendor_id") == "AuthenticAMD" and \
            first.get("cpu family") == "25"
        fma_units = 1 if zen4_avx512 or not ({"fma", "asimd"} & flags) else 2
    if max_clock_hz:
        clock, source = max_clock_hz, "maximum (boost) clock reported by the system"
    elif "cpu MHz" in first:
        clock = max(float(b["cpu MHz"]) for b in used if "cpu MHz" in b) * 1e6
        source = "clock in /proc/cpuinfo (not the maximum: the chip may boost above it)"
    else:
        clock, source = None, "unknown: the system reports no clock"
    lanes = bits // (32 if dtype == "float32" else 64)
    flops = None if clock is None else cores * clock * lanes * fma_units * 2
    return CPUPeak(cores, clock, source, simd, lanes, fma_units, flops)


def _fields(block):
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            yield key.strip(), value.strip()


def _max_clock_hz(cpus):
    """The maximum clock in Hz from cpufreq or ``lscpu``, or None if neither reports one."""
    freq = Path(f"/sys/devices/system/cpu/cpu{cpus[0]}/cpufreq/cpuinfo_max_freq")
    if freq.exists():
        return int(freq.read_text()) * 1e3  # kHz
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False,
                             env={**os.environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    fields = dict(_fields(out))
    return float(fields["CPU max MHz"]) * 1e6 if fields.get("CPU max MHz") else None
