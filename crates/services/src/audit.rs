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

/// How many months ahead of the current one the log's partitions exist
/// (README "Audit log", growth): a server stopped for less than that never
/// sends a row to the DEFAULT partition.
pub const PARTITION_MONTHS_AHEAD: i32 = 3;

/// How often the sealer makes sure the coming months have their partition,
/// and how soon it tries again after failing (creating one waits at most
/// 2 s for its locks, then gives up rather than stall requests).
const PARTITION_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
const PARTITION_RETRY_INTERVAL: Duration = Duration::from_secs(60);

/// Chains newly committed audit rows every `interval`, for as long as the
/// process runs, and creates the log's coming month partitions at start and
/// every hour. Every instance runs one; when two look at the same time one
/// of them finds the sealer busy and skips its turn.
pub async fn run_sealer(pool: Pool, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut partitions_due = tokio::time::Instant::now();
    loop {
        ticker.tick().await;
        if tokio::time::Instant::now() >= partitions_due {
            let ensured = async {
                let mut conn = db::conn(&pool).await?;
                audit::ensure_partitions(&mut conn, PARTITION_MONTHS_AHEAD).await
            }
            .await;
            partitions_due = tokio::time::Instant::now()
                + match ensured {
                    Ok(created) => {
                        if created > 0 {
                            tracing::info!(created, "audit log partitions created");
                        }
                        PARTITION_CHECK_INTERVAL
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the audit log's coming partitions could not be created");
                        PARTITION_RETRY_INTERVAL
                    }
                };
        }
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

/// Chains what is committed, then recomputes the whole chain: from its
/// start, or, once older months are archived, from the archive's floor (the
/// archived rows are proven by their archive and its checkpoint). Returns
/// the report and the position it was recomputed from.
pub async fn verify(pool: &Pool) -> StoreResult<(ChainReport, i64)> {
    let mut conn = db::conn(pool).await?;
    audit::seal(&mut conn, true).await?;
    let floor = audit::archive_floor(&mut conn).await?;
    let since = floor.as_ref().map(|(p, h)| (*p, h.as_str()));
    let report = audit::verify(&mut conn, since).await?;
    Ok((report, since.map_or(0, |(p, _)| p)))
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
