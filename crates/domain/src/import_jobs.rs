//! Where an Excel import job stands, and which moves between states are
//! allowed (the workers and the routes of `/excel/imports` follow this one
//! table, so a job is never committed twice nor cancelled after its
//! commit).
//!
//! ```text
//! queued ──► checking ──► checked (dry run, no errors) ──commit──► committing ──► committed
//!               │  └────► rejected (errors, or a refused file)          │
//!               └───────► committing (commit asked at upload) ──────────┘
//! any of queued, checking, checked, committing ──cancel──► cancelled
//! checking / committing whose worker died ──► taken over (same state) or failed
//! ```

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The state of an import job. Stored and answered as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker reads and checks its rows.
    Checking,
    /// A dry run without errors: nothing written; it may be committed.
    Checked,
    /// A worker writes it, in one transaction.
    Committing,
    /// Written whole.
    Committed,
    /// Its rows have errors, or the file was refused: nothing written.
    Rejected,
    /// The server failed it (its worker died too often, or the database
    /// failed): nothing written.
    Failed,
    /// Cancelled by its institution before its commit: nothing written.
    Cancelled,
}

impl ImportState {
    pub const ALL: [ImportState; 8] = [
        ImportState::Queued,
        ImportState::Checking,
        ImportState::Checked,
        ImportState::Committing,
        ImportState::Committed,
        ImportState::Rejected,
        ImportState::Failed,
        ImportState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Queued => "queued",
            ImportState::Checking => "checking",
            ImportState::Checked => "checked",
            ImportState::Committing => "committing",
            ImportState::Committed => "committed",
            ImportState::Rejected => "rejected",
            ImportState::Failed => "failed",
            ImportState::Cancelled => "cancelled",
        }
    }

    /// Whether a worker has (or will have) it in hand: what the limits on
    /// concurrent imports count.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ImportState::Queued | ImportState::Checking | ImportState::Committing
        )
    }

    /// Whether it has ended (nothing more will happen to it). A `checked`
    /// dry run has not: it waits for a commit or a cancel.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ImportState::Committed
                | ImportState::Rejected
                | ImportState::Failed
                | ImportState::Cancelled
        )
    }

    /// The states from which its institution may cancel it: anything not
    /// yet committed nor ended.
    pub const CANCELLABLE: [ImportState; 4] = [
        ImportState::Queued,
        ImportState::Checking,
        ImportState::Checked,
        ImportState::Committing,
    ];

    pub fn may_cancel(self) -> bool {
        Self::CANCELLABLE.contains(&self)
    }

    /// Only a checked dry run may be committed afterwards.
    pub fn may_commit(self) -> bool {
        self == ImportState::Checked
    }
}

impl FromStr for ImportState {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImportState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(())
    }
}

impl std::fmt::Display for ImportState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_and_only_unfinished_ones_cancel() {
        for state in ImportState::ALL {
            assert_eq!(state.as_str().parse::<ImportState>(), Ok(state));
            assert!(!(state.is_final() && state.may_cancel()), "{state}");
            assert!(!(state.is_active() && state.is_final()), "{state}");
        }
        assert!(ImportState::Checked.may_commit());
        assert!(!ImportState::Committed.may_cancel());
        assert!(!ImportState::Queued.may_commit());
        assert!("done".parse::<ImportState>().is_err());
    }
}
