"""Time the same request cycle through real Pyramid 2.1's SignedCookieSessionFactory.

Reads the cookies `cargo bench -p session --bench compare` wrote to
target/bench-cookies.json, and for each runs what a Pyramid view does: build the session
from the request's cookie, read `user_id`, bump `views`, and write the Set-Cookie header
(Pyramid's own `_set_cookie`). Prints one JSON line per cookie, like the Rust side.
"""

import json
import os
import sys
import timeit
from unittest import mock

from pyramid.request import Request
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    with open(os.path.join(ROOT, "target", "bench-cookies.json")) as f:
        record = json.load(f)
    now = record["now"]
    # Freeze time so the cookies never time out and every run does the same work.
    with mock.patch("pyramid.session.time.time", return_value=now):
        for name, cookie in record["cookies"].items():
            size, hashalg = name.split("/")
            factory = SignedCookieSessionFactory(record["secret"], hashalg=hashalg)
            # One request, built outside the timed loop: only the session's work is timed.
            request = Request.blank("/", headers={"Cookie": "session=" + cookie})

            def cycle():
                session = factory(request)
                session.get("user_id")
                session["views"] = session.get("views", 0) + 1
                session._set_cookie(Response())

            try:
                cycle()
            except ValueError as err:
                # Python's json.dumps writes ", " and ": ": the same state can be too
                # large for Pyramid's cookie while it fits in ours.
                print(json.dumps({"impl": "pyramid", "hash": hashalg, "size": size,
                                  "ns": None, "error": str(err)}))
                continue
            number = 2000
            runs = timeit.repeat(cycle, number=number, repeat=7)
            ns = sorted(runs)[len(runs) // 2] / number * 1e9
            print(json.dumps({"impl": "pyramid", "hash": hashalg, "size": size, "ns": round(ns)}))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
