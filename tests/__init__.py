"""Tests by suite: unit (pure), integration (moto, emulator, stand-in API, demo), infra (templates and gates)."""
