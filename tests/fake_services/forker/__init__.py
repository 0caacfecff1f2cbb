"""Fake service for tests/test_run_all.py; see __main__.py."""
