# onnxruntime: its shared libraries live in onnxruntime/capi and are loaded by path at run time.
from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("onnxruntime")
hiddenimports = ["onnxruntime.capi._pybind_state"]
excludedimports = ["onnxruntime.quantization", "onnxruntime.transformers", "onnxruntime.tools", "onnx"]
