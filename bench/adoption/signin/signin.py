#!/usr/bin/env python3
"""A minimal real Django site with Django's own sign-in, for Crumb's sign-in test
(crates/crumb-cli/tests/django_signin.rs).

Stock Django: `django.contrib.auth` and `django.contrib.sessions` with the database session
backend on SQLite, `SessionMiddleware`, `CsrfViewMiddleware` and `AuthenticationMiddleware`.
Its cookies are Django's defaults: `csrftoken` (not HttpOnly, one year) on the sign-in form
and `sessionid` (HttpOnly, two weeks) once the session holds something. The home page keeps
the visitor's recently viewed page in the session, as a shop's basket would, so a visitor
gets a `sessionid` before signing in; signing in rotates it (`django.contrib.auth.login`).

usage:
  signin.py DIR migrate     # create DIR/db.sqlite3 with `migrate` and the user alice/crumb-pw-1
  signin.py DIR serve PORT  # serve on 127.0.0.1:PORT
"""
import sys
from pathlib import Path

import django
from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.html import escape

DIR = Path(sys.argv[1])
USER, PASSWORD = "alice", "crumb-pw-1"

settings.configure(
    DEBUG=False,
    SECRET_KEY="crumb-signin-fixture-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DIR / "db.sqlite3")}},
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    USE_TZ=True,
)
django.setup()

from django.contrib.auth import authenticate, login  # noqa: E402  (needs settings)


def page(title, body):
    return HttpResponse(f"<!doctype html><html><head><title>{escape(title)}</title></head><body>"
                        f'<a href="/">Home</a> <a href="/login/">Sign in</a>{body}</body></html>')


def home(request):
    request.session["last_viewed"] = "home"
    return page("Shop", "<p>Hand-made things.</p>")


def sign_in(request):
    if request.method == "POST":
        user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
        if user is None:
            return HttpResponse("wrong user name or password", status=401)
        login(request, user)
        return HttpResponseRedirect("/me/")
    token = get_token(request)
    return page("Sign in", f'<form method="post" action="/login/">'
                           f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
                           '<input name="username"><input name="password" type="password">'
                           '<button type="submit">Sign in</button></form>')


def me(request):
    if request.user.is_authenticated:
        return HttpResponse(f"signed in as {escape(request.user.get_username())}")
    return HttpResponse("not signed in", status=403)


urlpatterns = [path("", home), path("login/", sign_in), path("me/", me)]

if __name__ == "__main__":
    if sys.argv[2] == "migrate":
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        User.objects.create_user(USER, password=PASSWORD)
    else:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from django.core.handlers.wsgi import WSGIHandler

        class Quiet(WSGIRequestHandler):
            def log_message(self, *a):
                pass

        class Threading(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        make_server("127.0.0.1", int(sys.argv[3]), WSGIHandler(), server_class=Threading,
                    handler_class=Quiet).serve_forever()
