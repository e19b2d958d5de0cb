"""The GPU collector on a real NVIDIA GPU: one command for a machine that has one.

    python benchmarks/check_gpu.py [--seconds 5]

Starts a run on the ``local`` backend with system metrics every 0.5 s. If torch with CUDA is
installed, it keeps every visible GPU busy with matrix products meanwhile; otherwise it only
waits. Then it reads the run back and prints, for each ``system/gpu.*`` metric, the number of
samples and the minimum, maximum and last values.

Exit status: 0 when every GPU that NVML lists reported at least utilisation and memory; 1 when
none did, or when this machine has no NVIDIA driver or GPU, as the message then says.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import defaultdict

from _util import fmt_float, table

import tracelet
from tracelet.backends.local import read_run


def _nvml_devices() -> int | str:
    """The number of GPUs NVML lists, or why it cannot."""
    try:
        import pynvml
    except ImportError as exc:
        return f"nvidia-ml-py is not installed ({exc})"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return f"no NVIDIA driver found (NVML: {exc})"
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def _keep_busy(seconds: float) -> str:
    """Matrix products on every CUDA device for ``seconds``; what was done."""
    try:
        import torch
    except ImportError:
        time.sleep(seconds)
        return "torch not installed: the GPUs were left idle"
    if not torch.cuda.is_available():
        time.sleep(seconds)
        return "torch has no CUDA here: the GPUs were left idle"
    devices = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    mats = [torch.randn(4096, 4096, device=d) for d in devices]
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for m in mats:
            m @ m
        torch.cuda.synchronize()
    return f"matrix products on {len(devices)} CUDA device(s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the run lasts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    devices = _nvml_devices()
    if isinstance(devices, str) or devices == 0:
        reason = devices if isinstance(devices, str) else "NVML lists no GPU"
        print(f"no GPU metrics on this machine: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="tracelet-gpu-") as folder:
        run = tracelet.start_logging(
            "check-gpu",
            "check-gpu",
            "local",
            {
                "collect_gpu_metrics": True,
                "collect_system_metrics": False,
                "system_metrics_interval": 0.5,
                "local": {"path": folder},
            },
        )
        work = _keep_busy(args.seconds)
        run.stop()
        location = run.locations()["local"]
        assert location is not None
        stored = read_run(location)
        values: dict[str, list[float]] = defaultdict(list)
        for name, points in stored.metrics.items():
            values[name] = [p.value for p in points]
    print(f"{devices} GPU(s) listed by NVML; {work}")
    rows = [
        [name, str(len(v)), fmt_float(min(v), 1), fmt_float(max(v), 1), fmt_float(v[-1], 1)]
        for name, v in sorted(values.items())
    ]
    print(table(["metric", "samples", "min", "max", "last"], rows))
    missing = [
        f"system/gpu.{i}.{m}"
        for i in range(devices)
        for m in ("utilization_percent", "memory_used_mb")
        if f"system/gpu.{i}.{m}" not in values
    ]
    for name in missing:
        print(f"FAILED: {name} was not collected")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
