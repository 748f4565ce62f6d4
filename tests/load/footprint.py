#!/usr/bin/env python3
"""Bytes on disk per event on the embedded store (issue #14's footprint).

Starts a hookmesh binary on a fresh redb file with one webhook to a local
receiver, sends EVENTS order-like JSON payloads of about 1 KiB (ids and
hashes, as an app sends; the same every run) in bulk posts of 50, waits
until every one is delivered, stops the host and prints the file's size
per event as it grew (which also depends on how redb reuses pages between
transactions, so it varies from run to run) and after `hookmesh store
compact` (the live records), then each table's share (`hookmesh store
stats`). Standard library only.

    python3 tests/load/footprint.py target/release/hookmesh 20000
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADMIN = "footprint-admin-token-0123456789"
MASTER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receiver():
    """A receiver answering 200; returns (port, delivered counter)."""
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            with lock:
                count[0] += 1

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1], count


def order(rnd, i):
    """An order of about 1 KiB: ids, line items, an address, a reference."""

    def hexid(n):
        return "".join(rnd.choice("0123456789abcdef") for _ in range(n))

    items = [
        {
            "sku": f"SKU-{hexid(6)}",
            "name": rnd.choice(["Blue T-shirt", "Coffee mug", "Notebook A5", "USB-C cable", "Desk lamp"]),
            "quantity": rnd.randint(1, 5),
            "unit_price": rnd.randint(100, 9999),
        }
        for _ in range(4)
    ]
    payload = {
        "id": f"ord_{hexid(16)}",
        "customer": {"id": f"cus_{hexid(14)}", "email": f"user{i}@example.com", "name": "Ada Lovelace"},
        "items": items,
        "shipping": {"line1": f"{rnd.randint(1, 999)} Market Street", "city": "San Francisco", "postal_code": "94105", "country": "US"},
        "currency": "usd",
        "total": sum(x["quantity"] * x["unit_price"] for x in items),
        "status": "paid",
        "created_at": "2026-12-02T03:20:00Z",
        "metadata": {"campaign": "winter-sale", "ref": hexid(24)},
    }
    while len(json.dumps(payload)) < 1024:
        payload["metadata"]["note"] = payload["metadata"].get("note", "") + hexid(8)
    return payload


def main():
    binary, events = sys.argv[1], int(sys.argv[2])
    workdir = tempfile.mkdtemp(prefix="hookmesh-footprint-")
    port = free_port()
    store = os.path.join(workdir, "hookmesh.redb")
    with open(os.path.join(workdir, "hookmesh.toml"), "w") as f:
        f.write(
            f'[server]\nlisten = "127.0.0.1:{port}"\nadmin_token = "{ADMIN}"\n'
            f'[storage]\npath = "{store}"\n[plugins]\ndir = "target/plugins"\n'
            f'[security]\nmaster_key = "{MASTER_KEY}"\nhttps_only = false\nallow_private_targets = true\n'
            "[ingest]\nevents_per_second = 100000\nburst = 100000\n"
        )
    host = subprocess.Popen([binary, "serve", "--config", os.path.join(workdir, "hookmesh.toml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)

        def call(path, body, key=ADMIN):
            request = urllib.request.Request(
                base + path,
                method="POST",
                data=json.dumps(body).encode(),
                headers={"authorization": "Bearer " + key, "content-type": "application/json"},
            )
            return json.loads(urllib.request.urlopen(request).read() or b"null")

        receiver_port, delivered = receiver()
        secret = call("/projects", {"id": "fp", "name": "fp"})["secret_key"]
        call("/projects/fp/integrations/webhooks", {"url": f"http://127.0.0.1:{receiver_port}/h"}, secret)
        rnd = random.Random(7)
        for start in range(0, events, 50):
            batch = []
            for i in range(start, min(events, start + 50)):
                payload = order(rnd, i)
                batch.append({"event": "order.paid", "resource": "order", "resource_id": payload["id"], "payload": payload})
            call("/projects/fp/events/bulk", {"events": batch}, secret)
        deadline = time.time() + 300
        while delivered[0] < events and time.time() < deadline:
            time.sleep(0.2)
    finally:
        host.terminate()
        host.wait()
    grown = os.path.getsize(store)
    config = os.path.join(workdir, "hookmesh.toml")
    subprocess.run([binary, "store", "compact", "--config", config], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    live = os.path.getsize(store)
    print(
        f"{binary}: {delivered[0]} of {events} delivered; redb file {grown / events:.0f} bytes per event as grown, "
        f"{live / events:.0f} after `store compact` (the records themselves)"
    )
    stats = subprocess.run([binary, "store", "stats", "--config", config], capture_output=True, text=True)
    if stats.returncode == 0:
        print(f"{'table':<20}{'rows':>9}{'stored B/event':>16}{'pages B/event':>15}")
        for table in json.loads(stats.stdout)["tables"]:
            print(
                f"{table['table']:<20}{table['rows']:>9}{table['stored_bytes'] / events:>16.0f}"
                f"{table['page_bytes'] / events:>15.0f}"
            )
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
