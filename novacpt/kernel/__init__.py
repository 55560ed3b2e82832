"""The kernel every layer stands on: errors and AWS-error translation, settings, S3 access, s3:// URIs, ports."""
