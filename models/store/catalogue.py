"""The model catalogue: every model samcut can install, with where its official weights live.

Each entry says which family it is (``engine.family``: ``sam`` or ``sam2``), its size class, the
official checkpoint's URL(s), pin (a git blob SHA-1 for MobileSAM, as its repository names the
file; a SHA-256 for the others, as the micro-sam registry lists them) and byte size, its licence
and credit, and the two weightless graphs (``onnx_template``) its weights fill. MobileSAM is the
default: the fastest to encode.

``encode_s``: samcut's fp32 encode of one image on a 2-vCPU machine (``bench/RESULTS.md``,
``bench/models.py``), for "what it costs to encode" in ``samcut models list``; ``download_mb``:
the official file's size, for people.
"""

from __future__ import annotations

from dataclasses import dataclass

SAM_CREDIT = "Segment Anything by Meta AI (Apache-2.0)"
SAM2_CREDIT = "SAM 2.1 (Segment Anything in Images and Videos) by Meta AI (Apache-2.0)"
SAM_V1_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


@dataclass(frozen=True)
class ModelSpec:
    """A model in the catalogue, pinned by ``sha256`` or by git's blob SHA-1 of the file.

    ``templates``: the names of the encoder's and the decoder's weightless graphs.
    ``bytes``: the official file's size (0 where not published: then ``max_bytes`` alone caps a download).
    """

    name: str
    title: str
    family: str
    size: str
    filename: str
    urls: tuple[str, ...]
    licence: str
    credit: str
    templates: tuple[str, str]
    git_blob_sha1: str = ""
    sha256: str = ""
    bytes: int = 0
    max_bytes: int = 64 * 2**20  # a download that grows past this is stopped
    encode_s: float | None = None
    download_mb: float = 0.0

    @property
    def label(self) -> str:
        """The model's short name in messages: "MobileSAM vit_t", "SAM ViT-B", "SAM 2.1 Hiera tiny"."""
        return self.title.split(" (")[0] + (f" {self.size}" if self.title.startswith("MobileSAM") else "")

    @property
    def pin(self) -> str:
        """The pinned digest of the official file (``hashing.pin_kind`` tells which kind)."""
        return self.sha256 or self.git_blob_sha1


def _sam_v1(size: str, file: str, title: str, sha256: str, size_bytes: int, encode_s: float) -> ModelSpec:
    return ModelSpec(name=f"sam_{size}", title=title, family="sam", size=size, filename=file,
                     urls=(SAM_V1_URL + file,), licence="Apache-2.0", credit=f"{title} weights: {SAM_CREDIT}",
                     templates=(f"sam_{size}.encoder", "decoder"), sha256=sha256, bytes=size_bytes,
                     max_bytes=size_bytes + 2**20, encode_s=encode_s, download_mb=size_bytes / 1e6)


def _sam2(size: str, title: str, sha256: str, approx_mb: int, encode_s: float) -> ModelSpec:
    file = f"sam2.1_hiera_{size}.pt"
    return ModelSpec(name=f"sam2.1_hiera_{size}", title=title, family="sam2", size=size, filename=file,
                     urls=(SAM2_URL + file,), licence="Apache-2.0",
                     credit=f"{title} weights: {SAM2_CREDIT}",
                     templates=(f"sam2.1_hiera_{size}.encoder", "sam2.1.decoder"), sha256=sha256,
                     max_bytes=int(approx_mb * 1.05e6) + 2**20, encode_s=encode_s, download_mb=approx_mb)


MOBILE_SAM = ModelSpec(
    name="mobile_sam",
    title="MobileSAM (TinyViT-5M encoder, SAM decoder)",
    family="sam",
    size="vit_t",
    filename="mobile_sam.pt",
    urls=(
        "https://raw.githubusercontent.com/ChaoningZhang/MobileSAM/"
        "34bbbfdface3c18e5221aa7de6032d7220c6c6a1/weights/mobile_sam.pt",
        "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights/mobile_sam.pt",
    ),
    licence="Apache-2.0",
    credit="MobileSAM weights by Chaoning Zhang et al. (Apache-2.0), built on Segment Anything by Meta AI (Apache-2.0)",
    templates=("encoder", "decoder"),
    git_blob_sha1="7ef2d090979fd9853adf17b7a99c8b94a1c5a6a7",
    encode_s=0.68,
    download_mb=40.7,
)

CATALOGUE: tuple[ModelSpec, ...] = (
    MOBILE_SAM,
    _sam2("tiny", "SAM 2.1 Hiera tiny", "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69", 156,
          2.3),
    _sam2("small", "SAM 2.1 Hiera small", "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38", 184,
          3.1),
    _sam2("base_plus", "SAM 2.1 Hiera base+", "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5",
          324, 4.8),
    _sam2("large", "SAM 2.1 Hiera large", "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318", 898,
          12.2),
    _sam_v1("vit_b", "sam_vit_b_01ec64.pth", "SAM ViT-B",
            "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383, 7.5),
    _sam_v1("vit_l", "sam_vit_l_0b3195.pth", "SAM ViT-L",
            "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607, 22.2),
    _sam_v1("vit_h", "sam_vit_h_4b8939.pth", "SAM ViT-H",
            "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879, 37.8),
)
KNOWN_MODELS = "MobileSAM, SAM ViT-B/L/H, SAM 2.1 Hiera tiny/small/base+/large"
REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in CATALOGUE}
DEFAULT_MODEL = MOBILE_SAM.name


def spec(name: str) -> ModelSpec:
    """The catalogue entry for ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}") from None


def spec_for_pin(digests: dict[str, str]) -> ModelSpec | None:
    """The catalogue entry whose official file has one of ``digests`` (``{"sha256": .., "git_blob_sha1": ..}``)."""
    for entry in REGISTRY.values():
        if entry.sha256 and entry.sha256 == digests.get("sha256"):
            return entry
        if entry.git_blob_sha1 and entry.git_blob_sha1 == digests.get("git_blob_sha1"):
            return entry
    return None


def architectures() -> dict[tuple[str, str], ModelSpec]:
    """One catalogue entry per distinct pair of templates (the shapes custom weights may have),
    in catalogue order."""
    found: dict[tuple[str, str], ModelSpec] = {}
    for entry in CATALOGUE:
        found.setdefault(entry.templates, entry)
    return found
