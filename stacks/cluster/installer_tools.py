"""The tools the HyperPod dependencies installer downloads, each pinned to a version and its SHA-256.

The checksums are kept here, not fetched beside the download at build time: a compromised release
server could serve a matching checksum along with a bad binary. To move a pin, download the file
once, check it against the publisher's checksum, and change version, URL and SHA-256 together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class PinnedTool:
    """One download: where it comes from, what it must hash to, and the file it is saved as."""

    name: str
    version: str
    url: str
    sha256: str
    file: str

    def download(self) -> str:
        """Shell: fetch the file and stop the build unless its SHA-256 is the pinned one."""
        return f'curl -fsSL -o {self.file} "{self.url}" && echo "{self.sha256}  {self.file}" | sha256sum -c -'


HELM: Final = PinnedTool(
    "helm",
    "v3.16.4",
    "https://get.helm.sh/helm-v3.16.4-linux-amd64.tar.gz",
    "fc307327959aa38ed8f9f7e66d45492bb022a66c3e5da6063958254b9767d179",
    "helm.tgz",
)
YQ: Final = PinnedTool(  # the RIG script needs yq 4
    "yq",
    "v4.44.3",
    "https://github.com/mikefarah/yq/releases/download/v4.44.3/yq_linux_amd64",
    "a2c097180dd884a8d50c956ee16a9cec070f30a7947cf4ebf87d5f36213e9ed7",
    "yq",
)
PINNED_TOOLS: Final = (HELM, YQ)
