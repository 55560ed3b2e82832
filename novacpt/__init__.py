"""Domain core for Amazon Nova continued pre-training (CPT) on SageMaker HyperPod.

Shared by the `cpt` command line tool and the pipeline's Lambda handlers: recipe
model, dataset validation, estimates and job manifests.
"""

__version__ = "0.1.0"
