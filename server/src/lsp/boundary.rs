//! A panic boundary around every request: a bug in one handler answers that request with an
//! internal error (-32603) and the server goes on serving the others.
//!
//! tower-lsp-server polls all handler futures inside its serve loop, so an unwinding handler
//! would unwind through the loop and end the process. This service wraps the future of each
//! call in `catch_unwind`; it sits between tower-lsp-server's `Server` and the `LspService`.
//! It also tells the server when each request has been answered ([`PanicBoundary::after_each`]):
//! a large answer (the outline of thousands of modules is megabytes of JSON) leaves freed
//! memory behind that goes back to the system once the server is quiet.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;
use tower_lsp_server::jsonrpc::{Error, Request, Response};

/// Called when a request (or notification) has been handled.
pub type AfterEach = Arc<dyn Fn() + Send + Sync>;

/// A service whose calls never unwind: a panic becomes an internal-error response.
pub struct PanicBoundary<S> {
    inner: S,
    after_each: AfterEach,
}

impl<S> PanicBoundary<S> {
    /// Wraps `inner`; `after_each` runs when each call has been handled, panicked or not.
    pub fn new(inner: S, after_each: AfterEach) -> Self {
        Self { inner, after_each }
    }
}

impl<S> tower::Service<Request> for PanicBoundary<S>
where
    S: tower::Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Response>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let after_each = Arc::clone(&self.after_each);
        let id = request.id().cloned();
        let method = request.method().to_owned();
        // Building the future runs handler code too (tower-lsp-server's routing and parameter
        // decoding), so it is guarded as well as polling it.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => future,
            Err(payload) => {
                after_each();
                return Box::pin(std::future::ready(Ok(answer(id, &method, &payload))));
            }
        };
        Box::pin(async move {
            let result = match AssertUnwindSafe(future).catch_unwind().await {
                Ok(result) => result,
                Err(payload) => Ok(answer(id, &method, &payload)),
            };
            after_each();
            result
        })
    }
}

/// The response to a request whose handler panicked (none for a notification), logged with
/// the panic's message so the bug can be found.
fn answer(
    id: Option<tower_lsp_server::jsonrpc::Id>,
    method: &str,
    payload: &Box<dyn std::any::Any + Send>,
) -> Option<Response> {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!("the `{method}` handler panicked: {message}");
    let id = id?;
    let mut error = Error::internal_error();
    error.message =
        format!("Internal error: the `{method}` handler failed ({message}); the server goes on")
            .into();
    Some(Response::from_error(id, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{Service, ServiceExt};

    type Answer = Pin<Box<dyn Future<Output = Result<Option<Response>, Infallible>> + Send>>;

    fn answer_or_panic(request: Request) -> Answer {
        Box::pin(async move {
            if request.method() == "boom" {
                panic!("handler bug");
            }
            Ok(request
                .id()
                .cloned()
                .map(|id| Response::from_ok(id, serde_json::json!(1))))
        })
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_its_request_with_an_internal_error_and_the_next_is_served()
    {
        let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&handled);
        let mut service = PanicBoundary::new(
            tower::service_fn(answer_or_panic),
            Arc::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        );
        let boom = Request::build("boom").id(7).finish();
        let response = service.ready().await.expect("ready").call(boom).await;
        let response = response.expect("no error").expect("a response");
        let json = serde_json::to_value(&response).expect("json");
        assert_eq!(json["id"], 7);
        assert_eq!(json["error"]["code"], -32603);
        assert!(json["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("handler bug"));

        let fine = Request::build("fine").id(8).finish();
        let response = service.ready().await.expect("ready").call(fine).await;
        let json = serde_json::to_value(response.expect("ok").expect("some")).expect("json");
        assert_eq!(json["result"], 1);

        let notification = Request::build("boom").finish();
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(notification)
            .await;
        assert!(
            response.expect("ok").is_none(),
            "a notification gets no answer"
        );
        assert_eq!(
            handled.load(std::sync::atomic::Ordering::Relaxed),
            3,
            "the server is told of every call handled, panicked or not"
        );
    }
}
