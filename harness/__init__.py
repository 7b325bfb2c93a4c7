"""Helpers for tests that need real parts: network namespaces, Chromium, aiortc."""
