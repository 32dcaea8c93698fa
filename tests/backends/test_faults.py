"""Faults: an S3 server that stops answering mid-sync, retries with backoff, the circuit breaker."""

from __future__ import annotations

import os
import threading
import time

from ipfs_kit_py.config import Settings
from ipfs_kit_py.kit import Kit

POLICY = {"replicas": 2, "targets": ["s3"], "retry_base_seconds": 0.2, "retry_max_seconds": 2,
          "circuit_threshold": 3, "circuit_cooldown_seconds": 1.0, "concurrency": 1}


def stored_on_s3(server, bucket: str) -> set[str]:
    keys = server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {k["Key"].split("/")[-1][:-4] for k in keys if k["Key"].endswith(".idx")}


def test_s3_stopped_mid_sync_then_back(home, own_s3_server):
    server = own_s3_server
    bucket = server.bucket()
    with Kit(home) as kit:
        cids = [kit.add(os.urandom(200_000)).cid for _ in range(6)]  # pinned before S3 is a target
        Settings.load(home, env=False).with_changes(
            backends={"s3": server.conf(bucket, timeout_seconds=1, max_retries=1)}, replication=POLICY).save()

        # Stop the server (SIGSTOP: connections hang) as soon as the first copy is confirmed.
        def stop_after_first_pin():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if kit.backends.state.rows(status="pinned"):
                    server.pause()
                    return
                time.sleep(0.002)

        watcher = threading.Thread(target=stop_after_first_pin)
        watcher.start()
        first = kit.backend_sync()
        watcher.join()
        assert first["queued"] == 6 and first["attempted"] == 6
        assert first["failed"] >= 1 and first["pinned"] >= 1 and first["pinned"] + first["failed"] == 6
        failed = [i for i in first["items"] if i["status"] == "failed"]
        # A failed copy was retried (attempts 2 = max_retries 1 + 1) until the breaker opened,
        # and is scheduled again after a backoff.
        assert max(i["attempts"] for i in failed) == 2
        assert any("circuit open" in i["last_error"] for i in failed)
        assert all(i["next_attempt"] > i["updated"] for i in failed)
        assert kit.backend_list()[0]["circuit"] == "open"

        server.resume()
        # Nothing is marked pinned that is not: every "pinned" row is on S3, no "failed" one is.
        pinned = {i["cid"] for i in first["items"] if i["status"] == "pinned"}
        on_s3 = stored_on_s3(server, bucket)
        assert pinned <= on_s3
        assert not ({i["cid"] for i in failed} & on_s3)

        # Back: after the cooldown the breaker lets a trial call through and the sync completes.
        second = kit.backend_sync(wait=20)
        assert second["failed"] == 0 and second["pending"] == 0
        assert stored_on_s3(server, bucket) == set(cids)
        assert kit.backend_list()[0]["circuit"] == "closed"
        failures = kit.audit.query_events(event_types="backend", action="backend.put_dag", status="failure",
                                          limit=None)
        assert failures and all(e.backend == "s3" for e in failures)


def test_an_unreachable_backend_fails_fast_once_its_circuit_is_open(home, own_s3_server):
    server = own_s3_server
    bucket = server.bucket()
    conf = server.conf(bucket, timeout_seconds=1, max_retries=0)
    server.stop()  # connection refused from now on
    Settings.load(home, env=False).with_changes(backends={"s3": conf}, replication=POLICY).save()
    with Kit(home) as kit:
        results = [kit.add(os.urandom(1000 + n)).replication for n in range(5)]
        states = [next(iter(r.values()))["s3"] for r in results]
        assert states == ["failed"] * 5
        rows = kit.backend_status(status="failed")["items"]
        errors = [r["last_error"] for r in rows]
        assert sum(e.startswith("cannot reach the S3 endpoint") for e in errors) == 3  # the threshold
        assert sum("circuit open after 3 failures" in e for e in errors) == 2  # refused without trying
        start = time.monotonic()
        assert kit.add(b"one more").replication
        assert time.monotonic() - start < 0.5
