"""Long-running loops: projectors now; relay and reactors in the distributed mode."""
