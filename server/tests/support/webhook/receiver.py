"""A SIEM's webhook endpoint for the audit sink tests.

Every delivery is verified with the Standard Webhooks reference library (PyPI
`standardwebhooks`), which rejects a wrong signature, a tampered body and a timestamp more than
five minutes off. The test drives it over HTTP:

  POST /_control   {"secret": "whsec_...", "mode": "ok" | "fail" | "hang" | "throttle",
                    "retry_after": "120"}   how to answer the next deliveries
  GET  /_received  {"deliveries": [...], "rejected": [...], "attempts": N}
  POST /_verify    {"body": "...", "headers": {...}} -> {"ok": bool, "error": "..."}
  anything else    a delivery

Prints its port on the first line of stdout, then serves until killed.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
config = {"secret": None, "mode": "ok", "retry_after": None}
received = {"deliveries": [], "rejected": [], "attempts": 0}


def verify(body, headers):
    if not config["secret"]:
        raise WebhookVerificationError("the receiver has no secret")
    return Webhook(config["secret"]).verify(body, headers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, payload=None, headers=()):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("content-length", "0"))
        return self.rfile.read(length)

    def do_GET(self):
        if self.path == "/_received":
            with lock:
                self.reply(200, received)
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        raw = self.body()
        if self.path == "/_control":
            with lock:
                config.update(json.loads(raw))
            self.reply(200, config)
            return
        if self.path == "/_verify":
            probe = json.loads(raw)
            try:
                verify(probe["body"], probe["headers"])
                self.reply(200, {"ok": True})
            except WebhookVerificationError as e:
                self.reply(200, {"ok": False, "error": str(e)})
            return
        with lock:
            received["attempts"] += 1
            mode, retry_after = config["mode"], config["retry_after"]
        if mode == "fail":
            self.reply(500, {"error": "down for maintenance"})
            return
        if mode == "throttle":
            self.reply(429, {"error": "slow down"}, [("retry-after", retry_after or "60")])
            return
        if mode == "hang":
            time.sleep(30)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = verify(raw.decode(), headers)
        except WebhookVerificationError as e:
            with lock:
                received["rejected"].append({"error": str(e), "headers": headers})
            self.reply(400, {"error": str(e)})
            return
        with lock:
            received["deliveries"].append(
                {
                    "headers": {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
                    "body": raw.decode(),
                    "payload": payload,
                }
            )
        self.reply(204)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
