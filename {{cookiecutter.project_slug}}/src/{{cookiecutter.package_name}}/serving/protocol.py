"""The HTTP protocol `serve` runs uvicorn with: uvicorn's own, plus a deadline per request.

uvicorn waits forever for a client that connects and sends nothing, or sends its request a byte
at a time: a few thousand such connections hold every file descriptor of the server. Here a
client has SERVING_REQUEST_TIMEOUT seconds, from connecting or from the first byte of a request,
to send the whole request (headers and body); then the connection is closed, with a 408 if no
request had started. Between requests, uvicorn's keep-alive timeout closes idle connections.
"""

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..core.settings import ServingSettings

TIMEOUT_BODY = b'{"detail": "the request was not sent in time"}'
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(TIMEOUT_BODY), TIMEOUT_BODY)
)


@cache
def request_timeout() -> float:
    """Read once per worker process: uvicorn builds one protocol object per connection."""
    return ServingSettings().request_timeout


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request deadline above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: asyncio.TimerHandle | None = None
        self.answering = False  # the app has the current request: it owns the response

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.answering = False
        self._arm()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.answering = True

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(request_timeout(), self._expire)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if not self.answering:  # no request yet, or headers still coming: say why it ends
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()
