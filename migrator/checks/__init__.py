"""Checks: rules over the inventory (and the planned connectors) that produce findings."""
