"""The finance domain: an area's money for a financial year, the allocation's dry run, recorded utilisation."""
