"""The Redis transport, with a channel that closes cleanly when Redis has gone away.

On close, kombu's Redis channel first reads the reply to the BRPOP it has in flight. With Redis
gone that read raises, and the close stops half-way. Celery's consumer closes a lost connection
twice (collect, then close); the second time the half-closed channel, its connection already
released, fails with an AttributeError that Celery does not take for a connection error, and a
worker with a task in flight exits ("Unrecoverable error") instead of reconnecting. Here the
read is given up on a connection error, so the channel closes in one go, the unacknowledged
message stays in Redis (redelivered after the visibility timeout) and the worker reconnects.
"""

from contextlib import suppress
from queue import Empty

from kombu.transport import redis


class Channel(redis.Channel):
    def close(self) -> None:
        if self._in_poll:
            with suppress(Empty, *self.connection_errors):
                self._brpop_read()
        super().close()


class Transport(redis.Transport):
    Channel = Channel
