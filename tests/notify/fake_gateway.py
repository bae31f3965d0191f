"""A fake SMS gateway: a real HTTP server on loopback, shaped like a Chinese cloud SMS API, for the tests (a test
double, never imported by the product).

``POST /sms/send``   {PhoneNumbers, SignName, TemplateCode, TemplateParam (JSON text), OutId} → {Code, BizId}
``POST /sms/query``  {PhoneNumber, OutId} → {Code, Details: [{BizId, OutId, SendStatus}]}
``POST /sms/receipts``  → {Code, Receipts: [{BizId, OutId, Success, ErrCode}]} (pending, not yet acknowledged)
``POST /sms/receipts/ack`` {BizIds} → {Code}

Like the real ones it is NOT idempotent: the same OutId sent twice is two text messages (``sent_count``). Requests
must be signed (HMAC-SHA256 of the body under the secret). ``script`` makes the next sends misbehave:
``"500"`` (an error, nothing taken), ``"timeout"`` (no answer in time, nothing taken), ``"accept_timeout"`` (taken,
then no answer in time), ``"refuse"`` (a bad number: ``isv.MOBILE_NUMBER_ILLEGAL``), ``"limit"``
(``isv.BUSINESS_LIMIT_CONTROL``). Receipts: ``receipt_mode`` ``"once"`` (default), ``"twice"`` (each twice),
``"never"``; ``fail_phones`` get a failed receipt. ``rate`` (messages a second) refuses sends beyond it with
``isv.BUSINESS_LIMIT_CONTROL``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "fake-gateway-secret"
ACCESS_KEY = "fake-key"


@dataclass
class GatewayState:
    script: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # every text message that went out
    pending: list[dict[str, Any]] = field(default_factory=list)  # receipts not yet acknowledged
    receipt_mode: str = "once"
    fail_phones: set[str] = field(default_factory=set)
    slow: float = 1.0  # seconds a "timeout" answer waits (longer than the client's timeout)
    rate: int = 0
    window: list[float] = field(default_factory=list)
    requests: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def sent_count(self, out_id: str) -> int:
        return sum(1 for m in self.sent if m["OutId"] == out_id)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout test)
            pass

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        good = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        with state.lock:
            state.requests += 1
        if self.headers.get("X-Access-Key") != ACCESS_KEY or not hmac.compare_digest(
            self.headers.get("X-Signature", ""), good
        ):
            with state.lock:
                state.bad_signatures += 1
            self._answer(403, {"Code": "SignatureDoesNotMatch"})
            return
        payload = json.loads(raw)
        if self.path == "/sms/send":
            self._send(state, payload)
        elif self.path == "/sms/query":
            with state.lock:
                hits = [m for m in state.sent if m["OutId"] == payload["OutId"]]
            self._answer(200, {"Code": "OK", "Details": [{"BizId": m["BizId"], "OutId": m["OutId"],
                                                          "SendStatus": 3} for m in hits]})  # fmt: skip
        elif self.path == "/sms/receipts":
            with state.lock:
                items = state.pending[: payload.get("Max", 500)]
            self._answer(200, {"Code": "OK", "Receipts": items})
        elif self.path == "/sms/receipts/ack":
            acked = set(payload.get("BizIds", []))
            with state.lock:
                state.pending = [r for r in state.pending if r["BizId"] not in acked]
            self._answer(200, {"Code": "OK"})
        else:
            self._answer(404, {"Code": "NotFound"})

    def _send(self, state: GatewayState, payload: dict[str, Any]) -> None:
        json.loads(payload["TemplateParam"])  # must be JSON text
        with state.lock:
            step = state.script.pop(0) if state.script else "ok"
            if step == "ok" and state.rate:
                now = time.monotonic()
                state.window = [t for t in state.window if now - t < 1.0]
                if len(state.window) >= state.rate:
                    step = "limit"
                else:
                    state.window.append(now)
        if step == "500":
            self._answer(500, {"Code": "InternalError"})
            return
        if step == "timeout":
            time.sleep(state.slow)
            self._answer(500, {"Code": "InternalError"})
            return
        if step == "refuse":
            self._answer(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"})
            return
        if step == "limit":
            self._answer(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "rate limit"})
            return
        with state.lock:
            biz = f"BIZ{next(state.ids):08d}"
            state.sent.append({**payload, "BizId": biz})
            ok = payload["PhoneNumbers"] not in state.fail_phones
            receipt = {
                "BizId": biz,
                "OutId": payload["OutId"],
                "Success": ok,
                "ErrCode": "" if ok else "MK:0001",
            }
            if state.receipt_mode in ("once", "twice"):
                state.pending.append(receipt)
            if state.receipt_mode == "twice":
                state.pending.append(dict(receipt))
        if step == "accept_timeout":
            time.sleep(state.slow)
        self._answer(200, {"Code": "OK", "BizId": biz, "RequestId": f"R{biz}"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: GatewayState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def fake_gateway() -> Iterator[tuple[str, GatewayState]]:
    """Start the gateway on a free loopback port; yields its URL and its state."""
    state = GatewayState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
