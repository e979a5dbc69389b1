"""Adapters to the outside world and the wiring that turns settings into running parts."""
