//! The audit log's chain: sealing it in the background and verifying it.
//!
//! Requests append audit rows without a lock; the sealer chains the
//! committed ones shortly after (DESIGN §4, README "Audit log").

use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::SigningKey;
use sintra_domain::audit_checkpoint::Checkpoint;
use sintra_persistence::audit::{self, ChainHead, ChainReport};
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
    audit::verify(&mut conn, None).await
}

/// Chains what is committed and signs the head: a checkpoint to keep
/// outside the database. `None` while the chain is empty.
pub async fn checkpoint(
    pool: &Pool,
    key: &SigningKey,
) -> StoreResult<Option<(Checkpoint, ChainHead)>> {
    let mut conn = db::conn(pool).await?;
    audit::seal(&mut conn, true).await?;
    let head = audit::head(&mut conn).await?;
    if head.position == 0 {
        return Ok(None);
    }
    let signed = Checkpoint::sign(key, head.position, &head.hash, Utc::now());
    Ok(Some((signed, head)))
}

/// Proves the current log extends `checkpoint` (whose signature the caller
/// has checked): the chain still holds, at the checkpoint's position, the
/// hash that was signed, and it is computed from the event that is there
/// now; then every row after it is recomputed. Rows before the checkpoint
/// are not reread (they were verified when it was taken): verification
/// costs what was appended since.
pub async fn verify_since(pool: &Pool, checkpoint: &Checkpoint) -> StoreResult<ChainReport> {
    let mut conn = db::conn(pool).await?;
    audit::seal(&mut conn, true).await?;
    let link = audit::link_at(&mut conn, checkpoint.position).await?;
    let holds = link.as_ref().is_some_and(|l| {
        l.hash == checkpoint.hash && l.computed.as_deref() == Some(checkpoint.hash.as_str())
    });
    if !holds {
        return Ok(ChainReport {
            rows_checked: 0,
            pending_rows: 0,
            first_broken_id: link.map(|l| l.event_id),
            reason: Some("checkpoint".into()),
        });
    }
    audit::verify(&mut conn, Some((checkpoint.position, &checkpoint.hash))).await
}
