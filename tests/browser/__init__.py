"""Browser tests: real Chromium (Playwright) against the real mesh started by run_all."""
