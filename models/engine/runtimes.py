"""Where the graphs run: ONNX Runtime providers, and OpenVINO for the bf16 fast mode.

Two choices, both made once when an engine loads:

- **Precision** (``fp32`` | ``bf16`` | ``auto``; ``--precision``, ``SAMCUT_PRECISION``, the
  preference). ``fp32`` is ONNX Runtime, exact to the goldens. ``bf16`` runs the encoder through
  the ``openvino`` package (ONNX in, compiled at load, no conversion step) with bf16 inference
  precision; it needs that package (``pip install 'samcut[fast]'``) and a CPU that computes bf16
  natively (AVX512-BF16 or AMX on x86-64, BF16 on Arm), else it is refused with the reason.
  ``auto`` is bf16 where both are there and fp32 elsewhere. The decoder stays on ONNX Runtime in
  fp32 in every mode (measured: bench/RESULTS.md, "bf16 fast mode").
- **Providers** (``SAMCUT_PROVIDERS``, e.g. ``cuda,cpu`` or full ONNX Runtime names): an
  ordered list for both graphs. A provider this ONNX Runtime build lacks is dropped with a
  one-line notice and the CPU provider is always last.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import onnxruntime as ort

from samcut.models.engine.errors import ModelError
from samcut.models.io.platform import make_private_folder

Precision = Literal["fp32", "bf16"]
PRECISIONS = ("fp32", "bf16", "auto")
PRECISION_ENV = "SAMCUT_PRECISION"
PROVIDERS_ENV = "SAMCUT_PROVIDERS"
CPU = "CPUExecutionProvider"
SHORT_PROVIDER_NAMES = {
    "cpu": CPU, "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider", "openvino": "OpenVINOExecutionProvider", "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider", "coreml": "CoreMLExecutionProvider", "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
}
FAST_INSTALL_HINT = "pip install 'samcut[fast]'"
WAIT_STEP_MS = 25  # how often a running OpenVINO encode looks at its cancellation


class PrecisionUnavailable(ModelError):
    """bf16 was asked for where it cannot run (the message says why)."""


@functools.cache
def _openvino_core() -> object | None:
    """OpenVINO's runtime core (thread-safe, made once: asking for the CPU's capabilities and
    compiling the encoder share it), or ``None`` where the package is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return openvino.Core()


def bf16_unavailable_reason() -> str | None:
    """``None`` when the bf16 fast mode can run here, else why not (one sentence for the user)."""
    core = _openvino_core()
    if core is None:
        return f"the fast mode needs OpenVINO, which is not installed ({FAST_INSTALL_HINT})"
    try:
        capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
        return f"OpenVINO cannot use this CPU ({str(exc).splitlines()[0]})"
    if "BF16" not in capabilities:
        return "this CPU does not compute bf16 natively (AVX512-BF16, AMX or Arm BF16), so bf16 would be slower"
    return None


def resolve_precision(requested: str | None = None) -> Precision:
    """``requested`` (``auto`` or none: ``SAMCUT_PRECISION`` if set, else auto) -> the precision to run.

    ``auto`` falls back to fp32 quietly; ``bf16`` where it cannot run raises ``PrecisionUnavailable``.
    """
    choice = (requested or "auto").strip().lower()
    if choice == "auto":  # the environment decides for "auto" (a machine-wide choice, and the tests')
        choice = (os.environ.get(PRECISION_ENV) or "auto").strip().lower()
    if choice not in PRECISIONS:
        raise ValueError(f"unknown precision {choice!r}: use one of {', '.join(PRECISIONS)}")
    if choice == "fp32":
        return "fp32"
    reason = bf16_unavailable_reason()
    if reason is None:
        return "bf16"
    if choice == "auto":
        return "fp32"
    raise PrecisionUnavailable(f"bf16 is not available: {reason}")


def requested_providers(notices: list[str], spec: str | None = None) -> list[str] | None:
    """``SAMCUT_PROVIDERS`` (or ``spec``) -> ONNX Runtime provider names that this build has, the
    CPU provider last; ``None`` when nothing was asked. Each missing provider adds a notice."""
    spec = spec if spec is not None else os.environ.get(PROVIDERS_ENV, "")
    names = [SHORT_PROVIDER_NAMES.get(part.strip().lower(), part.strip()) for part in spec.split(",") if part.strip()]
    if not names:
        return None
    available = set(ort.get_available_providers())
    chosen = []
    for name in names:
        if name in available:
            if name not in chosen:
                chosen.append(name)
        else:
            notices.append(f"{name} was asked for ({PROVIDERS_ENV}) but this ONNX Runtime build does not have it; "
                           f"using {' and '.join(chosen + [CPU]) if chosen else 'the CPU'} instead")
    if CPU in chosen:
        chosen.remove(CPU)
    return [*chosen, CPU]


def provider_label(provider: str) -> str:
    """``CUDAExecutionProvider`` -> ``ONNX Runtime CUDA`` (for the status bar and the self-test)."""
    return f"ONNX Runtime {provider.removesuffix('ExecutionProvider')}"


class OpenVinoGraph:
    """One ONNX graph compiled by OpenVINO for the CPU at ``precision`` (``f32`` | ``bf16``).

    ``run(feeds, should_stop)`` returns the outputs as float32 numpy arrays, in the graph's output
    order, like an ONNX Runtime session's ``run``. Calls from several threads are safe: each takes
    an idle infer request (one more is made when all are busy). ``should_stop`` is polled every
    ``WAIT_STEP_MS`` while the graph runs; when it turns true the request is cancelled and
    ``RuntimeError`` raised. ``compile_cache``: a private folder where OpenVINO keeps the compiled
    graph, keyed by the file and the settings.
    """

    def __init__(self, path: str, threads: int, precision: str, compile_cache: Path | None = None) -> None:
        core = _openvino_core()
        if core is None:
            raise PrecisionUnavailable(f"bf16 is not available: OpenVINO is not installed ({FAST_INSTALL_HINT})")
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads,
                  "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        if compile_cache is not None:  # the compiled graph, kept: 1.3 s -> 0.3 s at the next start (measured)
            try:
                make_private_folder(compile_cache)
                config["CACHE_DIR"] = str(compile_cache)
            except OSError:
                pass  # no cache: compiled again each start
        try:
            self._compiled = core.compile_model(path, "CPU", config)
        except Exception as exc:
            raise ModelError(f"OpenVINO cannot compile {path}: {str(exc).splitlines()[0]}") from exc
        self.precision = precision
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()

    def _request(self) -> object:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                return self._compiled.create_infer_request()

    def run(self, feeds: Mapping[str, np.ndarray], should_stop: Callable[[], bool] | None = None) -> list[np.ndarray]:
        request = self._request()
        request.start_async(dict(feeds))
        while not request.wait_for(WAIT_STEP_MS):
            if should_stop is not None and should_stop():
                request.cancel()  # a cancelled request is not reused
                raise RuntimeError("cancelled")
        outputs = [np.array(request.get_output_tensor(i).data, np.float32) for i in range(len(self._compiled.outputs))]
        self._idle.put(request)
        return outputs
