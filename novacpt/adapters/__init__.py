"""Adapters that implement the kernel's ports on AWS: HyperPod capacity, Kubernetes (EKS) jobs, Step Functions."""
