"""One WebSocket client's sync state machine (``spec/convex-sync.md`` sections 3-9).

Four activities share the state of a session, each an asyncio task:

* the receiver (in :mod:`.endpoint`) hands every client message to :meth:`SyncSession.handle`;
* the mutation worker runs the client's mutations one at a time, in order;
* the update loop computes Transitions: it applies query-set changes, re-runs
  the queries whose subscriptions were invalidated (all at one ts), drops
  results whose hash did not change, and sends the Transition;
* the sender writes messages to the socket, and a Ping after 15 s of silence.

Ordering rules the clients rely on: a successful MutationResponse is released
only together with a Transition whose ts covers the mutation's commit ts, and
sent just before it, so both the JS client (waits for ``endVersion.ts >= ts``)
and the Rust client (releases on the next Transition) see their write.
Backpressure: while two Transitions are unsent the loop computes no new one;
triggers merge, so a slow client gets the latest state, not every state.
Messages are encoded when queued and counted in bytes: a client that sends
requests but never reads their answers is disconnected once its unsent
messages pass ``Deployment.session_outbox_bytes``, instead of growing the
server without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ..database.readset import ReadSet
from ..errors import BadRequest, DuplicateSessionRequest, ProtocolError, RequestError, Unauthenticated
from ..metrics import METRICS
from ..runtime.auth import user_identity
from ..runtime.calls import Deployment, new_request_id
from ..runtime.executor import ANONYMOUS, Identity, Outcome
from ..runtime.functions import FunctionKind
from ..values import json as cjson
from .protocol import StateVersion, decode_ts, encode_ts, require
from .results import SharedResults, run_encoded
from .subscriptions import Subscription, SubscriptionManager

logger = logging.getLogger(__name__)

MAX_QUEUED_MUTATIONS = 1000
MAX_INFLIGHT_ACTIONS = 1000
MAX_UNSENT_TRANSITIONS = 2
HEARTBEAT_S = 15.0
QUERY_CONCURRENCY = 20


@dataclass
class LiveQuery:
    query_id: int
    path: str
    args: list[Any]
    journal: str | None
    subscription: Subscription | None = None
    last_hash: bytes | None = None


@dataclass
class CloseSocket:
    code: int
    reason: str


@dataclass(slots=True)
class Outgoing:
    """A message encoded when it was queued (its size counts against the session's outbox)."""

    kind: str
    text: str

    def final_text(self) -> str:
        """The text to send; a Transition gets its ``serverTs`` as it leaves."""
        if self.kind == "Transition":
            return self.text[:-1] + f',"serverTs":{time.time_ns()}}}'
        return self.text


PING = Outgoing("Ping", '{"type":"Ping"}')
MAX_ERROR_CHARS = 64 * 1024
"""Error messages sent to a client are cut to this, as on HTTP."""


@dataclass
class _Mutation:
    request_id: int
    path: str
    args: list[Any]
    identity: Identity


@dataclass
class _PendingResponse:
    ts: int | None
    message: dict[str, Any]


def _outcome_hash(outcome: Outcome) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    if outcome.success:
        digest.update(b"ok")
        digest.update(orjson.dumps(cjson.to_json(outcome.value), option=orjson.OPT_SORT_KEYS))
    else:
        digest.update(b"err")
        digest.update(outcome.error_message.encode())
        if outcome.has_error_data:
            digest.update(orjson.dumps(cjson.to_json(outcome.error_data), option=orjson.OPT_SORT_KEYS))
    for line in outcome.log_lines:
        digest.update(len(line).to_bytes(4, "little"))
        digest.update(line.encode())
    return digest.digest()


class SyncSession:
    def __init__(self, deployment: Deployment, subscriptions: SubscriptionManager, results: SharedResults):
        self.deployment = deployment
        self.db = deployment.executor.db
        self.subscriptions = subscriptions
        self.results = results

        self.version = StateVersion()
        """The endVersion of the last Transition sent."""
        self.received_query_set = 0
        self.received_identity = 0
        self.identity: Identity = ANONYMOUS
        self.session_id: str | None = None
        self._resumed = False
        """The client says this session connected before, so it may re-send mutations it sent then."""
        self.client_clock_skew: int | None = None
        self._min_ts = 0

        self.queries: dict[int, LiveQuery] = {}
        self._known_ids: set[int] = set()
        self._pending_modifications: list[dict[str, Any]] = []
        self._pending_responses: list[_PendingResponse] = []
        self._update_needed = asyncio.Event()
        self._mutations: asyncio.Queue[_Mutation] = asyncio.Queue()
        self._actions: set[asyncio.Task] = set()
        self.outbox: asyncio.Queue[Outgoing | CloseSocket] = asyncio.Queue()
        self._outbox_bytes = 0
        self.overflowed = asyncio.Event()
        """Set when the client left too much unread: the endpoint drops the connection."""
        self._unsent_transitions = 0
        self._drained = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.closed = asyncio.Event()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._guard(self._update_loop()), name="sync-update"),
            asyncio.create_task(self._guard(self._mutation_worker()), name="sync-mutations"),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._actions]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._actions, return_exceptions=True)
        for query in self.queries.values():
            if query.subscription is not None:
                query.subscription.cancel()
        self.queries.clear()

    async def _guard(self, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except ProtocolError as error:
            self.fail(error)
        except RequestError as error:
            self.close(1013 if error.status == 503 else 1011, error.code)
        except Exception:
            logger.exception("sync session failed")
            self.close(1011, "InternalServerError")

    def close(self, code: int, reason: str) -> None:
        self.outbox.put_nowait(CloseSocket(code, reason))

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the socket, encoded now; drop the client if it reads too little."""
        item = Outgoing(message["type"], orjson.dumps(message).decode())
        self._outbox_bytes += len(item.text)
        if self._outbox_bytes > self.deployment.session_outbox_bytes:
            if not self.overflowed.is_set():
                logger.info("dropping a sync client that left %d bytes unread", self._outbox_bytes)
                self.overflowed.set()
            return
        self.outbox.put_nowait(item)

    def fail(self, error: ProtocolError) -> None:
        """Answer a protocol violation: FatalError first if the client should stop, then close."""
        if error.fatal:
            self.send({"type": "FatalError", "error": error.message[:MAX_ERROR_CHARS]})
            self.close(1000, "BadRequest")
        else:
            self.close(error.close_code, error.reason)

    def schedule_update(self) -> None:
        self._update_needed.set()

    # --- client messages ---------------------------------------------------------------

    def handle(self, message: Any) -> None:
        """Apply one client message. Raises :class:`ProtocolError` on a protocol violation."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolError("Received Invalid JSON on websocket: expected an object with a `type`", fatal=True)
        kind = message["type"]
        handler = {
            "Connect": self._on_connect,
            "ModifyQuerySet": self._on_modify_query_set,
            "Mutation": self._on_mutation,
            "Action": self._on_action,
            "Authenticate": self._on_authenticate,
            "Event": lambda _message: None,
        }.get(kind)
        if handler is None:
            raise ProtocolError(f"Received Invalid JSON on websocket: unknown message type `{kind}`", fatal=True)
        handler(message)

    def _on_connect(self, message: dict) -> None:
        session_id = message.get("sessionId")
        self.session_id = session_id if isinstance(session_id, str) else None
        # Clients count their connections from 0; only a later one can re-send a request, so only
        # then is a mutation looked up in cx_session_requests before it runs (a round trip saved).
        self._resumed = message.get("connectionCount") != 0
        client_ts = message.get("clientTs")
        if isinstance(client_ts, (int, float)) and not isinstance(client_ts, bool) and client_ts > 0:
            self.client_clock_skew = int(client_ts) - time.time_ns() // 1_000_000
        observed = message.get("maxObservedTimestamp")
        if observed is not None:
            # The client may have seen this ts on another replica: no Transition below it.
            self._min_ts = max(self._min_ts, decode_ts(observed))

    def _on_modify_query_set(self, message: dict) -> None:
        base = require(message, "baseVersion", int)
        new = require(message, "newVersion", int)
        modifications = require(message, "modifications", list)
        if base != self.received_query_set:
            raise ProtocolError(f"Base version {base} passed up doesn't match the current version {self.received_query_set}", fatal=True)
        if new <= base:
            raise ProtocolError(f"New query set version {new} is not above the base version {base}")
        limit = self.deployment.session_max_queries
        if len(modifications) > 2 * limit:  # refused before any of it is looked at
            raise ProtocolError(f"Too many query modifications in one message ({len(modifications)}; at most {2 * limit})", fatal=True)
        for modification in modifications:
            if not isinstance(modification, dict):
                raise ProtocolError("Received Invalid JSON on websocket: query modification must be an object", fatal=True)
            query_id = require(modification, "queryId", int)
            if modification.get("type") == "Add":
                require(modification, "udfPath", str)
                if not isinstance(modification.get("args"), list):
                    raise ProtocolError("Received Invalid JSON on websocket: `args` of Add must be an array", fatal=True)
                if query_id in self._known_ids:
                    raise ProtocolError(f"Duplicate query ID: {query_id}")
                if len(self._known_ids) >= limit:
                    raise ProtocolError(f"Too many queries in one session (limit: {limit}); remove some before adding more", fatal=True)
                self._known_ids.add(query_id)
            elif modification.get("type") == "Remove":
                if query_id not in self._known_ids:
                    raise ProtocolError(f"Nonexistent query id: {query_id}")
                self._known_ids.discard(query_id)
            else:
                raise ProtocolError(f"Received Invalid JSON on websocket: unknown query modification {modification.get('type')!r}", fatal=True)
        self.received_query_set = new
        self._pending_modifications.extend(modifications)
        self.schedule_update()

    def _on_authenticate(self, message: dict) -> None:
        base = require(message, "baseVersion", int)
        if base != self.received_identity:
            raise ProtocolError(f"Identity base version {base} doesn't match the current version {self.received_identity}")
        token_type = message.get("tokenType")
        try:
            if token_type == "Admin":
                identity = self.deployment.keys.check(require(message, "value", str))
                acting_as = message.get("impersonating") or message.get("acting_as")
                if acting_as is not None:
                    identity = Identity(admin=True, user=user_identity(acting_as, "Malformed acting-as identity"))
            elif token_type == "User":
                raise Unauthenticated(
                    "No auth provider found matching the given token. Check that your JWT's issuer and audience match "
                    "one of your configured providers: []",
                    code="NoAuthProvider",
                )
            elif token_type == "None":
                identity = ANONYMOUS
            else:
                raise ProtocolError(f"Received Invalid JSON on websocket: unknown tokenType {token_type!r}", fatal=True)
        except (Unauthenticated, BadRequest) as error:
            self.send(
                {"type": "AuthError", "error": error.message, "baseVersion": self.version.identity, "authUpdateAttempted": True}
            )
            self.close(1000, "AuthError")
            return
        self.identity = identity
        self.received_identity += 1
        self.schedule_update()

    def _request(self, message: dict) -> tuple[int, str, list[Any]]:
        request_id = require(message, "requestId", int)
        path = require(message, "udfPath", str)
        args = message.get("args")
        if not isinstance(args, list):
            raise ProtocolError("Received Invalid JSON on websocket: `args` must be an array", fatal=True)
        return request_id, path, args

    def _on_mutation(self, message: dict) -> None:
        request_id, path, args = self._request(message)
        if self._mutations.qsize() >= MAX_QUEUED_MUTATIONS:
            raise ProtocolError("Too many concurrent mutations", close_code=1013, reason="TooManyConcurrentMutations")
        self._mutations.put_nowait(_Mutation(request_id, path, args, self.identity))

    def _on_action(self, message: dict) -> None:
        request_id, path, args = self._request(message)
        if len(self._actions) >= MAX_INFLIGHT_ACTIONS:
            raise ProtocolError("Too many in-flight actions", close_code=1013, reason="TooManyInflightActionsForSingleClient")
        task = asyncio.create_task(self._guard(self._run_action(request_id, path, args, self.identity)))
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)

    # --- running requests --------------------------------------------------------------

    async def _call(self, path: str, args: list[Any], identity: Identity, kind: FunctionKind, **extra: Any) -> Outcome:
        return await run_encoded(self.deployment.executor, path, args, identity, kind, **extra)

    def _response(self, kind: str, request_id: int, outcome: Outcome, request_id_text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"type": kind, "requestId": request_id, "success": outcome.success}
        redact = self.deployment.redact_logs
        if outcome.success:
            message["result"] = cjson.to_json(outcome.value)
        else:
            text = f"[Request ID: {request_id_text}] Server Error"
            message["result"] = text if redact else (text + "\n" + outcome.error_message)[:MAX_ERROR_CHARS]
            if outcome.has_error_data:
                message["errorData"] = cjson.to_json(outcome.error_data)
        message["logLines"] = [] if redact else outcome.log_lines
        return message

    async def _mutation_worker(self) -> None:
        while True:
            request = await self._mutations.get()
            stored = None
            if self.session_id is not None and self._resumed:
                stored = await self._stored_outcome(request)
            if stored is None:
                session = (self.session_id, request.request_id) if self.session_id is not None else None
                try:
                    outcome = await self._call(request.path, request.args, request.identity, FunctionKind.MUTATION, session=session)
                except DuplicateSessionRequest as duplicate:
                    # Another socket of this session ran it first: its stored outcome is the answer.
                    stored = await self._stored_outcome(request)
                    if stored is None:
                        outcome = Outcome(False, error_message=duplicate.message + "\n", uses_identity=False)
            if stored is None:
                message = self._response("MutationResponse", request.request_id, outcome, new_request_id())
                message["ts"] = encode_ts(outcome.ts) if outcome.success and outcome.ts is not None else None
                self._pending_responses.append(_PendingResponse(outcome.ts if outcome.success else None, message))
            else:
                self._pending_responses.append(stored)
            self.schedule_update()

    async def _stored_outcome(self, request: _Mutation) -> _PendingResponse | None:
        """The response of a mutation this caller already ran in this session, if it is stored.

        Only the identity that ran it gets it back (a socket that merely knows the session id gets
        nothing), and only once this replica has applied its commit, so the Transition that
        releases it can cover its ts.
        """
        assert self.session_id is not None
        stored = await self.db.persistence.read_session_record(self.session_id, request.request_id, request.identity.key())
        if stored is None:
            return None
        ts, result, log_lines = stored
        await self.db.wait_for_ts(ts)
        message = {"type": "MutationResponse", "requestId": request.request_id, "success": True,
                   "result": orjson.loads(result), "ts": encode_ts(ts), "logLines": log_lines}
        return _PendingResponse(ts, message)

    async def _run_action(self, request_id: int, path: str, args: list[Any], identity: Identity) -> None:
        outcome = await self._call(path, args, identity, FunctionKind.ACTION)
        self.send(self._response("ActionResponse", request_id, outcome, new_request_id()))
        self.schedule_update()

    # --- transitions -------------------------------------------------------------------

    async def _update_loop(self) -> None:
        while True:
            await self._update_needed.wait()
            # Let work that was already queued run first: the commit that woke this session also
            # woke its mutation's caller, whose response must not wait behind every re-run.
            await asyncio.sleep(0)
            while self._unsent_transitions >= MAX_UNSENT_TRANSITIONS:
                self._drained.clear()
                await self._drained.wait()
            self._update_needed.clear()
            await self._compute_transition()

    async def _compute_transition(self) -> None:
        modifications_in = self._pending_modifications
        self._pending_modifications = []
        query_set_version = self.received_query_set
        identity_version = self.received_identity
        identity = self.identity
        identity_changed = identity_version != self.version.identity
        if identity_changed or any(modification["type"] == "Add" for modification in modifications_in):
            await self.db.include_acknowledged()  # a new query reflects every acknowledged commit
        if self._min_ts > self.db.latest_ts:
            try:
                await self.db.wait_for_ts(self._min_ts)
            except RequestError:
                raise ProtocolError("Client has observed a timestamp newer than this deployment's latest commit") from None

        out: dict[int, dict[str, Any]] = {}
        for modification in modifications_in:
            query_id = modification["queryId"]
            if modification["type"] == "Add":
                self.queries[query_id] = LiveQuery(query_id, modification["udfPath"], modification["args"], modification.get("journal"))
                out.pop(query_id, None)
            else:
                removed = self.queries.pop(query_id, None)
                if removed is not None and removed.subscription is not None:
                    removed.subscription.cancel()
                out[query_id] = {"type": "QueryRemoved", "queryId": query_id}

        snapshot_ts = max(self.db.latest_ts, self.version.ts)
        stale = [
            query for query in self.queries.values()
            if identity_changed or query.subscription is None or not query.subscription.valid
        ]
        for query in stale:
            if query.subscription is not None:
                query.subscription.cancel()
                query.subscription = None
        generation = self.subscriptions.generation  # a push while these run invalidates what they return
        for query, outcome in await self._rerun(stale, identity, snapshot_ts):
            if self.queries.get(query.query_id) is not query:
                continue  # removed while it ran; the next Transition reports the removal
            query.journal = outcome.journal
            # No read set (the function was never reached): nothing a commit can change.
            read_set = outcome.read_set if outcome.read_set is not None else ReadSet()
            query.subscription = self.subscriptions.subscribe(read_set, snapshot_ts, self.schedule_update, generation)
            digest = _outcome_hash(outcome)
            if digest == query.last_hash:
                continue
            query.last_hash = digest
            out[query.query_id] = self._query_modification(query, outcome)

        new_version = StateVersion(query_set_version, identity_version, snapshot_ts)
        ready: list[_PendingResponse] = []
        waiting: list[_PendingResponse] = []
        for response in self._pending_responses:
            (ready if response.ts is None or response.ts <= snapshot_ts else waiting).append(response)
        self._pending_responses = waiting
        if self._pending_responses:
            self.schedule_update()
        versions_moved = (new_version.query_set, new_version.identity) != (self.version.query_set, self.version.identity)
        if not out and not ready and not versions_moved:
            return  # nothing the client needs: its results were re-checked and are unchanged
        for response in ready:
            self.send(response.message)
        transition = {
            "type": "Transition",
            "startVersion": self.version.to_json(),
            "endVersion": new_version.to_json(),
            "modifications": [out[query_id] for query_id in sorted(out)],
            "clientClockSkew": self.client_clock_skew,
        }
        self.version = new_version
        METRICS.sync_transitions_total += 1
        self._unsent_transitions += 1
        self.send(transition)

    async def _rerun(self, stale: list[LiveQuery], identity: Identity, snapshot_ts: int) -> list[tuple[LiveQuery, Outcome]]:
        """Run the stale queries at ``snapshot_ts``, at most QUERY_CONCURRENCY at once.

        The usual case is one query (a commit touched one subscription of this
        session): it is awaited directly, since a task per query was a fifth of
        the server's time when one write reaches a thousand sessions.
        """
        if len(stale) == 1:
            query = stale[0]
            return [(query, await self.results.run(query.path, query.args, identity, query.journal, snapshot_ts))]
        limiter = asyncio.Semaphore(QUERY_CONCURRENCY)

        async def rerun(query: LiveQuery) -> tuple[LiveQuery, Outcome]:
            async with limiter:
                return query, await self.results.run(query.path, query.args, identity, query.journal, snapshot_ts)

        return list(await asyncio.gather(*(rerun(query) for query in stale)))

    def _query_modification(self, query: LiveQuery, outcome: Outcome) -> dict[str, Any]:
        redact = self.deployment.redact_logs
        logs = [] if redact else outcome.log_lines
        if outcome.success:
            return {"type": "QueryUpdated", "queryId": query.query_id, "value": cjson.to_json(outcome.value),
                    "logLines": logs, "journal": outcome.journal}
        text = f"[Request ID: {new_request_id()}] Server Error"
        modification = {"type": "QueryFailed", "queryId": query.query_id,
                        "errorMessage": text if redact else (text + "\n" + outcome.error_message)[:MAX_ERROR_CHARS],
                        "logLines": logs, "journal": outcome.journal}
        if outcome.has_error_data:
            modification["errorData"] = cjson.to_json(outcome.error_data)
        return modification

    # --- sending -----------------------------------------------------------------------

    async def next_outgoing(self) -> Outgoing | CloseSocket:
        """The next message for the socket; a Ping after 15 s without one."""
        try:
            return await asyncio.wait_for(self.outbox.get(), HEARTBEAT_S)
        except asyncio.TimeoutError:
            return PING

    def sent(self, message: Outgoing) -> None:
        if message is PING:
            return
        self._outbox_bytes -= len(message.text)
        if message.kind == "Transition":
            self._unsent_transitions -= 1
            self._drained.set()
