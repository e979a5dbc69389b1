"""NATS JetStream: the stream that carries the event log to workers, and the view-change feed."""
