"""The ``/api/sync`` and ``/api/<client version>/sync`` WebSocket endpoints.

Glue between a socket and a :class:`~.session.SyncSession`: text frames in,
messages out, and the close codes of ``spec/convex-sync.md`` section 6.4. One
bad client never affects another: every failure ends only its own socket.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import ProtocolError
from ..runtime.calls import Deployment
from .results import SharedResults
from .session import CloseSocket, SyncSession
from .subscriptions import SubscriptionManager

logger = logging.getLogger(__name__)


class SyncHub:
    """What all sessions of one process share: the subscription manager and shared results."""

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.subscriptions = SubscriptionManager(deployment.executor.db)
        self.results = SharedResults(deployment.executor)
        self.sessions: set[SyncSession] = set()

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        session = SyncSession(self.deployment, self.subscriptions, self.results)
        self.sessions.add(session)
        session.start()
        sender = asyncio.create_task(_send_loop(websocket, session))
        receiver = asyncio.create_task(_receive_loop(websocket, session))
        overflow = asyncio.create_task(session.overflowed.wait())
        try:
            await asyncio.wait([sender, receiver, overflow], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, receiver, overflow):
                task.cancel()
            await asyncio.gather(sender, receiver, overflow, return_exceptions=True)
            await session.stop()
            self.sessions.discard(session)
        if session.overflowed.is_set():
            # The client reads nothing, so a close handshake would never finish: cut the connection.
            _abort(websocket)


def _abort(websocket: WebSocket) -> None:
    abort = websocket.scope.get("convexpy.abort")  # set by server.transport.AbortableWebSocketProtocol
    if abort is not None:
        abort()


async def _receive_loop(websocket: WebSocket, session: SyncSession) -> None:
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                session.close(1011, "InternalServerError")  # binary frames are not part of the protocol
                await session.closed.wait()
                return
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(f"Received Invalid JSON on websocket: {exc}", fatal=True) from None
            session.handle(message)
    except ProtocolError as error:
        session.fail(error)
        await session.closed.wait()
    except WebSocketDisconnect:
        return


async def _send_loop(websocket: WebSocket, session: SyncSession) -> None:
    try:
        while True:
            message = await session.next_outgoing()
            if isinstance(message, CloseSocket):
                await websocket.close(message.code, message.reason[:123])
                return
            await websocket.send_text(message.final_text())
            session.sent(message)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return
    finally:
        session.closed.set()
