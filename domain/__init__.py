"""The write model of Carelog: aggregates, their events, pure policies and the CareDesk application.

Nothing here imports from the other top-level packages or talks to the outside world.
"""
