"""Shared plumbing for driving real Pyramid 2.1 sessions.

Used by gen_vectors.py (golden vectors) and peer.py (live interop peer).

Every session cycle goes through a real Pyramid WSGI app (Configurator ->
Router -> view -> excview tween -> response callbacks), so the cookie is
written by Pyramid's own ``CookieSession._set_cookie`` via the response
callback it registers, exactly as in production.  Nothing here re-implements
the wire format: if Pyramid changes, the vectors change with it.

Determinism hooks (module-level monkeypatches, installed on import):

* ``pyramid.session.time`` -> CLOCK: session timestamps (created, accessed,
  renew checks) come from ``CLOCK.now()``.
* ``webob.cookies.datetime`` -> a datetime whose ``utcnow()`` follows CLOCK,
  so the ``expires=`` attribute webob derives from ``max_age`` is frozen too
  (webob reads the wall clock directly, not ``time.time``).
* ``pyramid.session.os`` -> proxy whose ``urandom`` is seedable, so CSRF
  tokens (``hexlify(os.urandom(20))``) are reproducible.

With ``CLOCK.fixed = None`` and no seed, the real clock and real randomness
are used (the peer's default).
"""

import datetime as _dt
import hashlib
import json
import math
import os as _real_os
import time as _real_time

import pyramid.session
import webob
import webob.cookies
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory


class Clock:
    """Stand-in for the ``time`` module inside pyramid.session."""

    def __init__(self):
        self.fixed = None

    def time(self):
        return self.fixed if self.fixed is not None else _real_time.time()

    now = time


CLOCK = Clock()


class _FrozenDatetime(_dt.datetime):
    # webob computes expires as utcnow() + max_age; routing utcnow through
    # CLOCK keeps expires consistent with the session's own notion of now.
    @classmethod
    def utcnow(cls):
        return _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=CLOCK.now())


class _Random:
    """Stand-in for the ``os`` module inside pyramid.session (only urandom
    is used there).  Seeded: SHA-256 in counter mode over the seed, so a
    vector's CSRF token depends only on its own seed, not on run order."""

    def __init__(self):
        self.seed = None
        self.counter = 0

    def reseed(self, seed):
        self.seed = None if seed is None else str(seed).encode('utf-8')
        self.counter = 0

    def urandom(self, n):
        if self.seed is None:
            return _real_os.urandom(n)
        out = b''
        while len(out) < n:
            out += hashlib.sha256(
                self.seed + b'\0' + str(self.counter).encode()
            ).digest()
            self.counter += 1
        return out[:n]

    def __getattr__(self, name):
        return getattr(_real_os, name)


RANDOM = _Random()

pyramid.session.time = CLOCK
pyramid.session.os = RANDOM
webob.cookies.datetime = _FrozenDatetime

PYRAMID_VERSION = None
try:
    from importlib.metadata import version as _v

    PYRAMID_VERSION = _v('pyramid')
    WEBOB_VERSION = _v('WebOb')
except Exception:  # pragma: no cover - metadata missing is not fatal
    WEBOB_VERSION = getattr(webob, '__version__', None)


# Factory keyword arguments accepted from callers.  Anything else is
# rejected loudly so a typo in a Rust test does not silently test defaults.
FACTORY_KEYS = {
    'secret', 'salt', 'hashalg', 'timeout', 'reissue_time', 'cookie_name',
    'max_age', 'path', 'domain', 'secure', 'httponly', 'samesite',
    'set_on_exception',
}


def factory_kwargs(spec):
    unknown = set(spec) - FACTORY_KEYS
    if unknown:
        raise ValueError('unknown factory option(s): %s' % sorted(unknown))
    if 'secret' not in spec:
        raise ValueError('factory.secret is required')
    # Pass only what was given: an omitted option must mean Pyramid's own
    # default, not ours.  JSON null is meaningful for timeout/reissue_time/
    # samesite/max_age/domain (all accept None), so it is passed through.
    return dict(spec)


def state_of(session):
    """The session's dict contents *without* touching it.

    ``dict(session)``, ``dict.copy(session)`` and ``session.items()`` all go
    through the overridden ``keys``/``__iter__``/``items``, which are wrapped
    in ``manage_accessed``: they bump ``accessed`` and may trigger a reissue.
    ``dict.items`` called unbound iterates the C-level storage directly."""
    return dict(dict.items(session))


def key_bytes(secret, salt):
    """The HMAC key webob's SignedSerializer derives (salt + secret), and the
    encoding it used.  Read from the real object rather than recomputed."""
    ser = webob.cookies.SignedSerializer(secret, salt, 'sha512')
    key = ser.salted_secret
    try:
        latin = (salt or '').encode('latin-1') if isinstance(salt, str) else (salt or b'')
        latin += secret.encode('latin-1') if isinstance(secret, str) else secret
        enc = 'latin-1' if latin == key else 'utf-8'
    except UnicodeEncodeError:
        enc = 'utf-8'
    return key, enc


_APPS = {}


def _view(request):
    # request.session runs the factory; a factory crash (Pyramid does crash
    # on some malformed-but-signed cookies) is an exception like any other.
    env = request.environ
    env['harness.session_error'] = None
    try:
        session = request.session
    except Exception as exc:
        env['harness.session_error'] = exc
        raise
    env['harness.session'] = session
    env['harness.run'](session)
    return Response('ok')


def _exc_view(exc, request):
    # Registering an exception view is what makes Pyramid set
    # request.exception and still run response callbacks, i.e. what makes
    # set_on_exception observable.  Real apps almost always have one.
    request.environ['harness.exception'] = exc
    return Response('error: %s' % exc, status=500)


def app_for(kwargs):
    key = json.dumps(kwargs, sort_keys=True, default=repr)
    app = _APPS.get(key)
    if app is None:
        config = Configurator(
            session_factory=SignedCookieSessionFactory(**kwargs)
        )
        config.add_view(_view)
        config.add_view(_exc_view, context=Exception)
        app = config.make_wsgi_app()
        if len(_APPS) > 64:
            _APPS.clear()
        _APPS[key] = app
    return app


def run_cycle(kwargs, run, cookie=None, cookie_header=None, now=None,
              seed=None, cookie_name=None):
    """One real request/response cycle.

    ``run(session)`` is called inside the view.  Returns a dict with the
    session object (or None), the list of Set-Cookie headers, the
    exception raised in the view (if any) and any exception escaping the
    router (e.g. Pyramid's "Cookie value is too long" ValueError, raised
    from the response callback)."""
    CLOCK.fixed = now
    RANDOM.reseed(seed)
    headers = {}
    if cookie_header is not None:
        headers['Cookie'] = cookie_header
    elif cookie is not None:
        headers['Cookie'] = '%s=%s' % (cookie_name or kwargs.get('cookie_name', 'session'), cookie)
    req = Request.blank('/', headers=headers)
    req.environ['harness.run'] = run
    out = {'session': None, 'set_cookie': [], 'view_exception': None,
           'router_exception': None, 'session_error': None}
    # Built outside the try: a bad factory option (unknown hashalg, ...) is
    # a configuration error, not something that happened during the request.
    app = app_for(kwargs)
    try:
        resp = req.get_response(app)
        out['set_cookie'] = resp.headers.getall('Set-Cookie')
        out['status'] = resp.status_int
    except Exception as exc:
        out['router_exception'] = exc
    out['session'] = req.environ.get('harness.session')
    out['view_exception'] = req.environ.get('harness.exception')
    out['session_error'] = req.environ.get('harness.session_error')
    return out


def cookie_value_of(set_cookie_header):
    """The value part of ``name=value; attrs`` (webob never quotes the
    base64url alphabet, so no unquoting is needed)."""
    first = set_cookie_header.split(';', 1)[0]
    return first.split('=', 1)[1]


def payload_of(cookie_value, hashalg):
    """The JSON text inside a signed cookie (after the digest)."""
    import base64

    raw = base64.urlsafe_b64decode(cookie_value + '=' * (-len(cookie_value) % 4))
    return raw[hashlib.new(hashalg).digest_size:].decode('utf-8')


def describe(exc):
    return None if exc is None else '%s: %s' % (type(exc).__name__, exc)


def jsonable(value):
    """Make a value loaded from a hostile cookie safe for strict JSON output.

    Python's json accepts things serde_json (and UTF-8) cannot carry:
    * non-finite floats (NaN, Infinity) -> the strings "NaN", "Infinity",
      "-Infinity";
    * strings holding lone surrogates (from "\\ud800" escapes) -> the object
      {"$lone_surrogates": <the string as ASCII-escaped JSON text>}; dict
      keys with lone surrogates become that JSON text itself."""
    if isinstance(value, float) and not math.isfinite(value):
        return 'NaN' if math.isnan(value) else ('Infinity' if value > 0 else '-Infinity')
    if isinstance(value, str) and _has_surrogate(value):
        return {'$lone_surrogates': json.dumps(value)}
    if isinstance(value, dict):
        return {(json.dumps(k) if isinstance(k, str) and _has_surrogate(k) else k): jsonable(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _has_surrogate(s):
    return any('\ud800' <= c <= '\udfff' for c in s)
