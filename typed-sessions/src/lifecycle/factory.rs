//! [`SessionFactory`]: what an adapter needs of a factory, whichever it is. One trait object
//! type serves cookie factories of every codec and server-side factories of every store.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::finish::Saving;
use crate::codec::CookieCodec;
use crate::factory::CookieSessionFactory;
use crate::factory::{Plan, ServerSessionFactory};
use crate::factory::{Saved, SetCookies, SpillStep, SpillingSessionFactory};
use crate::session::Session;
use crate::store::{SessionStore, StoreError};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A factory a request's session can come from: every [`CookieSessionFactory`] (signed,
/// encrypted, or your own [`CookieCodec`]) and every [`ServerSessionFactory`] (memory,
/// Redis, or your own [`SessionStore`]). The adapters' layer and middleware take one;
/// you never implement it.
pub trait SessionFactory: sealed::Steps + Send + Sync + 'static {}

impl<C: CookieCodec> SessionFactory for CookieSessionFactory<C> {}
impl<S: SessionStore> SessionFactory for ServerSessionFactory<S> {}
impl<C: CookieCodec, S: SessionStore> SessionFactory for SpillingSessionFactory<C, S> {}

pub(crate) mod sealed {
    use super::*;

    /// A request's `Cookie` headers, unparsed: one inline (a request has one), several in a
    /// vector that a request with one never allocates. Cloning a header value shares its
    /// bytes. An enum, not an `Option` and a `Vec`, so that the request's session it lives
    /// in stays small: a request that never uses its session moves and drops less.
    #[derive(Default)]
    pub enum Cookies {
        #[default]
        None,
        One(HeaderValue),
        Several(Vec<HeaderValue>),
    }

    impl Cookies {
        pub(crate) fn new(values: impl IntoIterator<Item = HeaderValue>) -> Self {
            let mut values = values.into_iter();
            let Some(first) = values.next() else {
                return Self::None;
            };
            match values.next() {
                None => Self::One(first),
                Some(second) => Self::Several([first, second].into_iter().chain(values).collect()),
            }
        }

        /// The headers, as a factory reads them.
        pub(crate) fn headers(&self) -> HeaderMap {
            let values: &[HeaderValue] = match self {
                Self::None => &[],
                Self::One(value) => std::slice::from_ref(value),
                Self::Several(values) => values,
            };
            let mut headers = HeaderMap::with_capacity(values.len());
            for value in values {
                headers.append(COOKIE, value.clone());
            }
            headers
        }
    }

    /// The steps of a request's lifecycle that differ by factory. Private: the
    /// `RequestSession` calls them, nothing else.
    pub trait Steps {
        /// The session now, when the factory needs no I/O (a cookie factory).
        fn load_now(&self, cookies: &Cookies) -> Option<Session>;

        /// The load to wait for, when the factory needs I/O (a store).
        fn load_later(self: Arc<Self>, cookies: &Cookies) -> Option<Loading>;

        /// Saves `session` into a response with `status`; `failed_request` for a `5xx`.
        fn save(
            self: Arc<Self>,
            session: Session,
            failed_request: bool,
            status: StatusCode,
        ) -> Saving;
    }
}

impl<C: CookieCodec> sealed::Steps for CookieSessionFactory<C> {
    fn load_now(&self, cookies: &sealed::Cookies) -> Option<Session> {
        Some(self.load(&cookies.headers()))
    }

    fn load_later(self: Arc<Self>, _: &sealed::Cookies) -> Option<Loading> {
        None
    }

    fn save(self: Arc<Self>, session: Session, failed_request: bool, status: StatusCode) -> Saving {
        let saved = if failed_request {
            self.save_value_after_error(&session)
        } else {
            self.save_value(&session)
        };
        let saved = saved.map(|(saved, set_cookies)| SetCookies::written(saved, set_cookies));
        Saving::cookie(status, self.on_oversized(), saved.map_err(StoreError::from))
    }
}

impl<S: SessionStore> sealed::Steps for ServerSessionFactory<S> {
    fn load_now(&self, _: &sealed::Cookies) -> Option<Session> {
        None
    }

    fn load_later(self: Arc<Self>, cookies: &sealed::Cookies) -> Option<Loading> {
        let headers = cookies.headers();
        Some(Loading(Box::pin(async move { self.load(&headers).await })))
    }

    fn save(self: Arc<Self>, session: Session, failed_request: bool, status: StatusCode) -> Saving {
        if failed_request && !self.set_on_exception() {
            return Saving::done(status, Ok((Saved::SkippedOnError, None, None, Vec::new())));
        }
        // Planned now, so the future holds no borrow of the session (which is not `Sync`).
        let (plan, report) = match self.plan_reported(&session) {
            Ok(planned) => planned,
            Err(err) => return Saving::done(status, Err(err)),
        };
        drop(session);
        if matches!(plan, Plan::Nothing) {
            return Saving::done(status, Ok((Saved::Unchanged, None, None, Vec::new())));
        }
        Saving::pending(
            status,
            self.on_discarded(),
            Box::pin(async move {
                let mut headers = HeaderMap::new();
                let saved = self.execute_reported(plan, report, &mut headers).await?;
                let set_cookie = headers.remove(http::header::SET_COOKIE);
                let vary = headers.remove(http::header::VARY);
                Ok((saved, set_cookie, vary, Vec::new()))
            }),
        )
    }
}

impl<C: CookieCodec, S: SessionStore> sealed::Steps for SpillingSessionFactory<C, S> {
    fn load_now(&self, cookies: &sealed::Cookies) -> Option<Session> {
        let headers = cookies.headers();
        (!self.names_a_record(&headers)).then(|| self.cookie_factory().load(&headers))
    }

    fn load_later(self: Arc<Self>, cookies: &sealed::Cookies) -> Option<Loading> {
        let headers = cookies.headers();
        Some(Loading(Box::pin(async move { self.load(&headers).await })))
    }

    fn save(self: Arc<Self>, session: Session, failed_request: bool, status: StatusCode) -> Saving {
        let oversized = self.cookie_factory().on_oversized();
        // Planned now, so the future holds no borrow of the session (which is not `Sync`).
        let step = match self.plan(&session, failed_request) {
            Ok(step) => step,
            Err(err) => return Saving::cookie(status, oversized, Err(err)),
        };
        drop(session);
        if let SpillStep::Cookie(saved, set_cookies) = step {
            return Saving::cookie(
                status,
                oversized,
                Ok(SetCookies::written(saved, set_cookies)),
            );
        }
        let discarded = self.server_factory().on_discarded();
        Saving::pending(
            status,
            discarded,
            Box::pin(async move { self.execute(step).await }),
        )
    }
}

/// A server-side session's load from its store, from [`RequestSession::loading`]
/// (`Send`, owning what it needs).
///
/// [`RequestSession::loading`]: super::RequestSession::loading
pub struct Loading(BoxFuture<Result<Session, StoreError>>);

impl Future for Loading {
    type Output = Result<Session, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for Loading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loading").finish_non_exhaustive()
    }
}
