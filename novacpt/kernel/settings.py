"""What every pipeline step knows about its deployment (from the Lambda environment)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Deployment(BaseModel):
    """The deployment's account, region and buckets, validated once per cold start."""

    model_config = ConfigDict(frozen=True)

    account_id: str = Field(pattern=r"^[0-9]{12}$")
    region: str = Field(min_length=1)
    data_bucket: str = Field(min_length=3)
    output_bucket: str = Field(min_length=3)
    archive_bucket: str = Field(min_length=3)
    max_replicas: int | None = Field(default=None, ge=1)
    model_type: str | None = None  # the run.model_type the cluster is configured for (MODEL_TYPE)
