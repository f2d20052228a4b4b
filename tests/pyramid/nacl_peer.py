#!/usr/bin/env python3
"""Live pyramid_nacl_session peer for the Rust encrypted-cookie interop tests.

    <venv python> tests/pyramid/nacl_peer.py

The same JSON-lines loop as peer.py: one JSON request per line on stdin,
exactly one JSON response line on stdout per request (flushed), until EOF.
Nothing else is written to stdout; diagnostics go to stderr.  Errors are
reported in "error" and never end the loop.  Without pyramid_nacl_session or
PyNaCl it exits at once with a message on stderr, so the Rust tests fail
(they never skip).

Requests ("cmd" picks the kind; omitted means "cycle"):

  {"cmd": "cycle", "factory": {...}, "cookie": str|null, "now"?: number,
   "seed"?: str, "ops": [op, ...]}
      One real request/response cycle through a Pyramid app whose session
      factory is pyramid_nacl_session's EncryptedCookieSessionFactory with
      Pyramid's JSONSerializer.  The ops and the response are peer.py's (see
      its docstring); the response also has
        "payload": str|null   the JSON text inside the cookie Pyramid wrote,
                              decrypted by EncryptedSerializer.loads.
      With "serializer": "pickle" in the factory, the factory keeps
      pyramid_nacl_session's own default inner serializer (Pyramid's
      PickleSerializer) instead; "payload" is then null and the response has
        "payload_repr": str   repr() of pickle.loads of the decrypted payload
      and three more ops run (see PICKLE_OPS): {"op": "set_expr", "key", "expr"}
      sets a key to a Python data expression (tuples, bytes, sets, int keys),
      {"op": "repr", "key"} gives repr(session[key]), {"op": "types"} gives
      {key: type name}.
      factory: {"secret": <64 hex digits>, "via"?: "factory"|"settings",
                "timeout"?, "reissue_time"?, "cookie_name"?, "max_age"?,
                "path"?, "domain"?, "secure"?, "httponly"?, "samesite"?,
                "set_on_exception"?}
        via "factory" (default): EncryptedCookieSessionFactory(
            unhexlify(secret), serializer=JSONSerializer(), **options)
        via "settings": session_factory_from_settings({"session.secret":
            secret, "session.serializer": "json", "session.<option>": ..}),
            the paste-settings path, which unhexlifies the secret itself.

  {"cmd": "encrypt", "secret": hex, "payload"|"payload_hex": str, "nonce"?: hex}
      -> {"value": str}: EncryptedSerializer(key).dumps of the payload's
      UTF-8 bytes (the inner serializer passes bytes through).  With
      "nonce", the nonce nacl.utils.random would draw is that one instead,
      so the value can be compared byte for byte with another sealer's.

  {"cmd": "decrypt", "secret": hex, "value": str}
      -> {"payload": str}: EncryptedSerializer(key).loads of the value,
      decoded as UTF-8; a value it refuses is an "error" naming the
      exception ("ValueError: Possible tampering: ..." and the like).

  {"cmd": "versions"} -> {"versions": {"pyramid_nacl_session": .., ...}}

Every response has "error": str|null.
"""

import json
import os
import sys
import traceback
from binascii import unhexlify

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import pyramid_nacl_session
    import pyramid_nacl_session.serializer
    from pyramid_nacl_session import (
        EncryptedCookieSessionFactory, EncryptedSerializer,
        session_factory_from_settings,
    )
except ImportError as exc:
    sys.stderr.write(
        'nacl_peer.py: %s: the encrypted-cookie interop tests need '
        'pyramid_nacl_session and PyNaCl (tests/pyramid/requirements.txt); '
        'run scripts/pyenv.sh to rebuild the venv\n' % exc)
    sys.exit(1)

from pyramid.config import Configurator  # noqa: E402
from pyramid.request import Request  # noqa: E402
from pyramid.session import JSONSerializer  # noqa: E402

import harness  # noqa: E402  (installs the clock and random hooks)
from harness import (  # noqa: E402
    cookie_value_of, describe, jsonable, state_of,
)
from peer import OpError, apply_op  # noqa: E402


class RawBytes:
    """An inner serializer that passes payload bytes through unchanged, so
    encrypt/decrypt see exactly the bytes the other side sealed."""

    def dumps(self, appstruct):
        return appstruct

    def loads(self, bstruct):
        return bstruct


# Options passed through to the factory; anything else is refused loudly so
# a typo in a Rust test does not silently test a default.
OPTIONS = {
    'timeout', 'reissue_time', 'cookie_name', 'max_age', 'path', 'domain',
    'secure', 'httponly', 'samesite', 'set_on_exception',
}

_APPS = {}


def session_factory(spec):
    spec = dict(spec)
    secret = spec.pop('secret', None)
    if not isinstance(secret, str):
        raise ValueError('factory.secret (hex) is required')
    via = spec.pop('via', 'factory')
    pickled = spec.pop('serializer', 'json') == 'pickle'
    unknown = set(spec) - OPTIONS
    if unknown:
        raise ValueError('unknown factory option(s): %s' % sorted(unknown))
    if via == 'factory' and pickled:
        # The package's default: no serializer argument at all.
        return EncryptedCookieSessionFactory(unhexlify(secret), **spec)
    if via == 'factory':
        return EncryptedCookieSessionFactory(
            unhexlify(secret), serializer=JSONSerializer(), **spec)
    if via == 'settings':
        settings = {'session.secret': secret}
        if not pickled:
            settings['session.serializer'] = 'json'
        settings.update(('session.' + k, v) for k, v in spec.items())
        return session_factory_from_settings(settings)
    raise ValueError('factory.via must be "factory" or "settings"')


def app_for(spec):
    key = json.dumps(spec, sort_keys=True)
    app = _APPS.get(key)
    if app is None:
        config = Configurator(session_factory=session_factory(spec))
        # harness's views: the ops run inside a real view, and the exception
        # view makes set_on_exception observable, as in peer.py.
        config.add_view(harness._view)
        config.add_view(harness._exc_view, context=Exception)
        app = config.make_wsgi_app()
        if len(_APPS) > 64:
            _APPS.clear()
        _APPS[key] = app
    return app


# Python data expressions of the tests, evaluated with no builtins but these.
EXPR_NAMES = {'__builtins__': {}, 'set': set, 'frozenset': frozenset,
              'bytearray': bytearray}


def pickle_op(session, op):
    kind = op.get('op')
    if kind == 'set_expr':
        session[op['key']] = eval(op['expr'], dict(EXPR_NAMES))
        return None
    if kind == 'repr':
        return repr(session[op['key']])
    if kind == 'types':
        return {k: type(v).__name__ for k, v in session.items()}
    return None


PICKLE_OPS = {'set_expr', 'repr', 'types'}


def empty_cycle_response():
    return {'results': [], 'new': None, 'created': None, 'accessed': None,
            'renewed': None, 'state': None, 'set_cookie': None,
            'cookie_value': None, 'payload': None, 'error': None}


def cycle(req):
    resp = empty_cycle_response()
    spec = req.get('factory') or {}
    ops = req.get('ops') or []
    try:
        if not isinstance(ops, list):
            raise ValueError('ops must be a list')
        app = app_for(spec)
    except Exception as exc:
        resp['error'] = 'factory: %s' % describe(exc)
        return resp

    harness.CLOCK.fixed = req.get('now')
    harness.RANDOM.reseed(req.get('seed'))
    results = resp['results']
    snapshot = {}

    def run(session):
        try:
            for i, op in enumerate(ops):
                try:
                    result = (pickle_op(session, op)
                              if isinstance(op, dict) and op.get('op') in PICKLE_OPS
                              else apply_op(session, op))
                    results.append(jsonable(json.loads(json.dumps(
                        result, default=repr))))
                except Exception as exc:
                    name = op.get('op') if isinstance(op, dict) else op
                    raise OpError('op[%d] %s: %s' % (i, name, describe(exc))) from exc
        finally:
            # What _set_cookie will serialize (see peer.py).
            snapshot.update(new=session.new, created=session.created,
                            accessed=session.accessed, renewed=session.renewed,
                            state=state_of(session))

    headers = {}
    cookie = req.get('cookie')
    if cookie is not None:
        headers['Cookie'] = '%s=%s' % (spec.get('cookie_name', 'session'), cookie)
    request = Request.blank('/', headers=headers)
    request.environ['harness.run'] = run
    errors = []
    try:
        response = request.get_response(app)
        set_cookies = response.headers.getall('Set-Cookie')
    except Exception as exc:   # e.g. "Cookie value is too long to store"
        set_cookies = []
        errors.append('response: %s' % describe(exc))

    if snapshot:
        if spec.get('serializer') == 'pickle':
            # A pickled state holds what JSON cannot (tuples, bytes, sets): its repr.
            snapshot['state'] = repr(snapshot['state'])
        resp.update({k: jsonable(v) for k, v in snapshot.items()})
    if set_cookies:
        resp['set_cookie'] = set_cookies[-1]
        resp['cookie_value'] = cookie_value_of(resp['set_cookie'])
        key = unhexlify(spec['secret'])
        payload = EncryptedSerializer(key, serializer=RawBytes()).loads(
            resp['cookie_value'].encode('ascii'))
        if spec.get('serializer') == 'pickle':
            import pickle
            resp['payload'] = None
            resp['payload_repr'] = repr(pickle.loads(payload))
        else:
            resp['payload'] = payload.decode('utf-8')

    session_error = request.environ.get('harness.session_error')
    view_exception = request.environ.get('harness.exception')
    if session_error is not None:
        errors.insert(0, 'session: %s' % describe(session_error))
    elif view_exception is not None:
        errors.insert(0, str(view_exception) if isinstance(view_exception, OpError)
                      else 'view: %s' % describe(view_exception))
    resp['error'] = '; '.join(errors) or None
    return resp


def encrypt(req):
    serializer = EncryptedSerializer(unhexlify(req['secret']), serializer=RawBytes())
    if 'payload_hex' in req:
        payload = bytes.fromhex(req['payload_hex'])
    else:
        payload = req['payload'].encode('utf-8')
    nonce = req.get('nonce')
    if nonce is None:
        value = serializer.dumps(payload)
    else:
        fixed = unhexlify(nonce)
        module = pyramid_nacl_session.serializer
        drawn = module.random

        def random(size):
            assert size == len(fixed), 'nonce must be %d bytes' % size
            return fixed

        module.random = random
        try:
            value = serializer.dumps(payload)
        finally:
            module.random = drawn
    return {'value': value.decode('ascii'), 'error': None}


def decrypt(req):
    serializer = EncryptedSerializer(unhexlify(req['secret']), serializer=RawBytes())
    try:
        payload = serializer.loads(req['value'].encode('ascii'))
    except Exception as exc:
        return {'payload': None, 'error': describe(exc)}
    return {'payload': payload.decode('utf-8'), 'error': None}


def versions(_req):
    from importlib.metadata import version
    return {'versions': {name: version(name) for name in (
        'pyramid_nacl_session', 'PyNaCl', 'pyramid', 'WebOb')},
        'error': None}


COMMANDS = {'cycle': cycle, 'encrypt': encrypt, 'decrypt': decrypt,
            'versions': versions}


def handle(req):
    if not isinstance(req, dict):
        return {'error': 'request: expected a JSON object'}
    command = COMMANDS.get(req.get('cmd', 'cycle'))
    if command is None:
        return {'error': 'request: unknown cmd %r' % (req.get('cmd'),)}
    return command(req)


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            resp = handle(json.loads(line))
        except Exception as exc:   # a bug here must not kill the peer
            traceback.print_exc(file=sys.stderr)
            resp = {'error': 'peer: %s' % describe(exc)}
        try:
            text = json.dumps(resp, ensure_ascii=True, allow_nan=False)
        except ValueError as exc:
            text = json.dumps({'error': 'peer: unencodable response: %s' % exc})
        out.write(text + '\n')
        out.flush()


if __name__ == '__main__':
    main()
