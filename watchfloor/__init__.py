"""The shell on top: the ``watchfloor`` command (``cli``), the supervisor behind ``watchfloor up``,
the embedded Redis and the exercise feed server. Nothing below imports it."""

__all__ = ['cli', 'exercise', 'exercise_http', 'logs', 'redis_ha', 'redis_server', 'stacks', 'supervisor']
