"""Helpers for tests in real Chromium: start a server the test owns, drive the page with Playwright."""
