#!/usr/bin/env python3
"""CPython's side of the pickle codec tests (tests/tests/pickle_cpython.rs).

    <venv python> tests/pyramid/pickle_check.py CASES.jsonl

One JSON object per line of CASES.jsonl, each with "expr": a Python expression of data
(literals, set(), frozenset(...), bytearray(...), float('inf')), written by the Rust test
from a generated value.  Output, one JSON line per case on stdout:

  with "pickle": hex of what the Rust writer produced
      {"ok": bool, "why": str|null, "opcodes": [names]}: ok when pickle.loads gives a
      value of exactly the same types and contents as the expression (True is not 1, a
      tuple is not a list) and every opcode is one of DATA_OPCODES.
  without "pickle":
      {"dumps": {"2": hex, "3": hex, "4": hex, "5": hex}}: CPython's pickles of the
      expression's value at each protocol, for the Rust reader.

The expressions come from the test itself, so evaluating them is no risk; they are
evaluated with no builtins but the few data constructors.
"""

import json
import math
import pickle
import pickletools
import sys

DATA_OPCODES = {
    'PROTO', 'STOP', 'NONE', 'NEWTRUE', 'NEWFALSE', 'BININT1', 'BININT2', 'BININT',
    'LONG1', 'LONG4', 'BINFLOAT', 'SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8',
    'SHORT_BINBYTES', 'BINBYTES', 'BINBYTES8', 'BYTEARRAY8', 'EMPTY_LIST', 'EMPTY_TUPLE',
    'TUPLE1', 'TUPLE2', 'TUPLE3', 'TUPLE', 'EMPTY_DICT', 'EMPTY_SET', 'MARK', 'APPENDS',
    'SETITEMS', 'ADDITEMS', 'FROZENSET',
}

NAMES = {'__builtins__': {}, 'set': set, 'frozenset': frozenset, 'bytearray': bytearray,
         'float': float}


def same(a, b):
    """Equal values of exactly the same types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, (set, frozenset)):
        # Items of a generated set are ints, strs and tuples of them: equal means same.
        return a == b and all(type(x) is type(next(y for y in b if y == x)) for x in a)
    return a == b


def check(case):
    expected = eval(case['expr'], NAMES)
    data = bytes.fromhex(case['pickle'])
    opcodes = [op.name for op, _, _ in pickletools.genops(data)]
    stray = sorted(set(opcodes) - DATA_OPCODES)
    if stray:
        return {'ok': False, 'why': 'opcodes %s' % stray, 'opcodes': opcodes}
    got = pickle.loads(data)
    if not same(got, expected):
        return {'ok': False, 'why': 'loads gave %r' % (got,), 'opcodes': opcodes}
    return {'ok': True, 'why': None, 'opcodes': opcodes}


def dumps(case):
    value = eval(case['expr'], NAMES)
    return {'dumps': {str(p): pickle.dumps(value, p).hex() for p in (2, 3, 4, 5)}}


def main():
    with open(sys.argv[1]) as cases:
        for line in cases:
            case = json.loads(line)
            try:
                out = check(case) if 'pickle' in case else dumps(case)
            except Exception as exc:
                out = {'ok': False, 'why': '%s: %s' % (type(exc).__name__, exc)}
            sys.stdout.write(json.dumps(out) + '\n')


if __name__ == '__main__':
    main()
