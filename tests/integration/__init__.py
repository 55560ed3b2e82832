"""Integration tests: moto, the executed state machine, the stand-in Kubernetes API, the demo."""
