//! A deadline on reading request bodies, so a client that trickles a body (a byte every few
//! seconds) cannot hold a connection and a worker for ever.
//!
//! Every body must keep arriving: no gap longer than `http.body_idle_seconds` between two
//! chunks, and, once `http.body_idle_seconds` have passed, at least
//! `http.body_min_bytes_per_second` on average. A body that breaks either rule ends the
//! request with 408 `body_timeout`, whatever the handler made of the cut-off stream.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, ResponseError};
use futures_util::Stream;
use std::future::Future;

use crate::app::AppState;
use crate::error::{AppError, ErrorKind};

/// The body as it arrives, with the two rules applied.
struct Deadline {
    inner: Payload,
    idle: Duration,
    min_rate: u64,
    started: Instant,
    received: u64,
    wake: Pin<Box<tokio::time::Sleep>>,
    tripped: Arc<AtomicBool>,
}

impl Deadline {
    fn trip(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.tripped.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body arrived too slowly",
        )))))
    }

    fn too_slow(&self) -> bool {
        let elapsed = self.started.elapsed();
        elapsed > self.idle && self.received < self.min_rate.saturating_mul(elapsed.as_secs())
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.tripped.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                if self.too_slow() {
                    return self.trip();
                }
                let next = tokio::time::Instant::now() + self.idle;
                self.wake.as_mut().reset(next);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => match self.wake.as_mut().poll(cx) {
                Poll::Ready(()) => self.trip(),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

/// Middleware: see the module documentation.
pub async fn middleware<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(cfg) = req.app_data::<web::Data<AppState>>().map(|s| s.config.http.clone()) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let tripped = Arc::new(AtomicBool::new(false));
    let idle = Duration::from_secs(cfg.body_idle_seconds);
    let guarded = Deadline {
        inner: req.take_payload(),
        idle,
        min_rate: cfg.body_min_bytes_per_second,
        started: Instant::now(),
        received: 0,
        wake: Box::pin(tokio::time::sleep(idle)),
        tripped: tripped.clone(),
    };
    req.set_payload(Payload::from(Box::pin(guarded) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    let outcome = next.call(req).await;
    if !tripped.load(Ordering::Relaxed) {
        return outcome.map(ServiceResponse::map_into_left_body);
    }
    let refusal = AppError::new(ErrorKind::BodyTimeout);
    match outcome {
        Ok(res) => {
            let (request, _) = res.into_parts();
            Ok(ServiceResponse::new(request, refusal.error_response()).map_into_right_body())
        }
        Err(_) => Err(refusal.into()),
    }
}
