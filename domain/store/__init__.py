"""The store: how every process finds Redis, its JSON job queues, the event stream and its keys, and
the stream's archive on disk."""

__all__ = ['archive', 'connection', 'durability', 'sentinel', 'streams']
