"""A fake control actor for TUI tests: a ROUTER socket on its own thread answering each request
type with a fixed reply (or a function of the request), recording every request, and pushing
events to connections that subscribed. Same wire as the real one (protocol.codec)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import zmq

from protocol import control_api as api, messages as m
from protocol.codec import decode_control_request, encode
from protocol.errors import ProtocolError

Reply = Any  # a ControlResult, an m.Error, or a callable(request) -> either


class FakeControl:
    def __init__(self, endpoint: str, replies: dict[type, Reply] | None = None) -> None:
        self.endpoint = endpoint
        self.replies: dict[type, Reply] = dict(replies or {})
        self.requests: list[Any] = []
        self.subscribers: set[bytes] = set()
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "FakeControl":
        self._thread.start()
        assert self._ready.wait(5), "fake control did not bind"
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def __enter__(self) -> "FakeControl":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push(self, event: Any) -> None:
        self._outbox.put(event)

    def of(self, kind: type) -> list[Any]:
        return [r for r in list(self.requests) if isinstance(r, kind)]

    def _answer(self, request: Any) -> api.Ok | m.Error:
        reply = self.replies.get(type(request))
        if callable(reply) and not isinstance(reply, type):
            reply = reply(request)
        if reply is None:
            if isinstance(request, api.Subscribe):
                return api.Ok(id=request.id, result=api.SubscribedResult(kinds=request.kinds))
            return api.Ok(id=request.id, result=api.Done(detail=f"{type(request).__name__} done"))
        if isinstance(reply, m.Error):
            return m.Error(id=request.id, code=reply.code, reason=reply.reason)
        return api.Ok(id=request.id, result=reply)

    def _run(self) -> None:
        sock = zmq.Context.instance().socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        self._ready.set()
        try:
            while not self._stop.is_set():
                while True:
                    try:
                        event = self._outbox.get_nowait()
                    except queue.Empty:
                        break
                    body = encode(api.Push(event=event))
                    for peer in list(self.subscribers):
                        sock.send_multipart([peer, body])
                if not sock.poll(20, zmq.POLLIN):
                    continue
                frames = sock.recv_multipart()
                peer, body = frames[0], frames[-1]
                try:
                    request = decode_control_request(body)
                except ProtocolError as exc:
                    sock.send_multipart([peer, encode(m.Error(id=0, code=exc.code, reason=exc.reason))])
                    continue
                self.requests.append(request)
                if isinstance(request, api.Subscribe):
                    self.subscribers.add(peer)
                sock.send_multipart([peer, encode(self._answer(request))])
        finally:
            sock.close(0)
