"""SageMaker HyperPod: the restricted instance group's capacity, and the ClusterBackend that joins it to the jobs."""

from novacpt.adapters.hyperpod.backend import HyperPodBackend
from novacpt.adapters.hyperpod.capacity import HyperPodCapacity

__all__ = ["HyperPodBackend", "HyperPodCapacity"]
