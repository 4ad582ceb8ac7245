//! The audit log's chain: sealing it in the background and verifying it.
//!
//! Requests append audit rows without a lock; the sealer chains the
//! committed ones shortly after (DESIGN §4, README "Audit log").

use std::time::Duration;

use sintra_persistence::audit::{self, ChainReport};
use sintra_persistence::db::{self, Pool};
use sintra_persistence::StoreResult;

/// How often each server's sealer chains newly committed rows: the longest a
/// committed row waits for its hash while no older transaction stays open.
pub const SEAL_INTERVAL: Duration = Duration::from_millis(250);

/// Chains newly committed audit rows every `interval`, for as long as the
/// process runs. Every instance runs one; when two look at the same time one
/// of them finds the sealer busy and skips its turn.
pub async fn run_sealer(pool: Pool, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let sealed = async {
            let mut conn = db::conn(&pool).await?;
            audit::seal(&mut conn, false).await
        }
        .await;
        match sealed {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "audit rows chained"),
            Err(e) => tracing::warn!(error = %e, "the audit sealer could not run"),
        }
    }
}

/// Chains what is committed, then recomputes the whole chain.
pub async fn verify(pool: &Pool) -> StoreResult<ChainReport> {
    let mut conn = db::conn(pool).await?;
    audit::seal(&mut conn, true).await?;
    audit::verify(&mut conn).await
}
