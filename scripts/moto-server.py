"""Runs moto's server (DynamoDB, SQS, Secrets Manager) on a free loopback port for the tests.

Usage: python moto-server.py PORT_FILE [PORT]

It binds 127.0.0.1:PORT (default 0: any free port), writes the port it got to PORT_FILE, and
serves until killed.

Unlike `moto_server`, it handles one DynamoDB request at a time. moto's DynamoDB backend
keeps no locks, so under its threaded server two requests can interleave inside one operation
(a TransactWriteItems that fails restores a copy of the whole table, undoing writes that other
threads made meanwhile). DynamoDB makes every request atomic; serving them one at a time is
the faithful model of that, and what the store's concurrency tests need.

Other services (SQS, Secrets Manager) are served concurrently, as by moto's own server: an SQS
long poll (ReceiveMessage with WaitTimeSeconds, as the dev server's workers make) waits
inside moto, and under the one lock it held every other request for its whole wait (a dev
server with two polling workers answered in seconds).
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> None:
    port_file = sys.argv[1]
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        # DynamoDB's JSON protocol names the operation in X-Amz-Target (DynamoDB_20120810.…).
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return [b"".join(app(environ, start_response))]
        with lock:
            # Produce the whole body inside the lock.
            return [b"".join(app(environ, start_response))]

    wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = make_server("127.0.0.1", wanted, serialized, threaded=True, request_handler=MotoRequestHandler)
    port = server.socket.getsockname()[1]
    os.environ["MOTO_PORT"] = str(port)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
