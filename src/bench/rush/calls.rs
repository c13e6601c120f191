//! The answers to the bench's own calls (requests, cancels, accepts,
//! declines, starts, completions): 5xx by status, how many 503s said
//! `Retry-After`, calls that got no answer, and the riders' cancels.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use crate::simulate::api::CallError;

#[derive(Default)]
pub(super) struct Calls {
    server_errors: Mutex<BTreeMap<u16, usize>>,
    pub(super) retry_after_503: AtomicUsize,
    pub(super) transport: AtomicUsize,
    /// Cancels answered (200, or 409: the trip had already ended).
    pub(super) cancels_answered: AtomicUsize,
    /// Cancels sent again after a 503.
    pub(super) cancels_retried: AtomicUsize,
    /// Cancels never answered (503 or no answer, every try).
    pub(super) cancels_lost: AtomicUsize,
    pub(super) requests_refused: AtomicUsize,
}

impl Calls {
    /// Counts a call's answer if it was a 5xx or none; passes it on.
    pub(super) fn note<T>(&self, answer: Result<T, CallError>) -> Result<T, CallError> {
        if let Err(err) = &answer {
            if err.status == 0 {
                self.transport.fetch_add(1, Ordering::Relaxed);
            } else if err.status >= 500 {
                if let Ok(mut map) = self.server_errors.lock() {
                    *map.entry(err.status).or_default() += 1;
                }
                if err.status == 503 && err.retry_after.is_some() {
                    self.retry_after_503.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        answer
    }

    /// 5xx answers by status.
    pub(super) fn server_errors(&self) -> BTreeMap<u16, usize> {
        self.server_errors
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub(super) fn total_5xx(&self) -> usize {
        self.server_errors().values().sum()
    }

    pub(super) fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }

    pub(super) fn add(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
