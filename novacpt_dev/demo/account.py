"""The demo's emulated account for Preflight: a HyperPod cluster with its restricted instance group, and a quota."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from novacpt.adapters.preflight import QUOTA_NAME
from novacpt.catalog import INSTANCE_TYPE


@dataclass
class DemoAccount:
    """Answers DescribeCluster and ListServiceQuotas as an account with the stack deployed would."""

    cluster: str
    group: str
    p5_quota: float = 32

    def describe_cluster(self, ClusterName: str) -> dict[str, Any]:
        fsx = {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}
        group = {"InstanceGroupName": self.group, "InstanceType": INSTANCE_TYPE, "CurrentCount": 0}
        group["EnvironmentConfig"] = {"FSxLustreConfig": fsx}
        return {"ClusterName": ClusterName, "ClusterStatus": "InService", "RestrictedInstanceGroups": [group]}

    def get_paginator(self, operation: str) -> DemoAccount:
        assert operation == "list_service_quotas"
        return self

    def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
        yield {"Quotas": [{"QuotaName": QUOTA_NAME, "QuotaCode": "L-DEMO", "Value": self.p5_quota}]}
