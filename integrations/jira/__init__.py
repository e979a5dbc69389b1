"""Jira: the feedback issues' adapter (on the `jira` package), its fake, and inbound webhooks."""
