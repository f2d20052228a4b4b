#!/usr/bin/env python3
"""Live Beaker 1.14.1 / pyramid_beaker 0.9 peer for the Rust interop tests.

    <venv python> tests/pyramid/beaker_peer.py

Reads one JSON request per line on stdin, writes exactly one JSON response
line on stdout per request (flushed), until EOF.  Nothing else goes to
stdout.  Each request is one real request/response cycle through a Pyramid
app whose session factory is pyramid_beaker's, built from settings exactly
as an .ini file gives them (`session_factory_from_settings`), so Beaker's
load, its response callback (cookie) and its save run as in production.

Request:
  {
    "settings": {"session.type": "file", "session.data_dir": ..., ...},
    "cookie": str|null,        # value of the beaker.session.id cookie, if any
    "now"?: number,            # freeze Beaker's clock for this request
    "ops": [op, ...]
  }
  or {"hold_lock": {"lock_dir": str, "id": str, "seconds": number}}: takes the
  session's exclusive flock with Beaker's own FileSynchronizer, answers
  {"locked": true} once it holds it, and releases it `seconds` later.

Ops (each yields one entry in "results"):
  {"op":"get","key":k}             -> session.get(k)
  {"op":"set","key":k,"value":v}   -> null
  {"op":"delete","key":k}          -> null
  {"op":"invalidate"}              -> null
  {"op":"set_literal","key":k,"literal":s}  -> null; ast.literal_eval(s)
  {"op":"set_datetime","key":k}    -> null; a datetime.datetime
  {"op":"set_instance","key":k}    -> null; an instance of a class
  {"op":"repr","key":k}            -> repr(session[k])

Response:
  {"results": [...], "new": bool, "id": str, "last_accessed": the stored
   `_accessed_time` the load found (null: new), "state": object (the whole
   session dict, Beaker's own keys too, `_accessed_time` already moved to
   now), "set_cookie": [str, ...],
   "status": int, "error": str|null}
"""

import ast
import datetime
import json
import sys
import threading
import time
import traceback

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

import beaker.session
from beaker.synchronization import FileSynchronizer
import pyramid_beaker

_APPS = {}


class Clock(object):
    """Stands in for the `time` module inside beaker.session, so a test can
    freeze Beaker's clock without touching anybody else's."""

    now = None

    def time(self):
        return self.now if self.now is not None else time.time()

    def __getattr__(self, name):
        return getattr(time, name)


CLOCK = Clock()
beaker.session.time = CLOCK


class Thing(object):
    """An instance a pickle can only hold as code (a global and a BUILD)."""

    def __init__(self):
        self.x = 1


def apply_op(session, op):
    kind = op.get("op")
    if kind == "get":
        return session.get(op["key"])
    if kind == "set":
        session[op["key"]] = op["value"]
        return None
    if kind == "delete":
        del session[op["key"]]
        return None
    if kind == "invalidate":
        session.invalidate()
        return None
    if kind == "set_literal":
        session[op["key"]] = ast.literal_eval(op["literal"])
        return None
    if kind == "set_datetime":
        session[op["key"]] = datetime.datetime(2026, 1, 1, 12, 0)
        return None
    if kind == "set_instance":
        session[op["key"]] = Thing()
        return None
    if kind == "repr":
        return repr(session[op["key"]])
    raise ValueError("unknown op %r" % (kind,))


def plain(value):
    """A session value as JSON can carry it (repr for what it cannot)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _view(request):
    env = request.environ
    session = request.session
    env["peer.new"] = session.new
    for op in env["peer.ops"]:
        env["peer.results"].append(apply_op(session, op))
    env["peer.id"] = session.id
    env["peer.last_accessed"] = session.last_accessed
    env["peer.state"] = {k: plain(v) for k, v in session._session().items()}
    return Response("ok")


def app_for(settings):
    key = json.dumps(settings, sort_keys=True)
    app = _APPS.get(key)
    if app is None:
        factory = pyramid_beaker.session_factory_from_settings(settings)
        config = Configurator(session_factory=factory)
        config.add_view(_view)
        app = config.make_wsgi_app()
        _APPS[key] = app
    return app


def hold_lock(spec):
    held = threading.Event()

    def run():
        lock = FileSynchronizer(spec["id"], spec["lock_dir"])
        lock.acquire_write_lock()
        held.set()
        time.sleep(spec["seconds"])
        lock.release_write_lock()

    threading.Thread(target=run, daemon=True).start()
    held.wait()
    return {"locked": True}


def handle(req):
    if "hold_lock" in req:
        return hold_lock(req["hold_lock"])
    resp = {"results": [], "new": None, "id": None, "last_accessed": None,
            "state": None,
            "set_cookie": [], "status": None, "error": None}
    CLOCK.now = req.get("now")
    try:
        headers = {}
        if req.get("cookie") is not None:
            name = req["settings"].get("session.key", "beaker.session.id")
            headers["Cookie"] = "%s=%s" % (name, req["cookie"])
        request = Request.blank("/", headers=headers)
        request.environ["peer.ops"] = req.get("ops") or []
        request.environ["peer.results"] = resp["results"]
        response = request.get_response(app_for(req["settings"]))
        resp["status"] = response.status_int
        resp["set_cookie"] = response.headers.getall("Set-Cookie")
        resp["new"] = request.environ.get("peer.new")
        resp["id"] = request.environ.get("peer.id")
        resp["last_accessed"] = request.environ.get("peer.last_accessed")
        resp["state"] = request.environ.get("peer.state")
        if response.status_int != 200:
            resp["error"] = response.text[:500]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        resp["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        CLOCK.now = None
    return resp


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            resp = handle(req)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            resp = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
