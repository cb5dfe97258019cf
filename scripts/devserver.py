"""Starting the debug dev server for a script (scripts/schemathesis, scripts/client-smoke): on
the embedded store, a free loopback port, fixed keys, and rate limits far above what a script
sends (RATE_LIMIT_*_PER_MIN: configuration, so 429 stays possible, just out of the way)."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTNER_KEY = "pk_live_scriptpartnerkey00000000000000000000"
DISTRIBUTOR_KEY = "dk_live_scriptdistributorkey000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, key=None, body=None, form=None):
    """One request; returns (status, text). Raises on a status >= 400 (urllib)."""
    headers = {}
    data = None
    if key:
        headers["X-Partner-Key"] = key
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = form.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


@contextlib.contextmanager
def dev_server(name):
    """Yields the base URL of a dev server started for the script `name`; stops it after."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    server = os.environ.get("DEV_SERVER") or os.path.join(target, "debug", "dev-server")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix=f"{name}-")
    env = dict(
        os.environ,
        PORT=str(port),
        DEV_PARTNER_KEY=PARTNER_KEY,
        DEV_DISTRIBUTOR_KEY=DISTRIBUTOR_KEY,
        RATE_LIMIT_PARTNER_PER_MIN="1000000",
        RATE_LIMIT_DISTRIBUTOR_PER_MIN="1000000",
        MAIL_DIR=os.path.join(work, "mail"),
        RUST_LOG="warn",
    )
    env.pop("BACKEND", None)
    env.pop("PUBLIC_BASE_URL", None)
    log_path = os.path.join(work, "dev-server.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    try:
        deadline = time.time() + 60
        while True:
            try:
                call("GET", f"{base}/api/v1/openapi.json")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    sys.exit(f"scripts/{name}: the dev server did not start ({server}):\n" + open(log_path).read())
                time.sleep(0.2)
        yield base, work
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
