"""Lambda code for every pipeline function, bundled locally (no Docker) and offline.

The bundle holds `lambdas/` (handlers), `novacpt/` (domain core) and the wheels of
`lambdas/requirements.txt` for the Lambda platform, installed from `.build/lambda-wheels`
(which `make setup` downloads), so synthesis needs neither Docker nor network.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT: Final = Path(__file__).resolve().parents[2]
REQUIREMENTS: Final = ROOT / "lambdas" / "requirements.txt"
WHEELS: Final = ROOT / ".build" / "lambda-wheels"
RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION: Final = "3.14"
PLATFORMS: Final = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
_SOURCES: Final = ("lambdas", "novacpt")  # the handlers and the runtime: never novacpt_cli or novacpt_dev
BUNDLE_FORMAT: Final = "2"  # part of the asset hash: bump it when the bundle's layout changes (2: no .pyc)


def _target_args() -> list[str]:
    """pip arguments that select wheels for the Lambda runtime instead of this machine."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION, *platforms]


def wheel_download_command() -> list[str]:
    """The pip command that fills WHEELS (run by `make setup`, which has network)."""
    pip = [sys.executable, "-m", "pip", "download", "--quiet"]
    return [*pip, *_target_args(), "--dest", str(WHEELS), "-r", str(REQUIREMENTS)]


def _source_files() -> list[Path]:
    files = [REQUIREMENTS]
    for folder in _SOURCES:
        files += sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def source_hash() -> str:
    """Hash of everything that goes into the bundle: it changes exactly when the code does."""
    digest = hashlib.sha256(BUNDLE_FORMAT.encode())
    for path in _source_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalBundler:
    """Copies the sources and installs the pinned wheels for the Lambda platform into the asset."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        if not WHEELS.is_dir():
            raise RuntimeError(f"{WHEELS} is missing: run `make setup` to download the Lambda wheels")
        # --no-compile: bytecode compiled by this machine's Python would be dead weight for the Lambda runtime's.
        pip = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--no-index",
            "--find-links",
            str(WHEELS),
        ]
        subprocess.run(
            [*pip, *_target_args(), "--target", str(out), "-r", str(REQUIREMENTS)],
            check=True,
        )
        for path in _source_files()[1:]:
            target = out / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return True


def pipeline_code() -> lambda_.Code:
    """The one code asset all pipeline functions share (each has its own handler)."""
    return lambda_.Code.from_asset(
        str(ROOT / "lambdas"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("local-bundling-only"),  # never pulled: local bundling succeeds
            local=_LocalBundler(),
        ),
    )


if __name__ == "__main__":  # `python -m stacks.shared.bundling`: download the wheels (make setup)
    subprocess.run(wheel_download_command(), check=True)
