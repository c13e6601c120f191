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

/// Makes this transaction's commit wait for the disk, whatever its pool
/// says. Background work runs on a pool whose commits return before the
/// flush (`hail_shared::db::Commits::Relaxed`: lost only in a crash of the
/// database's host, and then done again); a move a rider is told about as
/// an outcome (assigned at once, no driver found) is kept the moment it
/// is told.
pub async fn commit_durably(tx: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SET LOCAL synchronous_commit = on")
        .execute(tx)
        .await?;
    Ok(())
}
