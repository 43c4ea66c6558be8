"""Verify: recalculate, compare every block with the reference, check the formulas, report."""
