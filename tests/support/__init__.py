"""Helpers shared by test modules: imported by tests and conftest files, never from a conftest."""
