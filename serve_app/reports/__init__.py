"""Reports: CSV exports and PDF reports of an area, read from the other domains' services."""
