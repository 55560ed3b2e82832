"""The cluster stack: VPC, EKS, the HyperPod cluster with its P5 restricted instance group, and its add-ons."""
