"""Runtime of Nova continued pre-training (CPT) on SageMaker HyperPod: what ships in the Lambda asset.

Layers, each importing only from those before it: `kernel` (errors, settings, S3, ports), the domain
(`recipe`, `dataset`, `catalog`, `estimate`, `jobs`, `drop`, `naming`), `steps`, then `adapters`.
"""

__version__ = "0.1.0"
