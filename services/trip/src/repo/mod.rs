//! SQL for the `trip` schema. Every state move is one conditional
//! `UPDATE ... WHERE status = ANY(<the move's legal starting statuses>)`:
//! the database, not a read-then-write in Rust, decides races.
//!
//! One file per concern: `trips` (rows and state moves), `idempotency`,
//! `queue` (dispatch), `offers`, `audit`, `outbox`, `rides` (carpool).

mod audit;
mod idempotency;
mod offers;
mod outbox;
mod queue;
mod rides;
mod trips;

pub use audit::*;
pub use idempotency::*;
pub use offers::*;
pub use outbox::*;
pub use queue::*;
pub use rides::*;
pub use trips::*;
