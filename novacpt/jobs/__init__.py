"""The Nova CPT job on the cluster: its manifests and what its status means (the backend is an adapter)."""

from novacpt.jobs.manifests import render_manifests, to_yaml

__all__ = ["render_manifests", "to_yaml"]
