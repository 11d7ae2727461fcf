"""What the bundle is on each system (packaging/targets.py), and the real spec run against each.

The spec is executed here with stand-ins for PyInstaller's ``Analysis``/``EXE``/``COLLECT``/``BUNDLE``
that record their arguments, once per platform, so the Windows and macOS branches are exercised on
any machine. What only a real build on that system shows (the executables start, the icon converts,
the signature verifies) is the hosted CI's job (.github/workflows/bundles.yml).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
sys.path.insert(0, str(PACKAGING))

import targets  # noqa: E402


def test_system_of_each_platform() -> None:
    assert targets.system_of("linux") == "linux"
    assert targets.system_of("win32") == "windows"
    assert targets.system_of("darwin") == "macos"
    with pytest.raises(ValueError, match="freebsd"):
        targets.system_of("freebsd14")


def test_linux_is_one_console_executable_as_before() -> None:
    spec = targets.target("linux", "0.1.0")
    assert spec.executables == (targets.Executable("samcut", console=True),)
    assert spec.cli == spec.app == PurePosixPath("samcut/samcut")
    assert spec.bundle is None and spec.icon_format is None and not spec.version_resource


def test_windows_has_a_windowed_app_and_a_console_twin() -> None:
    spec = targets.target("win32", "0.1.0")
    by_name = {exe.name: exe for exe in spec.executables}
    assert set(by_name) == {"samcut", "samcut-cli"}
    assert by_name["samcut"].console is False  # no console window behind the app
    assert by_name["samcut-cli"].console is True and by_name["samcut-cli"].hide_console == "hide-early"
    assert spec.app == PurePosixPath("samcut/samcut.exe")
    assert spec.cli == PurePosixPath("samcut/samcut-cli.exe")  # the plug-ins' and the self-test's program
    assert spec.icon_format == "ico" and spec.version_resource and spec.bundle is None


def test_macos_is_a_signed_app_bundle_with_its_plist() -> None:
    spec = targets.target("darwin", "1.4.2")
    assert spec.executables == (targets.Executable("samcut", console=False),)  # console=True: no Dock icon
    assert spec.bundle is not None and spec.bundle.name == "samcut.app"
    assert spec.bundle.bundle_identifier == spec.bundle.info_plist["CFBundleIdentifier"] == targets.BUNDLE_ID
    assert spec.bundle.info_plist["CFBundleShortVersionString"] == "1.4.2"
    assert spec.bundle.info_plist["CFBundleVersion"] == "1.4.2"
    assert spec.cli == PurePosixPath("samcut.app/Contents/MacOS/samcut") and spec.app == PurePosixPath("samcut.app")
    assert spec.icon_format == "icns"


@pytest.mark.parametrize(("version", "numbers"), [
    ("0.1.0", (0, 1, 0, 0)), ("2", (2, 0, 0, 0)), ("1.2rc1", (1, 2, 0, 0)), ("0.1.0.dev3+g1234", (0, 1, 0, 0)),
    ("1.2.3.4.5", (1, 2, 3, 4)), ("3.0.post2", (3, 0, 0, 0)),
])
def test_windows_version_numbers(version: str, numbers: tuple[int, ...]) -> None:
    assert targets.version_tuple(version) == numbers


def test_a_version_without_numbers_is_refused() -> None:
    with pytest.raises(ValueError):
        targets.version_tuple("unknown")


def test_windows_version_strings_name_the_file() -> None:
    strings = targets.windows_version_strings("0.1.0", "samcut-cli.exe")
    assert strings["OriginalFilename"] == "samcut-cli.exe" and strings["InternalName"] == "samcut-cli"
    assert strings["FileVersion"] == strings["ProductVersion"] == "0.1.0"


class Recorder:
    """A stand-in for one PyInstaller build class: keeps its arguments."""

    made: list[Recorder] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args, self.kwargs = args, kwargs
        self.scripts, self.pure, self.binaries, self.datas = [], [], [], []
        Recorder.made.append(self)


def recorder(kind: str) -> type:
    return type(kind, (Recorder,), {})


def fake_versioninfo() -> types.ModuleType:
    """``PyInstaller.utils.win32.versioninfo`` with classes that keep what they were given."""
    module = types.ModuleType("PyInstaller.utils.win32.versioninfo")
    for name in ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
                 "VarStruct"):
        setattr(module, name, type(name, (), {"__init__": lambda self, *a, **k: setattr(self, "given", (a, k))}))
    return module


def run_spec(platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, icon: str = "") -> dict[str, list]:
    """Execute packaging/samcut.spec as PyInstaller would on ``platform``; the recorded calls by kind."""
    import samcut.models.store.onnx_template  # noqa: F401 - imported before sys.platform is faked
    import samcut.plugin  # noqa: F401

    for name in ("PyInstaller", "PyInstaller.utils", "PyInstaller.utils.win32"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.win32.versioninfo", fake_versioninfo())
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("SAMCUT_BUILD_DIR", str(tmp_path))
    monkeypatch.setenv("SAMCUT_ICON", icon)
    monkeypatch.delenv("SAMCUT_BUNDLE_MODELS", raising=False)
    Recorder.made = []
    kinds = {kind: recorder(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace = {"SPECPATH": str(PACKAGING), "__name__": "__main__", **kinds}
    code = compile((PACKAGING / "samcut.spec").read_text(), str(PACKAGING / "samcut.spec"), "exec")
    with monkeypatch.context() as faked:
        faked.setattr(sys, "platform", platform)
        exec(code, namespace)  # noqa: S102 - our own spec, as PyInstaller runs it
    made: dict[str, list] = {kind: [] for kind in kinds}
    for item in Recorder.made:
        made[type(item).__name__].append(item)
    return made


def test_the_spec_on_linux_builds_what_it_did_before(monkeypatch, tmp_path) -> None:
    made = run_spec("linux", monkeypatch, tmp_path)
    (exe,) = made["EXE"]
    assert exe.kwargs["name"] == "samcut" and exe.kwargs["console"] is True and exe.kwargs["exclude_binaries"]
    assert exe.kwargs["icon"] is None and exe.kwargs["version"] is None and exe.kwargs["hide_console"] is None
    (collect,) = made["COLLECT"]
    assert collect.kwargs["name"] == "samcut" and collect.args[0] is exe
    assert made["BUNDLE"] == []
    assert '"version"' in (tmp_path / "build_info.json").read_text()


def test_the_spec_on_windows_collects_both_executables_with_icon_and_version(monkeypatch, tmp_path) -> None:
    made = run_spec("win32", monkeypatch, tmp_path, icon=str(tmp_path / "icon.png"))
    exes = {exe.kwargs["name"]: exe for exe in made["EXE"]}
    assert set(exes) == {"samcut", "samcut-cli"}
    assert exes["samcut"].kwargs["console"] is False and exes["samcut-cli"].kwargs["console"] is True
    assert exes["samcut-cli"].kwargs["hide_console"] == "hide-early"
    assert all(exe.kwargs["icon"] == str(tmp_path / "icon.png") for exe in exes.values())
    (collect,) = made["COLLECT"]
    assert set(collect.args[:2]) == set(exes.values())  # one folder, both executables
    from importlib.metadata import version

    info = exes["samcut-cli"].kwargs["version"].given[1]  # VSVersionInfo(ffi=FixedFileInfo(...), kids=[...])
    assert info["ffi"].given[1]["filevers"] == targets.version_tuple(version("samcut"))
    table = info["kids"][0].given[0][0][0]  # StringFileInfo([StringTable(lang, [StringStruct(key, value), ...])])
    strings = dict(struct.given[0] for struct in table.given[0][1])
    assert strings["OriginalFilename"] == "samcut-cli.exe"
    assert made["BUNDLE"] == []


def test_the_spec_on_macos_bundles_the_folder_into_a_signed_app(monkeypatch, tmp_path) -> None:
    from importlib.metadata import version

    made = run_spec("darwin", monkeypatch, tmp_path, icon=str(tmp_path / "icon.png"))
    (exe,) = made["EXE"]
    assert exe.kwargs["console"] is False and exe.kwargs["codesign_identity"] is None  # None: PyInstaller signs ad hoc
    (collect,) = made["COLLECT"]
    (bundle,) = made["BUNDLE"]
    assert bundle.args == (collect,)  # the onedir folder, not a onefile EXE
    assert bundle.kwargs["name"] == "samcut.app" and bundle.kwargs["bundle_identifier"] == targets.BUNDLE_ID
    assert bundle.kwargs["version"] == version("samcut") == bundle.kwargs["info_plist"]["CFBundleShortVersionString"]
    assert bundle.kwargs["icon"] == str(tmp_path / "icon.png")
