//! Background jobs: invoicing an order after it is placed.
//!
//! A job runs on its own tokio task, through [`provenance::span::run_job`], so it is a `job:`
//! artifact and everything it runs and writes is linked to it. `tokio::spawn` does not carry
//! the task-local provenance context, so [`Jobs`] wraps each job in
//! [`provenance::context::in_current_context`]: the job then knows which request started it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use provenance::context::in_current_context;
use provenance::span::run_job;
use tokio::sync::Notify;

use crate::invoices;
use crate::repo::Db;

/// The queue invoicing jobs run on: their IDs are `job:invoicing:order-<id>`.
pub const INVOICING: &str = "invoicing";

/// Runs background jobs and knows how many are still running.
#[derive(Clone, Debug, Default)]
pub struct Jobs {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

impl Jobs {
    /// A runner with no job running.
    pub fn new() -> Self {
        Jobs::default()
    }

    /// Invoices order `order_id` in the background, as job `job:invoicing:order-<id>`.
    pub fn invoice(&self, db: Db, order_id: i64) {
        let job = run_job(INVOICING, format!("order-{order_id}"), async move {
            // The error is recorded on the job by the span's `err`; there is no one to tell.
            let _ = invoice_order(db, order_id).await;
        });
        self.spawn(in_current_context(job));
    }

    /// How many jobs are running.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Waits until no job is running.
    pub async fn wait_idle(&self) {
        loop {
            // Register for the wake-up before checking, so none is missed in between.
            let notified = self.inner.idle.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        // Counted down when the task ends, even if the job panics.
        let done = Done(self.inner.clone());
        tokio::spawn(async move {
            let _done = done;
            job.await;
        });
    }
}

struct Done(Arc<Inner>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The invoicing job: issues the order's invoice, once.
#[tracing::instrument(skip(db), err)]
pub async fn invoice_order(db: Db, order_id: i64) -> Result<(), sqlx::Error> {
    match invoices::issue(&db, order_id).await? {
        Some(invoice) => tracing::info!(invoice = invoice.id, "issued"),
        None => tracing::info!("nothing to invoice"),
    }
    Ok(())
}
