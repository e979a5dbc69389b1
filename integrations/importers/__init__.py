"""Importers of history from other systems: each reader turns its source (CSV files, a Zendesk
or Freshdesk export or API) into one neutral `ImportPlan`, and `replayer.HistoryWriter` writes
that plan through the domain with the source's own timestamps."""
