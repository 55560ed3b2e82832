"""Unit tests: pure functions and in-memory fakes; no AWS emulator, no network."""
