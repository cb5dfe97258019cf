"""A webhook receiver that opens one ticket per control (baref00t's dedupeKey)."""
import hashlib, hmac, json, os
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["BAREF00T_WEBHOOK_SECRET"].encode()  # the whole whsec_… string
opened = set()  # keep these in your PSA instead: search its tickets for the key


def open_ticket(failure):
    # Call your PSA here (ConnectWise, Autotask, HaloPSA), with the key in the ticket.
    print(f"ticket {failure['dedupeKey']}: {failure['title']}", flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-Baref00t-Signature", "")):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        if event["type"] in ("assessment.completed", "assessment.regressed"):
            for failure in event["data"]["failures"]:
                if failure["dedupeKey"] not in opened:
                    opened.add(failure["dedupeKey"])
                    open_ticket(failure)
        self.send_response(204)
        self.end_headers()


server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Receiver)
print(f"listening on {server.server_port}", flush=True)
server.serve_forever()
