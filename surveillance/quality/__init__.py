"""The clinic's quality report: is the programme kept, quarter by quarter (no patient named)."""
