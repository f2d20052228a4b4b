#!/usr/bin/env python3
"""Live Pyramid 2.1 peer for the Rust interop tests.

    <venv python> tests/pyramid/peer.py

Reads one JSON request per line on stdin, writes exactly one JSON response
line on stdout per request (flushed), until EOF.  Nothing else is ever
written to stdout; diagnostics go to stderr.  A bad request or a Pyramid
exception is reported in "error", never ends the loop.

Each request is one real request/response cycle through a Pyramid app whose
session factory is SignedCookieSessionFactory(**factory): the ops run inside
the view on request.session, then the Router runs Pyramid's response
callback, which writes Set-Cookie (or not) exactly as production would.

Request:
  {
    "factory": {"secret": str, "salt"?: str, "hashalg"?: str,
                "timeout"?: int|null, "reissue_time"?: int|null,
                # optional cookie options, passed straight to the factory:
                "cookie_name"?, "max_age"?, "path"?, "domain"?, "secure"?,
                "httponly"?, "samesite"?, "set_on_exception"?},
                # omitted keys take Pyramid's defaults (timeout 1200,
                # reissue_time 0, sha512, salt "pyramid.session.", ...)
    "cookie": str|null,            # value of the session cookie, if any
    "cookie_header"?: str,         # raw Cookie header instead (e.g. duplicates)
    "now"?: number,                # freeze time.time() for this request
    "seed"?: str,                  # make os.urandom (CSRF tokens) deterministic
    "ops": [op, ...]
  }

Ops (each yields one entry in "results", in order):
  {"op":"get_state"}                          -> state dict; does NOT count as
                                                 an access (no reissue)
  {"op":"get","key":k}                        -> session.get(k) (an access)
  {"op":"contains","key":k}                   -> k in session (an access)
  {"op":"set","key":k,"value":v}              -> null
  {"op":"delete","key":k}                     -> null (KeyError if missing;
                                                 note Pyramid marks the session
                                                 changed before raising)
  {"op":"flash","msg":m,"queue"?:q,"allow_duplicate"?:bool} -> null
  {"op":"pop_flash","queue"?:q}               -> list
  {"op":"peek_flash","queue"?:q}              -> list
  {"op":"get_csrf_token"}                     -> str
  {"op":"new_csrf_token"}                     -> str
  {"op":"invalidate"}                         -> null
  {"op":"changed"}                            -> null
  {"op":"raise","msg"?:str}                   -> makes the view raise (to test
                                                 set_on_exception)
An op that raises stops the remaining ops; the view's exception then goes
to an exception view (status 500), Pyramid sets request.exception, and
the response callbacks still run, so set_on_exception applies as in a real
app.  That exception is reported in "error".

Response:
  {
    "results": [...],              # one per op that completed
    "new": bool|null,              # null only if the session could not be built
    "created": number|null, "accessed": number|null, "renewed": number|null,
    "state": object|null,          # final dict, read without touching it
                                   # (all five as they stood when the view
                                   # ended: what _set_cookie serializes)
    "set_cookie": str|null,        # the raw Set-Cookie header Pyramid wrote
    "cookie_value": str|null,      # its value part
    "error": str|null              # "<where>: <Exception>: <message>"
  }
Numbers are as Python holds them (int stays int, float stays float).
Values Python accepts but strict JSON cannot carry are mapped:
NaN/Infinity -> "NaN"/"Infinity"/"-Infinity"; strings with lone surrogates
-> {"$lone_surrogates": "<ASCII-escaped JSON text>"}.
"""

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    cookie_value_of, describe, factory_kwargs, jsonable, run_cycle, state_of,
)


class OpError(Exception):
    """Carries which op failed, so "error" can say so."""


def _queue(op):
    return op.get('queue', '')


def apply_op(session, op):
    kind = op.get('op')
    if kind == 'get_state':
        return state_of(session)
    if kind == 'get':
        return session.get(op['key'])
    if kind == 'contains':
        return op['key'] in session
    if kind == 'set':
        session[op['key']] = op['value']
        return None
    if kind == 'delete':
        del session[op['key']]
        return None
    if kind == 'flash':
        session.flash(op['msg'], _queue(op), op.get('allow_duplicate', True))
        return None
    if kind == 'pop_flash':
        return session.pop_flash(_queue(op))
    if kind == 'peek_flash':
        return session.peek_flash(_queue(op))
    if kind == 'get_csrf_token':
        return session.get_csrf_token()
    if kind == 'new_csrf_token':
        return session.new_csrf_token()
    if kind == 'invalidate':
        session.invalidate()
        return None
    if kind == 'changed':
        session.changed()
        return None
    if kind == 'raise':
        raise RuntimeError(op.get('msg', 'raised by peer op'))
    raise ValueError('unknown op %r' % (kind,))


def handle(req):
    resp = {'results': [], 'new': None, 'created': None, 'accessed': None,
            'renewed': None, 'state': None, 'set_cookie': None,
            'cookie_value': None, 'error': None}
    if not isinstance(req, dict):
        resp['error'] = 'request: expected a JSON object'
        return resp
    try:
        kwargs = factory_kwargs(req.get('factory') or {})
        ops = req.get('ops') or []
        if not isinstance(ops, list):
            raise ValueError('ops must be a list')
    except Exception as exc:
        resp['error'] = 'request: %s' % describe(exc)
        return resp

    results = resp['results']
    snapshot = {}

    def run(session):
        try:
            for i, op in enumerate(ops):
                try:
                    # Copied to JSON-safe values at once: later ops may
                    # mutate the very list a pop/peek returned.
                    results.append(jsonable(json.loads(json.dumps(
                        apply_op(session, op), default=repr))))
                except Exception as exc:
                    name = op.get('op') if isinstance(op, dict) else op
                    raise OpError('op[%d] %s: %s' % (i, name, describe(exc))) from exc
        finally:
            # Taken when the view ends, i.e. exactly what _set_cookie will
            # serialize.  Reading after the response would be wrong: Pyramid's
            # own dict(self) inside _set_cookie is an "access" that bumps
            # session.accessed to int(now) after the payload was built.
            snapshot.update(new=session.new, created=session.created,
                            accessed=session.accessed, renewed=session.renewed,
                            state=state_of(session))

    try:
        out = run_cycle(kwargs, run, cookie=req.get('cookie'),
                        cookie_header=req.get('cookie_header'),
                        now=req.get('now'), seed=req.get('seed'))
    except Exception as exc:   # factory construction (bad hashalg etc.)
        resp['error'] = 'factory: %s' % describe(exc)
        return resp

    if snapshot:
        resp.update({k: jsonable(v) for k, v in snapshot.items()})
    if out['set_cookie']:
        # Pyramid sets at most one session cookie per response.
        resp['set_cookie'] = out['set_cookie'][-1]
        resp['cookie_value'] = cookie_value_of(resp['set_cookie'])

    errors = []
    if out['session_error'] is not None:
        errors.append('session: %s' % describe(out['session_error']))
    elif out['view_exception'] is not None:
        exc = out['view_exception']
        errors.append(str(exc) if isinstance(exc, OpError) else 'view: %s' % describe(exc))
    if out['router_exception'] is not None:
        # e.g. "Cookie value is too long to store (N bytes)" from _set_cookie
        errors.append('response: %s' % describe(out['router_exception']))
    resp['error'] = '; '.join(errors) or None
    return resp


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
        except ValueError as exc:
            resp = {'results': [], 'new': None, 'created': None,
                    'accessed': None, 'renewed': None, 'state': None,
                    'set_cookie': None, 'cookie_value': None,
                    'error': 'request: invalid JSON: %s' % exc}
        else:
            try:
                resp = handle(req)
            except Exception as exc:   # a bug here must not kill the peer
                traceback.print_exc(file=sys.stderr)
                resp = {'results': [], 'new': None, 'created': None,
                        'accessed': None, 'renewed': None, 'state': None,
                        'set_cookie': None, 'cookie_value': None,
                        'error': 'peer: %s' % describe(exc)}
        try:
            text = json.dumps(resp, ensure_ascii=True, allow_nan=False)
        except ValueError as exc:   # something non-JSON slipped through
            text = json.dumps({'results': [], 'new': None, 'created': None,
                               'accessed': None, 'renewed': None,
                               'state': None, 'set_cookie': None,
                               'cookie_value': None,
                               'error': 'peer: unencodable response: %s' % exc})
        out.write(text + '\n')
        out.flush()


if __name__ == '__main__':
    main()
