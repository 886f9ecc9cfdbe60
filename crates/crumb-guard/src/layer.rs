//! The tower [`Layer`]: works with axum, hyper (through `hyper_util::service::TowerToHyperService`)
//! and tonic.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crumb_core::consent::ConsentState;
use http::{Method, Request, Response, Uri};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::guard::{Allowed, Guard};
use crate::inject::{InjectBody, rewrite};
use crate::rules::{BannerTag, FirstLayer, Plan, Rewriter};

/// Adds the guard to a service: the request gets the visitor's
/// [`ConsentState`] as an extension, and the response
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

/// Rewrites the HTML pages of a service as they stream ([`crate::html`]): the banner tag as
/// the first child of `<head>`, and, for a visitor who has not granted a category, that
/// category's services' scripts, frames, images, media and preloads made inert (see
/// [`crate::rules`]). Put [`GuardLayer`] outside it (`.layer(HtmlLayer::new(..)).layer(GuardLayer::new(..))`
/// in axum) so the consent read there is used; on its own it reads the request itself.
#[derive(Debug, Clone)]
pub struct HtmlLayer {
    rewriter: Rewriter,
}

impl HtmlLayer {
    /// A layer rewriting pages for `guard`'s inventory, inserting `banner` if given.
    pub fn new(guard: &Guard, banner: Option<BannerTag>) -> HtmlLayer {
        HtmlLayer { rewriter: Rewriter::new(guard, banner) }
    }

    /// A layer applying `rewriter`.
    pub fn with_rewriter(rewriter: Rewriter) -> HtmlLayer {
        HtmlLayer { rewriter }
    }

    /// What `crumb proxy --inject-banner SRC` does, as one layer: the banner tag for `src`
    /// first in `<head>`, held resources, and the banner's first layer rendered after
    /// `<body>` for visitors who have not decided (when `first_layer` is given). With
    /// `crumb-banner`:
    ///
    /// ```ignore
    /// let first = crumb_banner::FirstLayerSource::new(guard.inventory(), SRC, &[]);
    /// router.layer(HtmlLayer::banner(&guard, SRC, first.map(|f| FirstLayer::new(f.renderer()))))
    /// ```
    pub fn banner(guard: &Guard, src: &str, first_layer: Option<FirstLayer>) -> HtmlLayer {
        let rewriter = Rewriter::new(guard, Some(BannerTag::script(src)));
        HtmlLayer {
            rewriter: match first_layer {
                Some(f) => rewriter.with_first_layer(f),
                None => rewriter,
            },
        }
    }
}

impl<S> Layer<S> for HtmlLayer {
    type Service = HtmlService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HtmlService { inner, rewriter: self.rewriter.clone() }
    }
}

/// The service [`HtmlLayer`] produces.
#[derive(Debug, Clone)]
pub struct HtmlService<S> {
    inner: S,
    rewriter: Rewriter,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HtmlService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<InjectBody<ResBody>>;
    type Error = S::Error;
    type Future = HtmlFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let plan = (req.method() != Method::HEAD && self.rewriter.is_active()).then(|| {
            let authority = req.uri().authority().map(|a| a.as_str());
            self.rewriter.plan_for_request(req.headers(), authority, req.extensions().get::<ConsentState>())
        });
        HtmlFuture { inner: self.inner.call(req), plan }
    }
}

pin_project! {
    /// The response future of [`HtmlService`].
    pub struct HtmlFuture<F> {
        #[pin]
        inner: F,
        plan: Option<Plan>,
    }
}

impl<F, ResBody, E> Future for HtmlFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<InjectBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(rewrite(res, this.plan.take())))
    }
}
