"""Exports and customer data rights (issue 7)."""
