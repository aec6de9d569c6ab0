"""The store: how every process finds Redis, its JSON job queues, the event stream and its keys."""

__all__ = ['connection', 'streams']
