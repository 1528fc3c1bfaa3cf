"""Shared fixtures live in per-area plugin modules so areas don't edit one file."""

pytest_plugins = ["tests.fixtures_es", "tests.fixtures_lab"]
