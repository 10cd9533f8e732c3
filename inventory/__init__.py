"""Catalogue, stock ledger and sales (issue 5)."""
