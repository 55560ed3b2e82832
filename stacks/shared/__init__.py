"""Helpers every stack uses: cdk-nag and checkov acknowledgements, the log key, Lambda bundling, deploy functions."""
