//! Cookies that web frameworks set by default, with the attributes they set them with.
//!
//! These are strictly necessary by construction (sessions, sign-in, CSRF protection), so
//! the classifier decides them before any platform listing: `sessionid` on a site's own
//! domain is Django's session, whatever Instagram calls its own `sessionid`.

/// How a framework sets `HttpOnly` on a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpOnly {
    /// Set by default.
    Yes,
    /// Not set, on purpose: scripts must read the cookie (a CSRF token sent back in a
    /// header). Asking for `HttpOnly` would break the framework.
    ScriptReadable,
    /// Depends on configuration; the default is not `HttpOnly`.
    Configurable,
}

/// A framework's default cookie.
#[derive(Debug, Clone, Copy)]
pub struct FrameworkCookie {
    /// Exact name, or a pattern: `*` stands for any run of characters.
    pub name: &'static str,
    /// The framework.
    pub framework: &'static str,
    /// What it holds.
    pub what: &'static str,
    /// `HttpOnly` as the framework sets it.
    pub http_only: HttpOnly,
    /// The framework documentation that says so.
    pub docs: &'static str,
    /// The name is the framework's own and no platform uses it for anything else, so it is
    /// the framework's default on another site's domain too: the session or CSRF cookie of
    /// an embedded application (a booking widget's `laravel_session` and `XSRF-TOKEN`, a
    /// servlet's `JSESSIONID`). `false` for generic names (`sessionid`, `csrftoken`,
    /// `_<app>_session`) that platforms use for their own cookies (Instagram's
    /// `sessionid`): those are framework defaults only on the site's own domain.
    pub anywhere: bool,
}

/// The table.
pub const FRAMEWORK_COOKIES: &[FrameworkCookie] = &[
    FrameworkCookie {
        name: "sessionid",
        framework: "Django",
        what: "session id (SESSION_COOKIE_NAME)",
        http_only: HttpOnly::Yes,
        docs: "https://docs.djangoproject.com/en/stable/ref/settings/#session-cookie-httponly",
        anywhere: false,
    },
    FrameworkCookie {
        name: "csrftoken",
        framework: "Django",
        what: "CSRF token (CSRF_COOKIE_NAME); CSRF_COOKIE_HTTPONLY is False by default so JavaScript can send it back",
        http_only: HttpOnly::ScriptReadable,
        docs: "https://docs.djangoproject.com/en/stable/ref/settings/#csrf-cookie-httponly",
        anywhere: false,
    },
    FrameworkCookie {
        name: "_*_session",
        framework: "Ruby on Rails",
        what: "cookie store session (`_<app>_session`), HttpOnly by default",
        http_only: HttpOnly::Yes,
        docs: "https://guides.rubyonrails.org/security.html#sessions",
        anywhere: false,
    },
    FrameworkCookie {
        name: "laravel_session",
        framework: "Laravel",
        what: "session id (config/session.php `cookie`, http_only true)",
        http_only: HttpOnly::Yes,
        docs: "https://laravel.com/docs/session#configuration",
        anywhere: true,
    },
    FrameworkCookie {
        name: "XSRF-TOKEN",
        framework: "Laravel / Angular / Spring Security",
        what: "CSRF token that the front end's HTTP client copies into the X-XSRF-TOKEN header; set without HttpOnly on purpose",
        http_only: HttpOnly::ScriptReadable,
        docs: "https://laravel.com/docs/csrf#csrf-x-xsrf-token",
        anywhere: true,
    },
    FrameworkCookie {
        name: "connect.sid",
        framework: "Express (express-session)",
        what: "session id; cookie.httpOnly defaults to true",
        http_only: HttpOnly::Yes,
        docs: "https://github.com/expressjs/session#cookiehttponly",
        anywhere: true,
    },
    FrameworkCookie {
        name: "next-auth.session-token",
        framework: "NextAuth.js",
        what: "session token (`__Secure-` prefixed on HTTPS), HttpOnly",
        http_only: HttpOnly::Yes,
        docs: "https://next-auth.js.org/configuration/options#cookies",
        anywhere: true,
    },
    FrameworkCookie {
        name: "next-auth.csrf-token",
        framework: "NextAuth.js",
        what: "double-submit CSRF token (`__Host-` prefixed on HTTPS), HttpOnly",
        http_only: HttpOnly::Yes,
        docs: "https://next-auth.js.org/configuration/options#cookies",
        anywhere: true,
    },
    FrameworkCookie {
        name: "next-auth.callback-url",
        framework: "NextAuth.js",
        what: "where to return after sign-in (`__Secure-` prefixed on HTTPS), HttpOnly",
        http_only: HttpOnly::Yes,
        docs: "https://next-auth.js.org/configuration/options#cookies",
        anywhere: true,
    },
    FrameworkCookie {
        name: "ASP.NET_SessionId",
        framework: "ASP.NET",
        what: "session state id, HttpOnly",
        http_only: HttpOnly::Yes,
        docs: "https://learn.microsoft.com/en-us/dotnet/api/system.web.sessionstate.sessionstatesection.cookiename",
        anywhere: true,
    },
    FrameworkCookie {
        name: ".AspNetCore.*",
        framework: "ASP.NET Core",
        what: "session, authentication and antiforgery cookies (`.AspNetCore.Session`, `.AspNetCore.Cookies`, `.AspNetCore.Antiforgery.*`), HttpOnly",
        http_only: HttpOnly::Yes,
        docs: "https://learn.microsoft.com/en-us/aspnet/core/fundamentals/app-state",
        anywhere: true,
    },
    FrameworkCookie {
        name: "PHPSESSID",
        framework: "PHP sessions",
        what: "session id; HttpOnly only when session.cookie_httponly is on (off by default)",
        http_only: HttpOnly::Configurable,
        docs: "https://www.php.net/manual/en/session.configuration.php#ini.session.cookie-httponly",
        anywhere: true,
    },
    FrameworkCookie {
        name: "JSESSIONID",
        framework: "Java servlet containers",
        what: "servlet session id; Tomcat sets HttpOnly by default (useHttpOnly)",
        http_only: HttpOnly::Yes,
        docs: "https://tomcat.apache.org/tomcat-10.1-doc/config/context.html#Common_Attributes",
        anywhere: true,
    },
];

/// Cookie name prefixes browsers give meaning to; framework cookies carry them on HTTPS.
const PREFIXES: &[&str] = &["__Secure-", "__Host-"];

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => name.len() > head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail),
    }
}

/// The framework default a cookie name is, if any (`__Secure-`/`__Host-` prefixes allowed).
pub fn lookup(name: &str) -> Option<&'static FrameworkCookie> {
    let bare = PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name);
    FRAMEWORK_COOKIES.iter().find(|f| matches(f.name, bare))
}
