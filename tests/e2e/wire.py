"""A bare sync-protocol client (the ``websockets`` library), for asserting exact messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

from websockets.sync.client import connect

ZERO_TS = "AAAAAAAAAAA="


class WireClient:
    def __init__(self, url: str, path: str = "/api/1.48.0/sync"):
        # Entered as a context manager, as websockets >= 17.1 expects.
        self._connection = connect(url.replace("http://", "ws://") + path, open_timeout=10, max_size=None)
        self.ws = self._connection.__enter__()
        self.session_id = str(uuid.uuid4())
        self.query_set = 0
        self.requests = 0
        self.version = {"querySet": 0, "identity": 0, "ts": ZERO_TS}
        """endVersion of the last Transition; every Transition must start exactly there."""

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 20.0, skip_pings: bool = True) -> dict[str, Any]:
        while True:
            message = json.loads(self.ws.recv(timeout=timeout))
            if message.get("type") == "Transition":
                assert message["startVersion"] == self.version, (message["startVersion"], self.version)
                self.version = message["endVersion"]
            if not (skip_pings and message.get("type") == "Ping"):
                return message

    def recv_type(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        while True:
            message = self.recv(timeout)
            if message["type"] == kind:
                return message

    def recv_modification(self, query_id: int, timeout: float = 20.0) -> tuple[dict[str, Any], dict[str, Any]]:
        """The next Transition that modifies ``query_id``, and that modification."""
        while True:
            transition = self.recv_type("Transition", timeout)
            for modification in transition["modifications"]:
                if modification["queryId"] == query_id:
                    return transition, modification

    def connect(self, **extra: Any) -> None:
        self.send({"type": "Connect", "sessionId": self.session_id, "connectionCount": 0, "lastCloseReason": "InitialConnect", **extra})

    def modify(self, *modifications: dict[str, Any]) -> None:
        self.send({"type": "ModifyQuerySet", "baseVersion": self.query_set, "newVersion": self.query_set + 1,
                   "modifications": list(modifications)})
        self.query_set += 1

    @staticmethod
    def add(query_id: int, path: str, args: dict | None = None, **extra: Any) -> dict[str, Any]:
        return {"type": "Add", "queryId": query_id, "udfPath": path, "args": [args or {}], **extra}

    def mutation(self, path: str, args: dict | None = None, request_id: int | None = None) -> int:
        if request_id is None:
            request_id = self.requests
            self.requests += 1
        self.send({"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args or {}]})
        return request_id

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
