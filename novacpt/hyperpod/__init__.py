"""SageMaker HyperPod: the restricted instance group's capacity, and the ClusterBackend that joins it to the jobs."""

from novacpt.hyperpod.backend import HyperPodBackend
from novacpt.hyperpod.capacity import HyperPodCapacity

__all__ = ["HyperPodBackend", "HyperPodCapacity"]
