"""Audit log: access, sign-in attempts, changes and API calls (issue 4)."""
