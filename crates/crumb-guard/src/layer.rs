//! The tower [`Layer`]: works with axum, hyper (through `hyper_util::service::TowerToHyperService`)
//! and tonic.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::guard::{Allowed, Guard};

/// Adds the guard to a service: the request gets the visitor's
/// [`ConsentState`](crumb_core::consent::ConsentState) as an extension, and the response
/// loses the `Set-Cookie` headers the visitor has not allowed (and, with
/// [`Settings::expire_refused`](crate::Settings::expire_refused), expires refused cookies
/// the browser still sends).
#[derive(Debug, Clone)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    /// A layer enforcing `guard`.
    pub fn new(guard: Guard) -> GuardLayer {
        GuardLayer { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService { inner, guard: self.guard.clone() }
    }
}

/// The service [`GuardLayer`] produces.
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let state = self.guard.consent(req.headers());
        let allowed = self.guard.allowed(&state);
        let expire = self.guard.refused_in_request(req.headers(), allowed);
        let uri = req.uri().clone();
        req.extensions_mut().insert(state);
        ResponseFuture { inner: self.inner.call(req), guard: self.guard.clone(), allowed, expire, uri }
    }
}

pin_project! {
    /// The response future of [`GuardService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Guard,
        allowed: Allowed,
        expire: Option<Vec<(usize, String)>>,
        uri: Uri,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        this.guard.filter(res.headers_mut(), *this.allowed, this.uri.path());
        if let Some(expire) = this.expire.take() {
            this.guard.expire(res.headers_mut(), &expire, this.uri.path());
        }
        Poll::Ready(Ok(res))
    }
}
