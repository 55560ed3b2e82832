"""The storage stack: KMS key, data/output/archive buckets and the managed policies that grant access to them."""
