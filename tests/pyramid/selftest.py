#!/usr/bin/env python3
"""Self-test of the Pyramid tooling (peer protocol + golden vectors).

    <venv python> tests/pyramid/selftest.py

Spawns peer.py exactly as the Rust tests do (a subprocess speaking JSON
lines), mints a cookie, reads it back, exercises the ops, then replays every
vector in tests/vectors/pyramid.json through the peer and checks real
Pyramid agrees with what the file says.  Finally checks the vector file is
what gen_vectors.py produces today.  Prints "N passed, M failed" and exits
non-zero on any failure.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, '..', 'vectors', 'pyramid.json')

passed = 0
failed = 0


def check(label, cond, detail=''):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAIL %s %s' % (label, detail))


class Peer:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'peer.py')],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            encoding='utf-8', bufsize=1)

    def ask(self, req):
        self.proc.stdin.write(json.dumps(req) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit('peer died (no response line)')
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        check('peer exits 0 on EOF', rc == 0, 'rc=%r' % rc)


def protocol_tests(peer):
    f = {'secret': 'secret'}
    now = 1700000000.25

    r = peer.ask({'factory': f, 'cookie': None, 'now': now, 'seed': 'self',
                  'ops': [{'op': 'set', 'key': 'a', 'value': [1, 'é']},
                          {'op': 'flash', 'msg': 'hi'},
                          {'op': 'flash', 'msg': 'oops', 'queue': 'error'},
                          {'op': 'get_csrf_token'}]})
    check('mint: no error', r['error'] is None, r['error'])
    check('mint: new', r['new'] is True)
    check('mint: set_cookie present', bool(r['set_cookie']))
    check('mint: accessed int', r['accessed'] == 1700000000 and isinstance(r['accessed'], int))
    check('mint: created float', r['created'] == now)
    token = r['results'][3]
    check('mint: csrf token is 40 hex', isinstance(token, str) and len(token) == 40
          and all(c in '0123456789abcdef' for c in token))
    cookie = r['cookie_value']
    check('mint: header starts with value',
          r['set_cookie'].startswith('session=%s; Path=/; SameSite=Lax' % cookie),
          r['set_cookie'])

    # Same second, reissue_time=0: reading must not rewrite (now - renewed
    # is 0.25 -> int(now) - renewed == 0, not > 0).
    r2 = peer.ask({'factory': f, 'cookie': cookie, 'now': now,
                   'ops': [{'op': 'get', 'key': 'a'},
                           {'op': 'peek_flash'},
                           {'op': 'get_csrf_token'},
                           {'op': 'get_state'}]})
    check('read back: no error', r2['error'] is None, r2['error'])
    check('read back: not new', r2['new'] is False)
    check('read back: value', r2['results'][0] == [1, 'é'], r2['results'])
    check('read back: peek_flash', r2['results'][1] == ['hi'])
    check('read back: same csrf', r2['results'][2] == token)
    check('read back: created kept', r2['created'] == now)
    check('read back: no Set-Cookie in same second', r2['set_cookie'] is None, r2['set_cookie'])

    # One second later the same read reissues.
    r3 = peer.ask({'factory': f, 'cookie': cookie, 'now': now + 1,
                   'ops': [{'op': 'get', 'key': 'a'}]})
    check('reissue next second', r3['set_cookie'] is not None)

    r4 = peer.ask({'factory': f, 'cookie': cookie, 'now': now,
                   'ops': [{'op': 'pop_flash', 'queue': 'error'},
                           {'op': 'pop_flash', 'queue': 'error'},
                           {'op': 'delete', 'key': 'a'}]})
    check('pop_flash', r4['results'][:2] == [['oops'], []], r4['results'])
    check('pop/delete wrote cookie', r4['set_cookie'] is not None)
    check('state after pop/delete', r4['state'] == {'_f_': ['hi'], '_csrft_': token}, r4['state'])

    r5 = peer.ask({'factory': f, 'cookie': cookie, 'now': now,
                   'ops': [{'op': 'invalidate'}]})
    check('invalidate empties and writes', r5['state'] == {} and r5['set_cookie'] is not None)
    check('invalidate keeps created', r5['created'] == now and r5['new'] is False)

    r6 = peer.ask({'factory': f, 'cookie': cookie + 'x', 'ops': [{'op': 'get_state'}]})
    check('tampered -> new empty', r6['new'] is True and r6['state'] == {} and r6['error'] is None)

    r7 = peer.ask({'factory': f, 'ops': [{'op': 'set', 'key': 'k', 'value': 'x' * 5000}]})
    check('too large -> error, no cookie', r7['set_cookie'] is None
          and 'too long' in (r7['error'] or ''), r7['error'])

    r8 = peer.ask({'factory': dict(f, timeout=10), 'cookie': cookie, 'now': now + 11,
                   'ops': [{'op': 'get_state'}]})
    check('timeout empties, keeps created, not new',
          r8['state'] == {} and r8['created'] == now and r8['new'] is False, r8)

    r9 = peer.ask({'factory': f, 'cookie_header': 'session=junk; session=%s' % cookie,
                   'now': now, 'ops': [{'op': 'get_state'}]})
    check('duplicate cookie: last wins', r9['new'] is False, r9)

    bad = peer.ask({'factory': {'secret': 's', 'hashalg': 'nope'}, 'ops': []})
    check('bad factory reported', bad['error'] is not None and bad['new'] is None)
    peer.proc.stdin.write('garbage\n')
    peer.proc.stdin.flush()
    check('garbage line reported', json.loads(peer.proc.stdout.readline())['error'] is not None)


def vector_tests(peer):
    with open(VECTORS, encoding='utf-8') as fh:
        doc = json.load(fh)
    check('vectors: pyramid version', doc['pyramid_version'] == '2.1')

    for v in doc['good']:
        r = peer.ask({'factory': {'secret': v['secret'], 'salt': v['salt'],
                                  'hashalg': v['hashalg']},
                      'cookie': v['cookie_value'], 'now': v['now'],
                      'ops': [{'op': 'get_state'}]})
        ok = (r['error'] is None and r['new'] is False and r['state'] == v['state']
              and r['created'] == v['created'] and r['renewed'] == v['accessed'])
        check('good/%s loads' % v['name'], ok, json.dumps(r)[:300])
        for sc in v['set_cookie']:
            if sc['header'] is not None:
                check('good/%s/%s header carries value' % (v['name'], sc['name']),
                      sc['header'].split(';')[0].split('=', 1)[1] == v['cookie_value'])

    for v in doc['bad']:
        r = peer.ask({'factory': {'secret': v['secret'], 'salt': v['salt'],
                                  'hashalg': v['hashalg']},
                      'cookie': v['cookie_value'], 'now': v['now'],
                      'ops': [{'op': 'get_state'}]})
        outcome = v['pyramid']['outcome']
        if outcome == 'fresh':
            ok = r['new'] is True and r['state'] == {} and r['error'] is None
        elif outcome == 'raised':
            ok = r['new'] is None and (r['error'] or '').startswith('session:')
        else:
            ok = r['new'] is False and r['state'] == v['pyramid']['state']
        check('bad/%s %s' % (v['name'], outcome), ok, json.dumps(r)[:300])

    for v in doc['lenient']:
        r = peer.ask({'factory': {'secret': v['secret'], 'salt': v['salt'],
                                  'hashalg': v['hashalg']},
                      'cookie': v['cookie_value'], 'now': v['now'],
                      'ops': [{'op': 'get_state'}]})
        check('lenient/%s' % v['name'], r['new'] is False
              and r['state'] == v['pyramid']['state'], json.dumps(r)[:300])

    for v in doc['load']:
        ops = [{'op': 'get', 'key': 'a'}] if v['touch'] else []
        r = peer.ask({'factory': v['factory'], 'cookie': v['cookie_value'],
                      'now': v['now'], 'ops': ops})
        e = v['expect']
        wrote = r['set_cookie'] is not None
        check('load/%s' % v['name'], r['new'] == e['new'] and r['state'] == e['state']
              and r['created'] == e['created'] and wrote == (e['payload_written'] is not None),
              json.dumps(r)[:300])


def main():
    peer = Peer()
    try:
        protocol_tests(peer)
        vector_tests(peer)
    finally:
        peer.close()
    rc = subprocess.run([sys.executable, os.path.join(HERE, 'gen_vectors.py'),
                         '--check', VECTORS], capture_output=True, text=True)
    check('vectors file is up to date (gen_vectors.py --check)', rc.returncode == 0,
          rc.stderr.strip())
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
