#!/usr/bin/env python3
"""A small Django shop with real, unmodified analytics tags, for Crumb's adoption benchmark.

Django's own cookies: `csrftoken` (the sign-in form) and `sessionid` (after signing in).
The tags are exactly what each vendor ships: PostHog by script tag and `posthog.init`,
Mixpanel and Amplitude by the snippets inside their npm packages, and a tag-manager loader
that inserts a script from another site (`localhost`) at run time. Nothing in the page knows
about Crumb.

usage: shop.py PORT CLOUD_PORT NODE_MODULES
"""
import sys
from pathlib import Path

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.urls import path
from django.utils.html import escape

PORT, CLOUD_PORT, NODE_MODULES = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])

settings.configure(
    DEBUG=False,
    SECRET_KEY="crumb-adoption-fixture-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    USE_TZ=True,
)
django.setup()

MIXPANEL = (NODE_MODULES / "mixpanel-browser/dist/mixpanel-jslib-snippet.min.js").read_text().strip()
AMPLITUDE = (NODE_MODULES / "@amplitude/analytics-browser/lib/scripts/amplitude-snippet-min.js").read_text().strip()

HEAD = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Crumb Shop</title>
<script src="https://us-assets.i.posthog.com/static/array.full.js"></script>
<script>posthog.init('phc_fixture', {{api_host: 'https://us.i.posthog.com', person_profiles: 'always'}})</script>
<script>{MIXPANEL}
mixpanel.init('mp_fixture_token', {{track_pageview: true}})</script>
<script>{AMPLITUDE}
amplitude.init('ampfixturekey0123456789abcdef01', {{autocapture: false}})</script>
<script>(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),event:'gtm.js'}});var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;j.src='http://localhost:{CLOUD_PORT}/gtm.js?id='+i;f.parentNode.insertBefore(j,f);}})(window,document,'script','dataLayer','GTM-FIXTURE');</script>
</head>"""


def page(request, title, body):
    user = request.session.get("user")
    who = f"<p id=who>Signed in as {escape(user)}</p>" if user else "<p id=who>Not signed in</p>"
    html = f"""{HEAD}
<body><header><a href="/">Shop</a> <a href="/next/">Products</a> <a href="/login/">Sign in</a></header>
<main><h1>{escape(title)}</h1>{who}{body}</main></body></html>"""
    return HttpResponse(html)


def home(request):
    return page(request, "Welcome", "<p>Hand-made things.</p>")


def products(request):
    return page(request, "Products", "<ul><li>Mug</li><li>Bowl</li></ul>")


def login(request):
    if request.method == "POST":
        request.session["user"] = request.POST.get("name", "alice")
        return HttpResponseRedirect("/next/")
    token = get_token(request)
    form = (
        f'<form method="post" action="/login/"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        '<input name="name" value="alice"><button type="submit">Sign in</button></form>'
    )
    return page(request, "Sign in", form)


urlpatterns = [path("", home), path("next/", products), path("login/", login)]

if __name__ == "__main__":
    from wsgiref.simple_server import WSGIRequestHandler, make_server
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, *a):
            pass

    class Threading(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    make_server("127.0.0.1", PORT, WSGIHandler(), server_class=Threading, handler_class=Quiet).serve_forever()
