"""Build the samcut bundle for the system this runs on, plus the host plug-in packages, in dist/.

    python packaging/build.py [--models DIR] [--checkpoint FILE | --fetch]

  DIR         an exported model folder to ship inside (offline use)
  FILE        a MobileSAM checkpoint the finished bundle installs (as on a user's first run) to self-test
  --fetch     the finished bundle downloads the official model (as on a user's first run) to self-test

What it builds (``packaging/targets.py``): Linux ``dist/samcut/samcut``; Windows
``dist/samcut/samcut.exe`` (windowed) and ``samcut-cli.exe`` (console); macOS ``dist/samcut.app``,
signed ad hoc. Uses its own clean venv (``packaging/.venv-build``) with a regular, non-editable
install of samcut and no torch, then checks the bundle in a bare environment. ``$PYTHON`` picks
the interpreter that makes the venv (default: the one running this script).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import WINDOWS, Target, system_of, target  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYINSTALLER = ("pyinstaller==6.22.3", "pyinstaller-hooks-contrib==2026.9")
PIP = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check")


class BuildError(RuntimeError):
    """The build or one of its checks failed; the message says which."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=lambda p: Path(p).resolve(), metavar="DIR",
                        help="an exported model folder to ship inside")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--checkpoint", type=lambda p: Path(p).resolve(), metavar="FILE",
                       help="a checkpoint the finished bundle installs and self-tests with")
    check.add_argument("--fetch", action="store_true",
                       help="the finished bundle downloads the official model and self-tests with it")
    return parser.parse_args(argv)


def venv_python(venv: Path, platform: str) -> Path:
    """The interpreter of a venv: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    if system_of(platform) == WINDOWS:
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def bare_env(platform: str, home: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh login in ``home``, with nothing from the build's Python.

    Linux and macOS: ``HOME``, a system ``PATH`` and offscreen Qt (as ``env -i`` gave build.sh).
    Windows cannot start a program without ``SYSTEMROOT``; its user folders are pointed into
    ``home``, and since platformdirs asks Windows itself for them (not the environment), samcut's
    own overrides keep the models and preferences there too.
    """
    base = {"QT_QPA_PLATFORM": "offscreen"}
    if system_of(platform) != WINDOWS:
        return {**base, "HOME": str(home), "PATH": "/usr/bin:/bin"}
    environ = os.environ if environ is None else environ
    root = environ.get("SYSTEMROOT", r"C:\Windows")
    temp = home / "AppData" / "Local" / "Temp"
    return {**base, "SYSTEMROOT": root, "WINDIR": root, "SYSTEMDRIVE": environ.get("SYSTEMDRIVE", "C:"),
            "PATH": f"{root}\\System32;{root}", "USERPROFILE": str(home), "HOME": str(home),
            "APPDATA": str(home / "AppData" / "Roaming"), "LOCALAPPDATA": str(home / "AppData" / "Local"),
            "TEMP": str(temp), "TMP": str(temp),
            "SAMCUT_MODELS_ROOT": str(home / "samcut-models"), "SAMCUT_CONFIG_DIR": str(home / "samcut-config")}


def run(command: Sequence[object], **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``command`` (an argument list, never a shell line); raise BuildError when it fails."""
    args = [str(part) for part in command]
    result = subprocess.run(args, **kwargs)  # noqa: S603 - our own argument lists
    if result.returncode != 0:
        raise BuildError(f"failed ({result.returncode}): {' '.join(args)}")
    return result


def prepare_venv(venv: Path, python: str) -> Path:
    """The build venv with PyInstaller and a regular install of samcut[gui]; refuses one with torch."""
    interpreter = venv_python(venv, sys.platform)
    if not interpreter.exists():
        run([python, "-m", "venv", venv])
    run([interpreter, *PIP, "--upgrade", "pip"])
    run([interpreter, *PIP, *PYINSTALLER])
    # A regular install (not editable), without torch: the bundle must never contain it.
    run([interpreter, *PIP, "--force-reinstall", "--no-deps", ROOT])
    run([interpreter, *PIP, f"{ROOT}[gui]"])
    if subprocess.run([str(interpreter), "-c", "import torch"], capture_output=True).returncode == 0:
        raise BuildError("torch is installed in the build venv; refusing to bundle it")
    return interpreter


def commit() -> str:
    """The short commit being built, or "" outside a git checkout."""
    git = shutil.which("git")
    if git is None:
        return ""
    result = subprocess.run([git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def app_icon(interpreter: Path, spec: Target, work: Path) -> Path | None:
    """Draw the icon where the system shows one (Windows, macOS); None when it cannot be drawn."""
    if spec.icon_format is None:
        return None
    out = work / "samcut-icon.png"
    result = subprocess.run([str(interpreter), str(ROOT / "packaging" / "app_icon.py"), str(out)],
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True)
    if result.returncode != 0 or not out.is_file():
        print(f"build: no icon (PyInstaller's default is used): {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return out


def pyinstaller(interpreter: Path, models: Path | None, icon: Path | None, dist: Path, work: Path) -> None:
    env = {**os.environ, "SAMCUT_COMMIT": commit(), "SAMCUT_BUNDLE_MODELS": str(models or ""),
           "SAMCUT_BUILD_DIR": str(work), "SAMCUT_ICON": str(icon or "")}
    run([interpreter, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN", "--distpath", dist,
         "--workpath", work, "samcut.spec"], cwd=ROOT / "packaging", env=env)


def verify_signature(dist: Path, spec: Target) -> None:
    """macOS: the .app's (ad hoc) signature holds for every file in it."""
    if spec.bundle is None:
        return
    run(["codesign", "--verify", "--deep", "--strict", dist / spec.bundle.name])


def check(dist: Path, spec: Target, models: Path | None, checkpoint: Path | None, fetch: bool) -> None:
    """The bundle runs with nothing from the build's Python: in a fresh home, with the shipped model,
    one it installs itself from ``checkpoint`` or downloads (``fetch``) as a first run does (no torch)."""
    cli = dist / spec.cli
    with tempfile.TemporaryDirectory(prefix="samcut-check-", ignore_cleanup_errors=True) as folder:
        env = bare_env(sys.platform, Path(folder))
        Path(env.get("TEMP", folder)).mkdir(parents=True, exist_ok=True)
        chosen: list[str] = []
        if checkpoint is not None:
            result = subprocess.run([str(cli), "models", "export", str(checkpoint), "--name", "build-check"],
                                    env=env, stdout=subprocess.DEVNULL)
            if result.returncode != 0:
                raise BuildError(f"the bundle could not install {checkpoint}")
            chosen = ["--models", "build-check"]
        elif fetch and subprocess.run([str(cli), "models", "fetch"], env=env).returncode != 0:
            raise BuildError("the bundle could not download and install the official model")
        if models is not None or checkpoint is not None or fetch:
            if subprocess.run([str(cli), "--self-test", *chosen], env=env).returncode != 0:
                raise BuildError("the bundle's self-test failed")
        else:
            if subprocess.run([str(cli), "--version"], env=env, stdout=subprocess.DEVNULL).returncode != 0:
                raise BuildError("the bundle does not start")
            print("build: no --models, --checkpoint or --fetch, so the self-test was skipped (it needs a model)",
                  file=sys.stderr)


def size_mb(path: Path) -> float:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 2**20


def build(args: argparse.Namespace) -> Path:
    """Build, prune, package the plug-ins, verify and check; returns what a user opens."""
    dist, work = ROOT / "dist", ROOT / "packaging" / "build"
    interpreter = prepare_venv(ROOT / "packaging" / ".venv-build", os.environ.get("PYTHON") or sys.executable)
    asked = "from importlib.metadata import version; print(version('samcut'))"
    version = run([interpreter, "-c", asked], capture_output=True, text=True).stdout.strip()
    spec = target(sys.platform, version)
    work.mkdir(parents=True, exist_ok=True)
    pyinstaller(interpreter, args.models, app_icon(interpreter, spec, work), dist, work)
    run([interpreter, ROOT / "packaging" / "prune.py", dist / "samcut"])  # Linux only; elsewhere it does nothing
    run([interpreter, ROOT / "packaging" / "plugin_packages.py", dist])
    verify_signature(dist, spec)
    check(dist, spec, args.models, args.checkpoint, args.fetch)
    opened = dist / spec.app
    print(f"built {opened} ({size_mb(dist / spec.app.parts[0]):.0f} MB); plug-ins in {dist / 'plugins'}")
    return opened


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        build(args)
    except BuildError as error:
        print(f"build: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
