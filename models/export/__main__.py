"""``python -m samcut.models.export CHECKPOINT --out DIR``: export in a process of its own."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samcut-export", description="Export a MobileSAM checkpoint to ONNX.")
    parser.add_argument("checkpoint")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("exporting a checkpoint needs PyTorch: pip install 'samcut[export]' "
              "(CPU build: pip install torch==2.13.0)", file=sys.stderr)
        return 3
    import warnings

    from samcut.models.export.onnx_export import ExportError, export_model
    from samcut.models.mobile_sam import CheckpointError

    warnings.filterwarnings("ignore")
    try:
        export_model(args.checkpoint, args.out, progress=lambda m: print(m, flush=True))
    except (ExportError, CheckpointError, OSError) as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
