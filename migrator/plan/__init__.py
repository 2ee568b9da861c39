"""The planning layer: relay mapping, identity matching and the dependency graph of steps."""
