"""Adapters implementing the kernel's ports on AWS: HyperPod capacity, EKS jobs, lease table, Step Functions."""
