#!/usr/bin/env python3
"""The Pyramid app of app.py on Beaker sessions (pyramid_beaker) instead of
pyramid_session_redis: it shares its sessions with the Rust tea shop started
with the same SESSION_STORE.

    SESSION_SECRET=... SESSION_STORE=beaker+file:///tmp/sessions \
        SESSION_SERIALIZER=pickle PORT=6543 python examples/pyramid_app/beaker_app.py

SESSION_STORE is the shop's: beaker+file:///DIR (session.type = file),
beaker+redis://HOST:PORT/DB (ext:redis), beaker+sqlite://PATH and
beaker+postgres://... (ext:database). SESSION_SERIALIZER is
session.data_serializer (pickle or json), SESSION_TIMEOUT session.timeout.
Needs beaker==1.14.1, pyramid_beaker==0.9 (and SQLAlchemy, psycopg2 for
ext:database): tests/pyramid/requirements.txt pins them. Same routes and
session keys ("user", "cart") as app.py.
"""

import os
import sys

import pyramid_beaker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app  # noqa: E402  (the routes and views, shared)


def settings_from_env():
    store = os.environ.get("SESSION_STORE", "")
    if not store.startswith("beaker+"):
        sys.exit("SESSION_STORE must start with beaker+")
    url = store[len("beaker+"):]
    settings = {
        "session.secret": os.environ["SESSION_SECRET"],
        "session.data_serializer": os.environ.get("SESSION_SERIALIZER", "pickle"),
    }
    if os.environ.get("SESSION_TIMEOUT"):
        settings["session.timeout"] = os.environ["SESSION_TIMEOUT"]
    if url.startswith("file://"):
        settings.update({"session.type": "file", "session.data_dir": url[len("file://"):]})
    elif url.startswith(("redis://", "rediss://")):
        settings.update({"session.type": "ext:redis", "session.url": url})
    elif url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        settings.update({"session.type": "ext:database", "session.url": "sqlite:///" + path})
    elif url.startswith(("postgres://", "postgresql://")):
        settings.update({
            "session.type": "ext:database",
            "session.url": "postgresql://" + url.split("://", 1)[1],
        })
    else:
        sys.exit("SESSION_STORE: unknown Beaker back end")
    return settings


def session_factory():
    return pyramid_beaker.session_factory_from_settings(settings_from_env())


if __name__ == "__main__":
    # app.make_app() builds its Configurator with the module's session_factory.
    app.session_factory = session_factory
    app.main()
