"""``SamEngine``: a SAM-family model's encoder and decoder as ONNX Runtime sessions.

One engine for every family (MobileSAM, SAM v1, SAM 2.1): what differs is asked of the model
folder's ``FamilyRules`` (``family``), named in its manifest.

numpy, onnxruntime and Pillow only: importing this module never imports torch or Qt.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from samcut.models.engine.cancellation import Cancellation, encoder_run_options
from samcut.models.engine.candidates import default_token
from samcut.models.engine.errors import EncodeCancelled, ModelError
from samcut.models.engine.family import FamilyRules, family_rules
from samcut.models.engine.manifest import REINSTALL, damaged, read_manifest_files
from samcut.models.engine.postprocess import upsample_masks
from samcut.models.engine.preprocess import mask_input_array
from samcut.models.engine.runtimes import (
    CPU,
    OpenVinoGraph,
    Precision,
    PrecisionUnavailable,
    provider_label,
    requested_providers,
    resolve_precision,
)
from samcut.models.engine.types import ImageEmbedding, Prediction, Prompt
from samcut.models.io.hashing import file_sha256

OPENVINO = "OpenVINOExecutionProvider"
OPENVINO_ENV = "SAMCUT_OPENVINO"  # "0": keep the encoder on the CPU provider even where OpenVINO's is installed
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"


def default_threads() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int, lean_memory: bool = False) -> ort.SessionOptions:
    """Explicit thread count, no spinning (an idle app uses no CPU), full graph optimisation.

    ``lean_memory`` (the encoder): no memory pattern (tensors take freed arena blocks instead of
    one block planned for all of them) and no planned buffer reuse. ONNX Runtime's planner hands
    a dead tensor's buffer to a later tensor of the same size, which keeps it from the arena until
    then: with reuse, a 1024 x 1024 encode peaked at +315 MB, without it at +100 MB, and ran no
    slower (measured, banded stem).
    """
    options = ort.SessionOptions()
    options.enable_mem_pattern = not lean_memory
    options.enable_mem_reuse = not lean_memory
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def encoder_providers(threads: int) -> list:
    """Where the encoder runs: OpenVINO's provider when the installed ONNX Runtime build has it
    (``onnxruntime-openvino`` from PyPI: 1.1-1.7x faster encodes on these Intel CPUs, embedding
    within 2e-5 of the CPU provider's), else ONNX Runtime's CPU provider. The decoder always runs
    on the CPU provider (OpenVINO was at most 3-9% faster there, measured)."""
    if OPENVINO in ort.get_available_providers() and os.environ.get(OPENVINO_ENV, "1") != "0":
        options = {"device_type": "CPU", "precision": "FP32", "num_of_threads": str(threads)}
        return [(OPENVINO, options), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def verify_model_dir(model_dir: Path) -> dict:
    """Check the folder against its manifest: both graphs are listed, every listed file is a
    regular file in the folder and matches its SHA-256.

    Returns the manifest. Raises ``ModelError`` naming the problem, in one line (a folder without
    a manifest may be a conversion that did not finish: it is not trusted; a manifest of any
    other shape is damaged, see ``read_manifest_files``).
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"model folder {model_dir} does not exist (install one with 'samcut models fetch')")
    for name in (ENCODER_FILE, DECODER_FILE):
        if not (model_dir / name).is_file():
            raise ModelError(f"model folder {model_dir} has no {name} ({REINSTALL})")
    manifest, sums = read_manifest_files(model_dir)
    for name in (ENCODER_FILE, DECODER_FILE):
        if name not in sums:
            raise damaged(model_dir, f"it does not list {name}")
    for name, expected in sums.items():
        path = model_dir / name
        if not path.is_file():  # (a FIFO or a device would never finish hashing)
            raise damaged(model_dir, f"it lists {name!r}, which is not a regular file in the folder")
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise ModelError(f"{path} cannot be read ({exc.strerror or exc}); {REINSTALL}") from None
        if expected != actual:
            raise ModelError(f"{path} is corrupt: SHA-256 {actual}, manifest expects {expected} ({REINSTALL})")
    return manifest


def _unverified_manifest(model_dir: Path) -> dict:
    """The folder's manifest unchecked, or ``{}`` (files exported by hand: a ``sam`` model)."""
    try:
        return read_manifest_files(model_dir)[0]
    except ModelError:
        return {}


PromptArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def prompt_arrays(rules: FamilyRules, embedding: ImageEmbedding, prompt: Prompt) -> PromptArrays:
    """One prompt's decoder inputs: ``point_coords 1 x N x 2``, ``point_labels 1 x N``,
    ``mask_input 1 x 1 x 256 x 256``, ``has_mask_input (1,)``."""
    return (*rules.decoder_points(prompt, embedding.original_size, embedding.input_size),
            *mask_input_array(prompt.mask_input))


def decoder_feeds(rules: FamilyRules, embedding: ImageEmbedding,
                  prompts: list[PromptArrays]) -> dict[str, np.ndarray]:
    """The decoder's feed for ``prompts`` (``prompt_arrays``, all with the same ``N``) on one image:
    the embedding (with its high-resolution features, SAM 2.1) and the stacked prompts."""
    names = ("point_coords", "point_labels", "mask_input", "has_mask_input")
    stacked = {name: prompts[0][k] if len(prompts) == 1 else np.concatenate([p[k] for p in prompts])
               for k, name in enumerate(names)}
    if len(embedding.high_res) != len(rules.high_res_outputs):
        raise ValueError(f"the embedding has {len(embedding.high_res)} high-resolution feature maps, "
                         f"a {rules.name} decoder takes {len(rules.high_res_outputs)}")
    high_res = dict(zip(rules.high_res_outputs, embedding.high_res, strict=True))
    return {"image_embeddings": embedding.features, **high_res, **stacked}


class SamEngine:
    """SAM-family inference: ``encode`` once per image, ``decode`` per prompt.

    ``encode`` and ``decode`` may run on different threads (ONNX Runtime sessions and
    ``OpenVinoGraph`` are thread-safe for ``run``); the engine holds no per-image state.

    ``precision`` (``fp32`` | ``bf16`` | ``auto``, default ``SAMCUT_PRECISION`` or fp32): see
    ``runtimes``; bf16 where it cannot run raises ``PrecisionUnavailable``. ``providers`` (an
    ONNX Runtime list) overrides ``SAMCUT_PROVIDERS``; what was asked for and is missing lands in
    ``notices`` (one line each, for the CLI's stderr and the status bar). ``compile_cache``: a
    folder where OpenVINO may keep compiled graphs (bf16 only). ``strict=False``: bf16 where it
    cannot run falls back to fp32 with a notice instead of raising. ``defer_encoder``: the encoder's
    session is made by the first ``encode`` (see ``load_encoder``); ``decoder``: another engine's
    decoder session, used as this one's (the two models' decoders are the same file).
    """

    def __init__(self, model_dir: Path | str, threads: int | None = None, verify: bool = True,
                 providers: list | None = None, precision: str | None = None,
                 compile_cache: Path | None = None, strict: bool = True, defer_encoder: bool = False,
                 decoder: ort.InferenceSession | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.manifest = verify_model_dir(self.model_dir) if verify else _unverified_manifest(self.model_dir)
        try:
            self.rules = family_rules(self.manifest.get("family"))
        except ValueError as exc:
            raise ModelError(f"{self.model_dir}: {exc}; update samcut") from None
        self.threads = threads or default_threads()
        self.encoder_threads = self.threads  # (the quality model's background encoder may take fewer)
        self.notices: list[str] = []
        try:
            self.precision: Precision = resolve_precision(precision)
        except PrecisionUnavailable as exc:
            if strict:
                raise
            self.precision = "fp32"  # the app: run anyway, and say why it is not bf16
            self.notices.append(f"{exc}; running in fp32")
        self._providers = providers or requested_providers(self.notices)
        self._compile_cache = compile_cache
        self._encoder_lock = threading.Lock()
        self.encoder_graph: OpenVinoGraph | None = None
        self.encoder: ort.InferenceSession | None = None
        if not defer_encoder:
            self.load_encoder()
        self.decoder = decoder or self._load(DECODER_FILE, self._providers or [CPU])
        self.batch_decoding = self.decoder.get_inputs()[1].shape[0] != 1  # installs before batching: 1

    def load_encoder(self) -> None:
        """Make the encoder's session now, in the calling thread (with ``defer_encoder`` it is made by
        the first ``encode``: ONNX Runtime's pool threads then inherit that thread's priority)."""
        with self._encoder_lock:
            if self.encoder is not None or self.encoder_graph is not None:
                return
            if self.precision == "bf16":
                self.encoder_graph = OpenVinoGraph(str(self.model_dir / ENCODER_FILE), self.encoder_threads, "bf16",
                                                   self._compile_cache)
            else:
                self.encoder = self._load(ENCODER_FILE, self._providers or encoder_providers(self.encoder_threads),
                                          lean_memory=True, threads=self.encoder_threads)

    @property
    def encoder_runtime(self) -> str:
        """Where the encoder runs, in words ("ONNX Runtime CPU", "OpenVINO bf16", "ONNX Runtime CUDA")."""
        if self.encoder_graph is not None:
            return f"OpenVINO {self.encoder_graph.precision}"
        if self.encoder is None:
            return "not loaded yet"
        provider = self.encoder.get_providers()[0]
        return "OpenVINO" if provider == OPENVINO else provider_label(provider)

    @property
    def cache_tag(self) -> str:
        """What besides the model decides the embeddings (a cache of bf16 embeddings is kept apart)."""
        return "" if self.precision == "fp32" else self.precision

    def _load(self, name: str, providers: list, lean_memory: bool = False,
              threads: int | None = None) -> ort.InferenceSession:
        path = self.model_dir / name
        try:
            return ort.InferenceSession(str(path), sess_options=session_options(threads or self.threads, lean_memory),
                                        providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load {path}: {str(exc).splitlines()[0]}") from exc

    def _run_encoder(self, batch: np.ndarray, cancel: Cancellation | None) -> list[np.ndarray]:
        self.load_encoder()
        if self.encoder_graph is not None:
            return self.encoder_graph.run({"image": batch}, (lambda: cancel.cancelled) if cancel else None)
        return self.encoder.run(None, {"image": batch},
                                cancel.run_options if cancel is not None else encoder_run_options())

    def encode(self, image: np.ndarray, cancel: Cancellation | None = None) -> ImageEmbedding:
        """``uint8 H x W x 3`` RGB -> ``ImageEmbedding`` (features ``1 x 256 x 64 x 64``, and SAM 2.1's
        high-resolution features).

        With ``cancel``, another thread may stop the run; it then raises ``EncodeCancelled``.
        """
        batch, input_size = self.rules.encoder_input(image)
        if cancel is not None and cancel.cancelled:
            raise EncodeCancelled("encode cancelled before it started")
        try:
            features, *high_res = self._run_encoder(batch, cancel)
        except Exception as exc:
            if cancel is not None and cancel.cancelled:
                raise EncodeCancelled("encode cancelled") from exc
            raise
        if cancel is not None and cancel.cancelled:  # providers that cannot stop mid-run (OpenVINO EP)
            raise EncodeCancelled("encode cancelled")
        return ImageEmbedding(features=features, original_size=(int(image.shape[0]), int(image.shape[1])),
                              input_size=input_size, high_res=tuple(high_res[:len(self.rules.high_res_outputs)]))

    def _decoder_run(self, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(low-res logits ``B x 4 x 256 x 256`` as the family returns them, IoU predictions ``B x 4``)."""
        logits, iou, *_object_score = self.decoder.run(None, feeds)  # (SAM 2.1's object score: unused in image mode)
        return self.rules.low_res(logits), iou

    def decode_low_res(self, embedding: ImageEmbedding, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
        """Run the decoder: (low-res logits float32 ``4 x 256 x 256``, IoU predictions ``(4,)``), tokens 0-3."""
        logits, iou = self._decoder_run(decoder_feeds(self.rules, embedding,
                                                      [prompt_arrays(self.rules, embedding, prompt)]))
        return logits[0], iou[0]

    def default_token(self, logits: np.ndarray, scores: np.ndarray, prompt: Prompt) -> int:
        """The candidate rule for ``prompt`` on one decode (``logits`` ``4 x 256 x 256``, ``scores``
        ``(4,)``): the best multimask token for an ambiguous prompt, else the family's single mask."""
        return default_token(scores, len(prompt.points), prompt.box is not None,
                             self.rules.single_mask_token(logits, scores))

    def decode_low_res_batch(self, embedding: ImageEmbedding,
                             prompts: list[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        """Many prompts on one image: (logits ``B x 4 x 256 x 256``, IoU predictions ``B x 4``).

        Prompts with the same number of decoder points go through the decoder together (one run
        per group); a model installed before batching existed decodes them one by one.
        """
        logits = np.empty((len(prompts), 4, 256, 256), np.float32)
        iou = np.empty((len(prompts), 4), np.float32)
        arrays = [prompt_arrays(self.rules, embedding, prompt) for prompt in prompts]
        groups: dict[int, list[int]] = {}
        for i, (coords, *_rest) in enumerate(arrays):
            groups.setdefault(coords.shape[1] if self.batch_decoding else -1 - i, []).append(i)
        for members in groups.values():
            logits[members], iou[members] = self._decoder_run(
                decoder_feeds(self.rules, embedding, [arrays[i] for i in members]))
        return logits, iou

    def decode(self, embedding: ImageEmbedding, prompt: Prompt, multimask: bool = True) -> Prediction:
        """Prompt -> ``Prediction`` with full-size masks (3 candidates, or the family's single mask with
        ``multimask=False``)."""
        logits, iou = self.decode_low_res(embedding, prompt)
        single = 0 if multimask else self.rules.single_mask_token(logits, iou)  # (SAM 2.1's counts 65536 cells)
        tokens = slice(1, 4) if multimask else slice(single, single + 1)
        low_res = np.ascontiguousarray(logits[tokens])
        masks = upsample_masks(low_res, embedding.input_size, embedding.original_size)
        return Prediction(masks=masks, scores=np.ascontiguousarray(iou[tokens]), low_res_logits=low_res)
