"""The read side: projections fold the CareDesk notification log into view tables.

A projection is a pure fold (`Projection.apply(event, rows)`); the runner feeds it pages of the
log and commits a page's rows together with the projection's position in one transaction.
"""
