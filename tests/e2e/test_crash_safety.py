"""SIGKILL at any instant loses no acknowledged commit and leaves no partial one."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

import httpx

from .conftest import FUNCTIONS, _start, free_port

KILLS = 5
KILL_EVERY_S = 0.7


async def test_repeated_sigkill_under_load(fresh_database, tmp_path):
    port, site_port = free_port(), free_port()
    data = tmp_path / "data"
    state = {"server": _start(fresh_database, data, FUNCTIONS, port, site_port)}
    acknowledged: set[str] = set()
    unacknowledged: set[str] = set()
    stop = threading.Event()
    url = f"http://127.0.0.1:{port}"

    def client(worker: int) -> None:
        n = 0
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                tag = f"k{worker}-{n}"
                n += 1
                try:
                    response = http.post(url + "/api/mutation", json={"path": "errors:insertPair", "args": {"tag": tag}})
                    ok = response.status_code == 200 and response.json()["status"] == "success"
                except httpx.HTTPError:
                    ok = False
                (acknowledged if ok else unacknowledged).add(tag)
                if not ok:
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    kills = 0
    while kills < KILLS:  # a count, not a duration: a slower start must not mean fewer kills
        time.sleep(KILL_EVERY_S)
        process = state["server"].process
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        kills += 1
        state["server"] = _start(fresh_database, data, FUNCTIONS, port, site_port)
    stop.set()
    for thread in threads:
        thread.join()

    server = state["server"]
    try:
        assert len(acknowledged) > 50, len(acknowledged)
        counts: Counter[str] = Counter()
        cursor = None
        while True:
            body = httpx.post(url + "/api/query", json={"path": "errors:tagsPage", "args": {"cursor": cursor}}).json()
            assert body["status"] == "success", body
            counts.update(body["value"]["page"])
            if body["value"]["isDone"]:
                break
            cursor = body["value"]["continueCursor"]
        for tag in acknowledged:
            assert counts[tag] == 2, f"acknowledged {tag} has {counts[tag]} documents"
        for tag in unacknowledged:
            assert counts[tag] in (0, 2), f"unacknowledged {tag} is half there"
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
        server.process.stdout.close()
