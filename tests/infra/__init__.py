"""Infrastructure tests: synthesised templates (Template assertions) and the cdk-nag, cfn-lint and checkov gates."""
