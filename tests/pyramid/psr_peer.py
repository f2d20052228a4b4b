#!/usr/bin/env python3
"""Live pyramid_session_redis 1.8.1 peer for the Rust interop tests.

    <venv python> tests/pyramid/psr_peer.py

Reads one JSON request per line on stdin, writes exactly one JSON response
line on stdout per request (flushed), until EOF.  Nothing else goes to
stdout.  Each request is one real request/response cycle through a Pyramid
app whose session factory is pyramid_session_redis.RedisSessionFactory, so
the package's response callback (cookie, Vary) and finished callback (the
write to Redis) run exactly as in production.

Request:
  {
    "factory": {"secret": str, "redis_url": str,
                "serializer"?: "pickle" | "json",   # default pickle
                # passed straight to RedisSessionFactory when present:
                "timeout"?, "set_redis_ttl"?, "python_expires"?,
                "timeout_trigger"?, "cookie_name"?},
    "cookie": str|null,        # value of the session cookie, if any
    "now"?: number,            # freeze the package's clock for this request
    "ops": [op, ...]
  }

Ops (each yields one entry in "results"):
  {"op":"get_state"}               -> dict(session) without marking an access
  {"op":"get","key":k}             -> session.get(k)
  {"op":"set","key":k,"value":v}   -> null
  {"op":"delete","key":k}          -> null
  {"op":"clear"}                   -> null
  {"op":"invalidate"}              -> null
  {"op":"set_literal","key":k,"literal":s}  -> null; the value is
                                      ast.literal_eval(s): a tuple, bytes, a set
  {"op":"repr","key":k}            -> repr(session[k]), to see Python types

Response:
  {"results": [...], "new": bool|null, "state": object|null,
   "set_cookie": [str, ...], "vary": str|null, "status": int,
   "error": str|null}
"""

import ast
import json
import sys
import traceback

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

import pyramid_session_redis
import pyramid_session_redis.util as psr_util

_REAL_TIME = psr_util.time_time
_APPS = {}


def json_serialize(data):
    # The package md5-hashes what `serialize` returns: it must be bytes.
    return json.dumps(data).encode("utf-8")


def factory_for(spec):
    kwargs = dict(spec)
    serializer = kwargs.pop("serializer", "pickle")
    if serializer == "json":
        kwargs["serialize"] = json_serialize
        kwargs["deserialize"] = json.loads
    elif serializer != "pickle":
        raise ValueError("unknown serializer %r" % (serializer,))
    return pyramid_session_redis.RedisSessionFactory(**kwargs)


def apply_op(session, op):
    kind = op.get("op")
    if kind == "get_state":
        return dict(session.managed_dict)
    if kind == "get":
        return session.get(op["key"])
    if kind == "set":
        session[op["key"]] = op["value"]
        return None
    if kind == "delete":
        del session[op["key"]]
        return None
    if kind == "clear":
        session.clear()
        return None
    if kind == "invalidate":
        session.invalidate()
        return None
    if kind == "set_literal":
        session[op["key"]] = ast.literal_eval(op["literal"])
        return None
    if kind == "repr":
        return repr(session[op["key"]])
    raise ValueError("unknown op %r" % (kind,))


def _view(request):
    env = request.environ
    session = request.session
    env["peer.new"] = session.new
    for op in env["peer.ops"]:
        env["peer.results"].append(apply_op(session, op))
    env["peer.state"] = dict(session.managed_dict)
    return Response("ok")


def app_for(spec):
    key = json.dumps(spec, sort_keys=True)
    app = _APPS.get(key)
    if app is None:
        config = Configurator(session_factory=factory_for(spec))
        config.add_view(_view)
        app = config.make_wsgi_app()
        _APPS[key] = app
    return app


def handle(req):
    resp = {"results": [], "new": None, "state": None, "set_cookie": [],
            "vary": None, "status": None, "error": None}
    now = req.get("now")
    psr_util.time_time = (lambda: now) if now is not None else _REAL_TIME
    try:
        headers = {}
        if req.get("cookie") is not None:
            name = req["factory"].get("cookie_name", "session")
            headers["Cookie"] = "%s=%s" % (name, req["cookie"])
        request = Request.blank("/", headers=headers)
        request.environ["peer.ops"] = req.get("ops") or []
        request.environ["peer.results"] = resp["results"]
        response = request.get_response(app_for(req["factory"]))
        resp["status"] = response.status_int
        resp["set_cookie"] = response.headers.getall("Set-Cookie")
        resp["vary"] = response.headers.get("Vary")
        resp["new"] = request.environ.get("peer.new")
        resp["state"] = request.environ.get("peer.state")
        if response.status_int != 200:
            resp["error"] = response.text[:500]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        resp["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        psr_util.time_time = _REAL_TIME
    return resp


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            resp = handle(req)
        except Exception as exc:
            resp = {"error": "request: %s: %s" % (type(exc).__name__, exc)}
        # Python values JSON cannot hold (tuples stay arrays; bytes, sets) as repr.
        sys.stdout.write(json.dumps(resp, default=repr) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
