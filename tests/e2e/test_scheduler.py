"""Scheduled functions through the official clients: a job runs once after its delay and never when
its mutation rolls back; cancel shows `canceled`; failures are recorded; actions schedule too; the
per-mutation limit and bad targets get Convex's errors."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from convex.http_client import ConvexHttpClient


def wait_for(check, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def client(server) -> ConvexHttpClient:
    return ConvexHttpClient(server.url)


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


def test_a_scheduled_mutation_runs_once_after_its_delay(client):
    mine = tag()
    job_id = client.mutation("jobs:scheduleMark", {"tag": mine, "delay": 300})
    pending = client.query("jobs:job", {"id": job_id})
    assert pending["name"] == "jobs.js:mark" and pending["state"] == {"kind": "pending"}
    assert pending["args"] == [{"tag": mine, "by": "mutation"}] and "completedTime" not in pending
    assert client.query("jobs:marks", {"tag": mine}) == []  # not before its time
    assert wait_for(lambda: client.query("jobs:marks", {"tag": mine})) == ["mutation"]
    done = wait_for(lambda: (job := client.query("jobs:job", {"id": job_id}))["state"]["kind"] == "success" and job)
    assert done["completedTime"] >= done["scheduledTime"]
    time.sleep(0.3)
    assert client.query("jobs:marks", {"tag": mine}) == ["mutation"]  # exactly once


def test_a_mutation_that_rolls_back_schedules_nothing(client):
    mine = tag()
    before = client.query("jobs:jobCount")
    with pytest.raises(Exception, match="rolled back"):
        client.mutation("jobs:scheduleThenFail", {"tag": mine})
    time.sleep(0.5)
    assert client.query("jobs:marks", {"tag": mine}) == []
    assert client.query("jobs:jobCount") == before


def test_cancel_shows_canceled_and_the_job_never_runs(client):
    mine = tag()
    job_id = client.mutation("jobs:scheduleMark", {"tag": mine, "delay": 1500})
    client.mutation("jobs:cancel", {"id": job_id})
    canceled = client.query("jobs:job", {"id": job_id})
    assert canceled["state"] == {"kind": "canceled"} and "completedTime" in canceled
    client.mutation("jobs:cancel", {"id": job_id})  # a finished job: no-op
    time.sleep(2.0)
    assert client.query("jobs:marks", {"tag": mine}) == []


def test_a_failing_job_is_marked_failed_with_its_error(client):
    job_id = client.mutation("jobs:scheduleFailing", {})
    failed = wait_for(lambda: (job := client.query("jobs:job", {"id": job_id}))["state"]["kind"] == "failed" and job)
    assert "the scheduled mutation failed" in failed["state"]["error"]


def test_an_action_schedules_an_action_that_runs_at_most_once(client):
    mine = tag()
    job_id = client.action("jobs:scheduleFromAction", {"tag": mine})
    assert wait_for(lambda: client.query("jobs:marks", {"tag": mine})) == ["action"]
    assert wait_for(lambda: client.query("jobs:job", {"id": job_id})["state"]["kind"] == "success")


def test_a_thousand_jobs_per_mutation_and_no_more(client):
    mine = tag()
    with pytest.raises(Exception, match="Too many functions scheduled by this mutation"):
        client.mutation("jobs:scheduleMany", {"tag": mine, "count": 1001})
    client.mutation("jobs:scheduleMany", {"tag": mine, "count": 50})
    assert wait_for(lambda: len(client.query("jobs:marks", {"tag": mine})) == 50)


def test_scheduling_a_function_that_does_not_exist_is_refused_clearly(server):
    def refused(name: str) -> str:
        body = httpx.post(server.url + "/api/mutation", json={"path": "jobs:scheduleByName", "args": {"name": name}}).json()
        assert body["status"] == "error"
        return body["errorMessage"]

    assert "Attempted to schedule function at nonexistent path: nowhere" in refused("nowhere:fn")
    assert "no exported function nothing found in the file: jobs" in refused("jobs:nothing")
