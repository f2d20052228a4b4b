"""Time the same request cycles through real Pyramid 2.1's SignedCookieSessionFactory.

Reads the cookies `cargo bench -p typed-sessions --bench compare` wrote to
target/bench-cookies.json, and for each runs what a Pyramid view does, in two workloads:

- views: build the session from the request's cookie, read `user_id`, bump `views`;
- cart: build the session, change the first cart line's quantity (a nested value, so the
  view calls `changed()`, as Pyramid requires);

then writes the Set-Cookie header (Pyramid's own `_set_cookie`). Prints one JSON line per
cookie and workload, like the Rust side.

Pyramid reads the time through `time.time()` in `pyramid.session`. The clock is frozen at the
cookies' time once, before any timing, by giving that module a `time` object whose `time()`
returns a constant: a plain function call, as cheap as the real one, and no mock machinery
inside the timed loop. Times are the thread's CPU time (`time.thread_time`), as on the Rust
side.
"""

import json
import os
import sys
import time
import timeit
import types

import pyramid.session
from pyramid.request import Request
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def views(session):
    session.get("user_id")
    session["views"] = session.get("views", 0) + 1


def cart(session):
    session["cart"][0]["qty"] += 1
    session.changed()


def main():
    with open(os.path.join(ROOT, "target", "bench-cookies.json")) as f:
        record = json.load(f)
    now = record["now"]
    # Freeze time so the cookies never time out and every run does the same work.
    pyramid.session.time = types.SimpleNamespace(time=lambda: now)
    for name, cookie in record["cookies"].items():
        size, hashalg = name.split("/")
        factory = SignedCookieSessionFactory(record["secret"], hashalg=hashalg)
        for workload, change in (("views", views), ("cart", cart)):
            # One request, built outside the timed loop: only the session's work is timed
            # (WebOb caches the parsed cookies per header value, as a real request would
            # parse them once).
            request = Request.blank("/", headers={"Cookie": "session=" + cookie})
            response = Response()
            headers = list(response.headerlist)

            def cycle():
                session = factory(request)
                change(session)
                response.headerlist = headers[:]
                session._set_cookie(response)

            row = {"impl": "pyramid", "hash": hashalg, "size": size, "workload": workload}
            try:
                cycle()
            except ValueError as err:
                # Python's json.dumps writes ", " and ": ": the same state can be too
                # large for Pyramid's cookie while it fits in ours.
                print(json.dumps({**row, "ns": None, "error": str(err)}))
                continue
            assert "Set-Cookie" in response.headers
            # SMOKE=1 (bench/smoke): a check that every figure is produced.
            smoke = bool(os.environ.get("SMOKE"))
            number = 20 if smoke else 2000
            # The thread's CPU time, as the Rust side measures: time spent waiting for a
            # core on a busy machine does not count.
            runs = timeit.repeat(cycle, number=number, repeat=3 if smoke else 7, timer=time.thread_time)
            ns = sorted(runs)[len(runs) // 2] / number * 1e9
            print(json.dumps({**row, "ns": round(ns)}))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
