"""CDK stacks and constructs of the Nova CPT deployment (see app.py)."""
