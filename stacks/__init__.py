"""CDK stacks of the Nova CPT deployment, by component: storage, cluster, pipeline, and shared helpers."""
