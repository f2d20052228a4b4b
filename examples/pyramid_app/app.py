#!/usr/bin/env python3
"""A small Pyramid app on pyramid_session_redis that shares its sessions with
the Rust tea shop (SESSION_STORE=pyramid-session-redis+redis://...).

    SESSION_SECRET=... REDIS_URL=redis://127.0.0.1:6379/0 \
        SESSION_SERIALIZER=pickle PORT=6543 python examples/pyramid_app/app.py

With SESSION_ENCRYPTION_KEY (64 hex digits) it keeps its sessions in
pyramid_nacl_session's encrypted cookie instead (pickled by default, as the
package does; SESSION_SERIALIZER=json for Pyramid's JSONSerializer), as the shop
does with the same variable.

Needs pyramid==2.1, pyramid_session_redis==1.8.1 (tests/pyramid/requirements.txt
pins them; scripts/pyenv.sh makes a venv with them). Serves on 127.0.0.1;
prints "listening on http://127.0.0.1:PORT/" once it accepts requests (PORT=0:
a free port).

The session keys are the shop's: "user" (the signed-in name) and "cart" (a
list of {"product": id, "qty": n}).

  GET  /               the user and the cart, as HTML
  GET  /session.json   {"user": ..., "cart": [...]}
  POST /login          form "username": signs in
  POST /cart/add       form "product": one more of it in the cart
  POST /logout         invalidates the session
"""

import json
import os
import sys
from html import escape
from wsgiref.simple_server import WSGIRequestHandler, make_server

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response
from pyramid_session_redis import RedisSessionFactory


def json_serialize(data):
    # The package md5-hashes what `serialize` returns: it must be bytes.
    return json.dumps(data).encode("utf-8")


def nacl_session_factory(key_hex, serializer):
    import binascii

    from pyramid.session import JSONSerializer
    from pyramid_nacl_session import EncryptedCookieSessionFactory

    options = {}
    if serializer == "json":
        options["serializer"] = JSONSerializer()
    elif serializer != "pickle":
        sys.exit("SESSION_SERIALIZER must be pickle or json")
    return EncryptedCookieSessionFactory(binascii.unhexlify(key_hex), **options)


def session_factory():
    serializer = os.environ.get("SESSION_SERIALIZER", "pickle")
    if os.environ.get("SESSION_ENCRYPTION_KEY"):
        return nacl_session_factory(os.environ["SESSION_ENCRYPTION_KEY"], serializer)
    options = {
        "secret": os.environ["SESSION_SECRET"],
        "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    if serializer == "json":
        options.update(serialize=json_serialize, deserialize=json.loads)
    elif serializer != "pickle":
        sys.exit("SESSION_SERIALIZER must be pickle or json")
    return RedisSessionFactory(**options)


def home(request):
    session = request.session
    user = session.get("user")
    lines = "".join(
        "<li>%s &times; %d</li>" % (escape(line["product"]), line["qty"])
        for line in session.get("cart", [])
    )
    return Response(
        "<h1>Pyramid side</h1><p id='user'>%s</p><ul id='cart'>%s</ul>"
        % (escape(user) if user else "not signed in", lines)
    )


def session_json(request):
    session = request.session
    return Response(
        json_body={"user": session.get("user"), "cart": session.get("cart", [])}
    )


def login(request):
    name = request.POST.get("username", "").strip()
    if name:
        request.session["user"] = name
    return HTTPSeeOther("/")


def add_to_cart(request):
    product = request.POST.get("product", "").strip()
    if product:
        cart = list(request.session.get("cart", []))
        for line in cart:
            if line["product"] == product:
                line["qty"] += 1
                break
        else:
            cart.append({"product": product, "qty": 1})
        # A new list, so the package sees the change (no `changed()` needed).
        request.session["cart"] = cart
    return HTTPSeeOther("/")


def logout(request):
    request.session.invalidate()
    return HTTPSeeOther("/")


def make_app():
    config = Configurator(session_factory=session_factory())
    for name, path, view, method in [
        ("home", "/", home, "GET"),
        ("session_json", "/session.json", session_json, "GET"),
        ("login", "/login", login, "POST"),
        ("cart_add", "/cart/add", add_to_cart, "POST"),
        ("logout", "/logout", logout, "POST"),
    ]:
        config.add_route(name, path)
        config.add_view(view, route_name=name, request_method=method)
    return config.make_wsgi_app()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("pyramid_app: " + (format % args) + "\n")


def main():
    port = int(os.environ.get("PORT", "6543"))
    server = make_server("127.0.0.1", port, make_app(), handler_class=QuietHandler)
    print("listening on http://127.0.0.1:%d/" % server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
