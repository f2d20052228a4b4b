#!/usr/bin/env python3
"""Generate golden wire-format vectors from real Pyramid 2.1.

    python tests/pyramid/gen_vectors.py [OUT]      (default: tests/vectors/pyramid.json)
    python tests/pyramid/gen_vectors.py --check    (exit 1 if the file is stale)

Run it with the venv python printed by scripts/pyenv.sh.  The output is
deterministic (fixed clock, seeded CSRF randomness, frozen webob expires),
so re-running must produce a byte-identical file; --check verifies that.

Every cookie below is minted by a real request through a Pyramid app whose
session factory is ``pyramid.session.SignedCookieSessionFactory``: the view
mutates ``request.session``, the Router runs the response callback Pyramid
registered, and ``_set_cookie`` writes the Set-Cookie header via webob.
Every "bad"/"lenient"/"load" cookie is fed back through the same path and
the outcome is what Pyramid actually did, not what we think it should do.

JSON schema of the output (all strings are Unicode; file is UTF-8)
-----------------------------------------------------------------
{
  "schema": 1,
  "generator": "tests/pyramid/gen_vectors.py",
  "pyramid_version": "2.1", "webob_version": "1.8.11", "python_version": "3.11.x",
  "notes": [str, ...],                 # human notes on subtle rules

  "good": [ {                          # cookies Pyramid wrote; Rust must load them
    "name": str,                       # unique, stable identifier
    "secret": str, "salt": str,        # exactly as passed to the factory
    "hashalg": "sha1"|"sha256"|"sha384"|"sha512",
    "key_hex": str,                    # hex of the HMAC key webob derived (salt+secret)
    "key_encoding": "latin-1"|"utf-8", # how webob encoded salt+secret (see notes)
    "now": number,                     # time.time() during the request
    "cookie_value": str,               # exactly as in Set-Cookie (base64url, no '=')
    "payload": str,                    # exact JSON text that was signed (Python
                                       #   json.dumps: ", " / ": " separators,
                                       #   ensure_ascii=True, Python float repr)
    "accessed": number,                # payload[0] as Python wrote it (int or float)
    "created": number,                 # payload[1] as Python wrote it
    "state": object,                   # payload[2]
    "set_cookie": [ {                  # same session re-minted under cookie options
      "name": str,
      "options": {"cookie_name"?, "max_age"?, "path"?, "domain"?, "secure"?,
                  "httponly"?, "samesite"?},   # omitted = Pyramid default;
                                               # "samesite": null = attribute not sent
      "header": str|null,              # full Set-Cookie value webob produced
      "error": str|null                # e.g. SameSite=None without secure
    } ]                                # at least one entry ("default") per vector
  } ],

  "bad": [ {                           # Rust must treat these as a fresh, empty session
    "name": str, "category": str,      # category: tampered_signature, tampered_payload,
                                       #   wrong_secret, wrong_salt, wrong_hashalg,
                                       #   truncated, bad_base64, not_3_array,
                                       #   bad_timestamp, bad_state, bad_json
    "secret": str, "salt": str, "hashalg": str,   # the LOADER's settings
    "now": number,                     # clock during the load (matters: an
                                       #   expired cookie's state is replaced by
                                       #   {} before Pyramid inspects it)
    "cookie_value": str,
    "pyramid": {                       # what real Pyramid did with it
      "outcome": "fresh"|"loaded"|"raised",   # fresh = new empty session;
                                       #   loaded = Pyramid accepted it (new=false);
                                       #   raised = session factory raised (HTTP 500)
      "stage": "base64"|"signature"|"json"|"unpack"|"state"|null,
      "detail": str|null,              # the exception text at that stage
      "new": bool|null, "state": object|null
    }
  } ],

  "lenient": [ {                       # non-canonical cookies Pyramid still loads
    "name": str, "secret": str, "salt": str, "hashalg": str,
    "now": number, "cookie_value": str,
    "must_accept": bool,               # true only for '=' padding (design requires it)
    "note": str,
    "pyramid": {"outcome": ..., "new": bool, "created": number|str,
                "renewed": number|str, "state": object}
                                       # non-finite floats appear as "NaN",
                                       #   "Infinity", "-Infinity"; a string with
                                       #   lone surrogates as {"$lone_surrogates":
                                       #   "<its ASCII-escaped JSON text>"}
  } ],

  "load": [ {                          # timeout / reissue policy on load
    "name": str,
    "factory": {"secret", "salt", "hashalg", "timeout": int|null, "reissue_time": int|null},
    "now": number,
    "cookie_value": str,
    "touch": bool,                     # view called session.get('a') (an "access")
    "expect": {"new": bool, "created": number, "renewed": number,
               "state": object, "payload_written": str|null}
  } ]
}
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402  (path set up above)
from harness import (  # noqa: E402
    cookie_value_of, describe, jsonable, key_bytes, payload_of, run_cycle,
    state_of,
)
from webob.cookies import SignedSerializer  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, '..', 'vectors', 'pyramid.json')
SALT = 'pyramid.session.'
NOW = 1700000000.25   # fractional on purpose: created (float) != accessed (int)

# A 1024-byte secret, longer than every hash's block size, so HMAC hashes the
# key first.  Derived, not random, to keep the file stable.
SECRET_1024 = ''.join(
    hashlib.sha512(str(i).encode()).hexdigest() for i in range(8)
)
assert len(SECRET_1024) == 1024

STATES = {
    'empty_via_delete': None,   # built by ops below
    'ints': {'a': 1, 'b': -2, 'zero': 0, 'count': 42},
    'floats': {'f': 0.1, 'g': -2.5, 'tiny': 1e-07, 'big': 1e16, 'whole': 3.0,
               'negzero': -0.0, 'huge': 1.5e300, 'third': 1 / 3},
    'nested': {'user': {'id': 7, 'roles': ['admin', 'ops'],
                        'prefs': {'theme': 'dark', 'tz': None}},
               'cart': [{'sku': 'A1', 'qty': 2}, {'sku': 'B2', 'qty': 1}]},
    'non_ascii': {'greeting': 'héllo ✓ 日本', 'emoji': '😀', 'ключ': 'значение',
                  'escapes': 'tab\there\nnl "q" \\ / \u0000 \u007f \u2028'},
    'large_ints': {'2^53+1': 9007199254740993, 'i64_max': 9223372036854775807,
                   'i64_min': -9223372036854775808,
                   'u64_max': 18446744073709551615},
    'beyond_u64': {'n': 10 ** 30, 'neg': -(10 ** 30)},
    'bools_null': {'t': True, 'f': False, 'n': None},
    'lists': {'empty': [], 'mixed': [1, 'two', 3.5, None, True, [], {}],
              'deep': [[1, [2, [3, [4]]]]]},
    'empty_string_key': {'': 'empty key', ' ': 'space key'},
}

# Cookie option sets re-minted for a few vectors.  Values are what a user
# would pass to SignedCookieSessionFactory.
OPTION_SETS = [
    ('default', {}),
    ('max_age_100', {'max_age': 100}),
    ('max_age_0', {'max_age': 0}),
    ('path', {'path': '/app'}),
    ('domain', {'domain': 'example.com'}),
    ('secure', {'secure': True}),
    ('httponly', {'httponly': True}),
    ('samesite_strict', {'samesite': 'Strict'}),
    ('samesite_lax_explicit', {'samesite': 'Lax'}),
    ('samesite_none_secure', {'samesite': 'None', 'secure': True}),
    ('samesite_none_insecure', {'samesite': 'None'}),   # webob refuses
    ('samesite_not_sent', {'samesite': None}),
    ('cookie_name', {'cookie_name': 'sid'}),
    ('everything', {'max_age': 3600, 'path': '/p', 'domain': '.example.com',
                    'secure': True, 'httponly': True, 'samesite': 'Strict'}),
]


def set_items(state):
    def run(session):
        # update() is one manage_changed call, like a view doing
        # session.update(...); per-key assignment would behave the same.
        session.update(state)
    return run


def mint(name, secret, salt, hashalg, run, now=NOW, options=None, seed=None):
    """Run one cycle and return (set_cookie headers, error)."""
    kwargs = {'secret': secret, 'salt': salt, 'hashalg': hashalg}
    kwargs.update(options or {})
    out = run_cycle(kwargs, run, now=now, seed=seed or name)
    err = out['router_exception'] or out['view_exception']
    return out, err


def good_vector(name, secret, run, salt=SALT, hashalg='sha512', now=NOW,
                option_sets=(('default', {}),)):
    out, err = mint(name, secret, salt, hashalg, run, now=now)
    if err is not None or len(out['set_cookie']) != 1:
        raise SystemExit('%s: expected one Set-Cookie, got %r / %s'
                         % (name, out['set_cookie'], describe(err)))
    value = cookie_value_of(out['set_cookie'][0])
    payload = payload_of(value, hashalg)
    accessed, created, state = json.loads(payload)
    key, enc = key_bytes(secret, salt)
    vec = {
        'name': name, 'secret': secret, 'salt': salt, 'hashalg': hashalg,
        'key_hex': key.hex(), 'key_encoding': enc, 'now': now,
        'cookie_value': value, 'payload': payload,
        'accessed': accessed, 'created': created, 'state': state,
        'set_cookie': [],
    }
    for opt_name, opts in option_sets:
        o, e = mint(name, secret, salt, hashalg, run, now=now, options=opts)
        header = o['set_cookie'][0] if o['set_cookie'] else None
        if header is not None and cookie_value_of(header) != value:
            # Same state, same clock, same seed: the value must not depend
            # on cookie attributes.  If it does, something is not frozen.
            raise SystemExit('%s/%s: cookie value differs across options'
                             % (name, opt_name))
        vec['set_cookie'].append({'name': opt_name, 'options': opts,
                                  'header': header, 'error': describe(e)})
    # Round trip: the minted cookie must load back in Pyramid unchanged.
    back = load(value, secret, salt, hashalg, now=now)
    if back['outcome'] != 'loaded' or back['state'] != state:
        raise SystemExit('%s: does not load back: %r' % (name, back))
    return vec


def load(cookie_value, secret, salt, hashalg, now=NOW, timeout=1200,
         reissue_time=0, touch=False):
    """Feed a cookie to a real Pyramid request and report what happened."""
    def run(session):
        if touch:
            session.get('a')
    kwargs = {'secret': secret, 'salt': salt, 'hashalg': hashalg,
              'timeout': timeout, 'reissue_time': reissue_time}
    out = run_cycle(kwargs, run, cookie=cookie_value, now=now)
    s = out['session']
    if out['session_error'] is not None:
        return {'outcome': 'raised', 'detail': describe(out['session_error']),
                'new': None, 'state': None}
    return {'outcome': 'fresh' if s.new else 'loaded',
            'new': s.new, 'created': s.created, 'renewed': s.renewed,
            'state': state_of(s), 'set_cookie': out['set_cookie']}


def diagnose(cookie_value, secret, salt, hashalg):
    """Which stage of Pyramid's loader rejects a cookie, and its message.

    Mirrors the order of CookieSession.__init__ and SignedSerializer.loads
    (base64 -> HMAC -> JSON -> 3-tuple unpack -> float() -> dict()), calling
    the same library functions so the messages are Pyramid's/webob's own."""
    ser = SignedSerializer(secret, salt, hashalg)
    raw = cookie_value.encode('latin-1')
    try:
        b64 = raw + b'=' * (-len(raw) % 4)
        fstruct = base64.urlsafe_b64decode(b64)
    except Exception as exc:
        # webob wraps binascii.Error this way before Pyramid swallows it.
        return 'base64', 'ValueError: Badly formed base64 data: %s' % exc
    sig = hmac.new(ser.salted_secret, fstruct[ser.digest_size:], ser.digestmod).digest()
    if not hmac.compare_digest(sig, fstruct[:ser.digest_size]):
        return 'signature', 'ValueError: Invalid signature'
    try:
        value = ser.loads(raw)
    except ValueError as exc:
        return 'json', describe(exc)
    try:
        rval, cval, sval = value
        float(rval)
        float(cval)
    except (TypeError, ValueError) as exc:
        return 'unpack', describe(exc)
    except Exception as exc:   # e.g. OverflowError: Pyramid does not catch it
        return 'unpack', describe(exc)
    try:
        dict(sval)
    except Exception as exc:
        return 'state', describe(exc)
    if not isinstance(sval, dict):
        # Pyramid does dict.__init__(self, state): any iterable of pairs
        # (or an empty string/list) "works" and loads as a non-new session.
        return 'state', 'state is a JSON %s, accepted by dict()' % type(sval).__name__
    return None, None


def sign(payload, secret='secret', salt=SALT, hashalg='sha512', pad=False):
    """Sign arbitrary bytes the way webob does; used only to build malformed
    cookies Pyramid itself would never write (the good ones are minted)."""
    key, _ = key_bytes(secret, salt)
    sig = hmac.new(key, payload, lambda d=b'': hashlib.new(hashalg, d)).digest()
    out = base64.urlsafe_b64encode(sig + payload).decode('ascii')
    return out if pad else out.rstrip('=')


def bad_vector(name, category, cookie_value, secret='secret', salt=SALT,
               hashalg='sha512'):
    res = load(cookie_value, secret, salt, hashalg)
    stage, detail = diagnose(cookie_value, secret, salt, hashalg)
    if res['outcome'] == 'raised':
        detail = res['detail']
    return {
        'name': name, 'category': category, 'secret': secret, 'salt': salt,
        'hashalg': hashalg, 'now': NOW, 'cookie_value': cookie_value,
        'pyramid': {'outcome': res['outcome'], 'stage': stage, 'detail': detail,
                    'new': res['new'], 'state': jsonable(res['state'])},
    }


def lenient_vector(name, cookie_value, note, must_accept=False):
    res = load(cookie_value, 'secret', SALT, 'sha512')
    if res['outcome'] != 'loaded':
        raise SystemExit('%s: expected Pyramid to accept it, got %r' % (name, res))
    return {
        'name': name, 'secret': 'secret', 'salt': SALT, 'hashalg': 'sha512',
        'now': NOW, 'cookie_value': cookie_value, 'must_accept': must_accept,
        'note': note,
        'pyramid': jsonable({'outcome': res['outcome'], 'new': res['new'],
                             'created': res['created'], 'renewed': res['renewed'],
                             'state': res['state']}),
    }


def build():
    good = []

    # --- states, default settings (sha512, default salt) ---
    for sname, state in STATES.items():
        if state is None:
            continue
        opts = OPTION_SETS if sname in ('ints', 'non_ascii') else OPTION_SETS[:1]
        good.append(good_vector('state_' + sname, 'secret', set_items(state),
                                option_sets=opts))

    def empty_via_delete(session):
        session['x'] = 1
        del session['x']
    good.append(good_vector('state_empty_via_delete', 'secret', empty_via_delete))

    # changed() alone is not wrapped in manage_changed, so accessed keeps
    # the session's initial value: for a new session that is time.time(),
    # a float.  This is the one way Pyramid writes a float accessed.
    good.append(good_vector('accessed_float_changed_only', 'secret',
                            lambda s: s.changed()))

    def flashes(session):
        session.flash('x')
        session.flash('y', 'error')
        session.flash('y', 'error', allow_duplicate=False)   # no-op: duplicate
        session.flash({'structured': [1, 2]}, 'info')
    good.append(good_vector('flash', 'secret', flashes))

    good.append(good_vector('csrf_token', 'secret',
                            lambda s: s.get_csrf_token(),
                            option_sets=OPTION_SETS))

    def kitchen_sink(session):
        session.update(STATES['nested'])
        session['greeting'] = STATES['non_ascii']['greeting']
        session.flash('saved')
        session.get_csrf_token()
    good.append(good_vector('kitchen_sink', 'secret', kitchen_sink,
                            now=1712345678.901234))

    # --- every hash algorithm, default and custom salt ---
    base_state = set_items({'user_id': 42, 'lang': 'fr'})
    for alg in ('sha1', 'sha256', 'sha384', 'sha512'):
        good.append(good_vector('hash_%s_default_salt' % alg, 'secret',
                                base_state, hashalg=alg))
        good.append(good_vector('hash_%s_custom_salt' % alg, 'secret',
                                base_state, salt='my.app.', hashalg=alg))
    good.append(good_vector('empty_salt', 'secret', base_state, salt=''))

    # --- secrets around and beyond HMAC block sizes (64 for sha1/256,
    # 128 for sha384/512); beyond it HMAC hashes the key first ---
    for alg in ('sha1', 'sha256', 'sha512'):
        good.append(good_vector('secret_1024_%s' % alg, SECRET_1024,
                                base_state, hashalg=alg))
    # key = salt + secret, so the block boundary is on the combined length.
    for total in (128, 129):
        sec = 'k' * (total - len(SALT))
        good.append(good_vector('key_len_%d_sha512' % total, sec, base_state))
    good.append(good_vector('empty_secret', '', base_state))

    # --- non-ASCII secrets/salts: webob tries latin-1 for salt AND secret
    # together and falls back to utf-8 for BOTH if either fails ---
    good.append(good_vector('secret_latin1', 'sécret', base_state))
    good.append(good_vector('secret_non_latin1', '秘密 sécret', base_state))
    good.append(good_vector('salt_latin1_secret_ascii', 'secret', base_state,
                            salt='sél.'))
    good.append(good_vector('salt_latin1_secret_non_latin1', '日本', base_state,
                            salt='sél.'))

    # --- times ---
    good.append(good_vector('time_whole_second', 'secret', base_state,
                            now=1700000000.0))
    good.append(good_vector('time_early', 'secret', base_state, now=86400.5))

    # --- bad cookies ---
    ok = good_vector('bad_base', 'secret', set_items({'a': 1}))
    ok_value = ok['cookie_value']
    raw = base64.urlsafe_b64decode(ok_value + '=' * (-len(ok_value) % 4))

    def enc(b):
        return base64.urlsafe_b64encode(b).decode('ascii').rstrip('=')

    payload = ok['payload'].encode('utf-8')
    bad = [
        bad_vector('tampered_signature_first_byte', 'tampered_signature',
                   enc(bytes([raw[0] ^ 1]) + raw[1:])),
        bad_vector('tampered_signature_last_byte', 'tampered_signature',
                   enc(raw[:63] + bytes([raw[63] ^ 0x80]) + raw[64:])),
        bad_vector('tampered_payload', 'tampered_payload',
                   enc(raw[:64] + payload.replace(b'"a": 1', b'"a": 2'))),
        bad_vector('signature_only', 'truncated', enc(raw[:64])),
        bad_vector('wrong_secret', 'wrong_secret', ok_value, secret='Secret'),
        bad_vector('wrong_salt', 'wrong_salt', ok_value, salt='pyramid.session'),
        bad_vector('wrong_hashalg_sha512_as_sha256', 'wrong_hashalg', ok_value,
                   hashalg='sha256'),
        bad_vector('wrong_hashalg_sha1_as_sha512', 'wrong_hashalg',
                   sign(payload, hashalg='sha1')),
        bad_vector('latin1_secret_signed_as_utf8', 'wrong_secret',
                   sign(payload, secret='sécret'.encode('utf-8').decode('latin-1')),
                   secret='sécret'),
        bad_vector('truncated_1', 'truncated', ok_value[:-1]),
        bad_vector('truncated_half', 'truncated', ok_value[:len(ok_value) // 2]),
        bad_vector('shorter_than_digest', 'truncated', enc(b' ' * 63)),
        bad_vector('empty', 'truncated', ''),
        bad_vector('one_char', 'bad_base64', 'A'),
        bad_vector('extra_char', 'bad_base64', ok_value + 'A'),
        bad_vector('junk_breaks_padding', 'bad_base64', '.' + ok_value),
        bad_vector('not_base64_at_all', 'bad_base64', '!!!!'),
        bad_vector('json_truncated', 'bad_json', sign(payload[:-1])),
        bad_vector('json_trailing_garbage', 'bad_json', sign(payload + b' x')),
        bad_vector('json_invalid_utf8', 'bad_json',
                   sign(b'[1700000000, 1.5, {"a": "\xff"}]')),
        bad_vector('json_bom', 'bad_json',
                   sign(b'\xef\xbb\xbf[1700000000, 1.5, {"a": 1}]')),
        bad_vector('json_empty', 'bad_json', sign(b'')),
        bad_vector('array_2', 'not_3_array', sign(b'[1700000000, 1.5]')),
        bad_vector('array_4', 'not_3_array', sign(b'[1700000000, 1.5, {}, 4]')),
        bad_vector('object_3_keys', 'not_3_array',
                   sign(b'{"x": 1, "y": 2, "z": 3}')),
        bad_vector('string_abc', 'not_3_array', sign(b'"abc"')),
        bad_vector('number', 'not_3_array', sign(b'1700000000')),
        bad_vector('null', 'not_3_array', sign(b'null')),
        bad_vector('timestamp_null', 'bad_timestamp',
                   sign(b'[null, 1.5, {"a": 1}]')),
        bad_vector('timestamp_word', 'bad_timestamp',
                   sign(b'["soon", 1.5, {"a": 1}]')),
        bad_vector('timestamp_list', 'bad_timestamp',
                   sign(b'[[1700000000], 1.5, {"a": 1}]')),
        bad_vector('created_object', 'bad_timestamp',
                   sign(b'[1700000000, {}, {"a": 1}]')),
        bad_vector('timestamp_huge_int', 'bad_timestamp',
                   sign(b'[1' + b'0' * 400 + b', 1.5, {"a": 1}]')),
        bad_vector('state_null', 'bad_state', sign(b'[1700000000, 1.5, null]')),
        bad_vector('state_int', 'bad_state', sign(b'[1700000000, 1.5, 5]')),
        bad_vector('state_string', 'bad_state', sign(b'[1700000000, 1.5, "ab"]')),
        bad_vector('state_empty_list', 'bad_state', sign(b'[1700000000, 1.5, []]')),
        bad_vector('state_pair_list', 'bad_state',
                   sign(b'[1700000000, 1.5, [["a", 1]]]')),
        bad_vector('state_empty_string', 'bad_state', sign(b'[1700000000, 1.5, ""]')),
    ]

    # --- non-canonical but accepted by Pyramid ---
    padded = sign(payload, pad=True)
    assert padded != ok_value, 'pick a payload whose length needs padding'
    std_alphabet = ok_value.replace('-', '+').replace('_', '/')
    lenient = [
        lenient_vector('padded', padded,
                       "'=' padding present; Pyramid strips nothing but "
                       're-pads by length; design requires accepting it',
                       must_accept=True),
        lenient_vector('over_padded', ok_value + '==',
                       'excess padding is ignored by Python base64'),
        lenient_vector('std_alphabet', std_alphabet,
                       "'+' and '/' are accepted by urlsafe_b64decode"),
        lenient_vector('junk_inside', ok_value[:40] + '****' + ok_value[40:],
                       'non-alphabet characters are discarded (non-strict base64)'),
        lenient_vector('nonzero_trailing_bits', _flip_trailing_bits(ok_value),
                       'unused low bits of the last base64 char are ignored'),
        lenient_vector('timestamps_as_strings',
                       sign(b'["1700000000", "1.5", {"a": 1}]'),
                       'float("1700000000") succeeds, so strings load'),
        lenient_vector('timestamps_bool', sign(b'[true, false, {"a": 1}]'),
                       'float(True) == 1.0: loads, then times out (state emptied)'),
        lenient_vector('timestamps_nan', sign(b'[NaN, NaN, {"a": 1}]'),
                       'json accepts NaN; now - NaN > timeout is False: never expires'),
        lenient_vector('timestamps_infinity', sign(b'[Infinity, -Infinity, {"a": 1}]'),
                       'json accepts Infinity; renewed=inf never expires'),
        lenient_vector('timestamps_1e400', sign(b'[1e400, 1.5, {"a": 1}]'),
                       'json parses 1e400 as inf'),
        lenient_vector('renewed_in_future', sign(b'[1800000000, 1.5, {"a": 1}]'),
                       'a future renewed never times out'),
        lenient_vector('duplicate_keys', sign(b'[1700000000, 1.5, {"a": 1, "a": 2}]'),
                       'last duplicate key wins'),
        lenient_vector('lone_surrogate', sign(b'[1700000000, 1.5, {"a": "\\ud800"}]'),
                       'json accepts a lone surrogate escape (serde_json does not)'),
        lenient_vector('whitespace_around', sign(b'  [1700000000, 1.5, {"a": 1}]\n'),
                       'json.loads strips surrounding whitespace'),
    ]

    # --- timeout / reissue policy ---
    loads = []

    def load_case(name, renewed, created, now, timeout=1200, reissue_time=0,
                  touch=True, state=None):
        pl = json.dumps([renewed, created, state or {'a': 1}]).encode()
        value = sign(pl)
        res = load(value, 'secret', SALT, 'sha512', now=now, timeout=timeout,
                   reissue_time=reissue_time, touch=touch)
        written = (payload_of(cookie_value_of(res['set_cookie'][0]), 'sha512')
                   if res['set_cookie'] else None)
        loads.append({
            'name': name,
            'factory': {'secret': 'secret', 'salt': SALT, 'hashalg': 'sha512',
                        'timeout': timeout, 'reissue_time': reissue_time},
            'now': now, 'cookie_value': value, 'touch': touch,
            'expect': {'new': res['new'], 'created': res['created'],
                       'renewed': res['renewed'], 'state': res['state'],
                       'payload_written': written},
        })

    load_case('fresh_no_touch', 1700000000, 1699999000.5, NOW, touch=False)
    load_case('same_second_touch_no_reissue', 1700000000, 1699999000.5, 1700000000.9)
    load_case('next_second_touch_reissues', 1700000000, 1699999000.5, 1700000001.0)
    load_case('reissue_time_none_never', 1600000000, 1600000000.5, NOW,
              timeout=None, reissue_time=None)
    load_case('reissue_time_5_within', 1699999995, 1699999000.5, NOW, reissue_time=5)
    load_case('reissue_time_5_beyond', 1699999994, 1699999000.5, NOW, reissue_time=5)
    load_case('timeout_exact_boundary_keeps', 1699998800.25, 1699990000.5, NOW)
    load_case('timeout_exceeded_empties', 1699998800, 1699990000.5, NOW, touch=False)
    load_case('timeout_exceeded_touch_rewrites_empty', 1699998800, 1699990000.5, NOW)
    load_case('timeout_none_old_cookie', 1000, 1000.5, NOW, timeout=None)

    return {
        'schema': 1,
        'generator': 'tests/pyramid/gen_vectors.py',
        'pyramid_version': harness.PYRAMID_VERSION,
        'webob_version': harness.WEBOB_VERSION,
        'python_version': platform.python_version(),
        'notes': NOTES,
        'good': good,
        'bad': bad,
        'lenient': lenient,
        'load': loads,
    }


NOTES = [
    'HMAC key = salt + secret. webob first tries latin-1 for BOTH; if either '
    'raises UnicodeEncodeError it uses utf-8 for BOTH (so a latin-1 salt is '
    'utf-8 encoded when the secret is not latin-1). key_hex is authoritative.',
    'The signed payload is Python json.dumps output: separators ", " and ": ", '
    'ensure_ascii=True (non-ASCII as \\uXXXX, astral chars as surrogate '
    'pairs), floats in repr form (1e-07, 1e+16). A different serializer '
    'produces a different but equally valid cookie: compare state, not bytes, '
    'unless the implementation reproduces this formatting.',
    'accessed is int(time.time()) after any dict/flash/csrf call; it is a '
    'float only when the cookie is written via a bare changed(), which keeps '
    'the initial value: time.time() for a new session (see '
    'accessed_float_changed_only), float(cookie accessed) for a loaded one '
    '(an int 1699999990 is re-written as 1699999990.0). created is time.time() (float) for a new '
    'session and float(cookie created) for a loaded one (an int 0 is '
    're-written as 0.0).',
    'Set-Cookie attribute order (webob): name=value; Domain; Max-Age; Path; '
    'expires; secure; HttpOnly; SameSite. expires = now + max_age formatted '
    'as "Wdy, DD-Mon-YYYY HH:MM:SS GMT" (dashes). SameSite=None without '
    'secure raises ValueError in webob.',
    'Cookie value length limit: Pyramid raises ValueError("Cookie value is '
    'too long to store (N bytes)") when len(value) > 4064; no header is set.',
    'bad_state cookies with outcome "raised" crash Pyramid\'s session factory '
    '(HTTP 500) only while the cookie is not timed out: an expired cookie\'s '
    'state is replaced by {} before dict() sees it. Rust should return a '
    'fresh session for all of them.',
]


def _flip_trailing_bits(value):
    alphabet = ('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                '0123456789-_')
    unused = {2: 4, 3: 2}.get(len(value) % 4)
    if unused is None:
        raise SystemExit('payload length leaves no unused bits; adjust state')
    last = alphabet.index(value[-1])
    return value[:-1] + alphabet[last | ((1 << unused) - 1)]


def render(doc):
    # ensure_ascii=False keeps the file readable; allow_nan=False guarantees
    # strict JSON (every non-finite float must have gone through jsonable()).
    return json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out', nargs='?', default=DEFAULT_OUT)
    ap.add_argument('--check', action='store_true',
                    help='do not write; fail if OUT differs from a fresh run')
    args = ap.parse_args()
    text = render(build())
    out = os.path.normpath(args.out)
    if args.check:
        try:
            with open(out, encoding='utf-8') as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print('%s is stale: re-run gen_vectors.py' % out, file=sys.stderr)
            sys.exit(1)
        print('%s is up to date' % out)
        return
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as f:
        f.write(text)
    print('wrote %s' % out)


if __name__ == '__main__':
    main()
