//! Duplicate warnings (*aviso de información repetida*), DESIGN §5.
//!
//! Creating or updating a person answers with the record **and** its
//! possible duplicates. This module is the pure part of that check:
//!
//! 1. [`normalize_name`] folds a name to upper case without accents,
//!    punctuation or particles (`DE`, `DEL`, `LA`, `LOS`, `Y`, …);
//! 2. [`phonetic_key`] maps a normalized name to a Spanish phonetic key, so
//!    spelling variants (`S/Z/C`, `B/V`, `Y/LL`, silent `H`, `QU/K/C`,
//!    `G/J` before `E/I`, `X/J`) share a key;
//! 3. [`blocking_keys`] gives the few keys stored in an indexed table
//!    `(person_id, key)`: only people sharing a key with the new record are
//!    fetched and compared, which keeps a check against a million people in
//!    the millisecond range;
//! 4. [`compare`] scores a pair and classifies it as [`MatchLevel::Exact`]
//!    (same valid CURP), [`MatchLevel::Probable`] or
//!    [`MatchLevel::Possible`], with the per-field [`Comparison`] the API
//!    shows (`match` / `mismatch` / `blank`).
//!
//! The thresholds were calibrated on a generated, labelled set of people and
//! perturbed copies of them (module `labelled`, behind the `labelled-set`
//! feature): on 5,000 people and 1,200 copies, recall of `probable`+`exact`
//! is ≥ 0.95 and precision ≥ 0.90 (the test prints the measured values).
//!
//! Nothing here does I/O or looks at who may see what: hiding a candidate's
//! personal data from callers outside its scope is the HTTP layer's job.

mod blocking;
mod frequency;
#[cfg(any(test, feature = "labelled-set"))]
pub mod labelled;
mod normalize;
mod phonetic;
mod prepared;
mod score;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use blocking::{blocking_keys, probe_keys, MAX_BLOCKING_KEYS};
pub use frequency::{NameFrequencies, PEOPLE_TERM};
pub use normalize::{normalize_given_names, normalize_name};
pub use phonetic::phonetic_key;
pub use score::{compare, POSSIBLE_THRESHOLD, PROBABLE_THRESHOLD};

/// A person normalized once (names folded and keyed phonetically, birth
/// read), to be keyed and compared many times: an import compares each row
/// with several others, and normalizing is most of a comparison's cost.
#[derive(Debug, Clone)]
pub struct Matchable(prepared::Prepared);

impl Matchable {
    pub fn of(facts: &PersonFacts) -> Matchable {
        Matchable(prepared::prepare(facts))
    }

    /// The same keys as [`blocking_keys`] of the facts: what is stored.
    pub fn keys(&self) -> Vec<String> {
        blocking::keys_of(&self.0)
    }

    /// The same keys as [`probe_keys`] of the facts: what a check looks up
    /// among the stored keys of others.
    pub fn probes(&self) -> Vec<String> {
        blocking::probes_of(&self.0)
    }

    /// The same answer as [`compare`] of the facts.
    pub fn compare(&self, other: &Matchable) -> Option<MatchResult> {
        score::compare_prepared(&self.0, &other.0)
    }

    /// [`Matchable::compare`] with name agreements weighed by how common
    /// the names are among the stored people (term-frequency adjustment).
    pub fn compare_weighted(
        &self,
        other: &Matchable,
        freq: &NameFrequencies,
    ) -> Option<MatchResult> {
        score::compare_weighted(&self.0, &other.0, freq)
    }

    /// The name terms the person is counted under in the stored
    /// frequencies (`G:<given names>`, `S:<surname>`), phonetic keys.
    pub fn terms(&self) -> Vec<String> {
        frequency::terms_of(&self.0)
    }
}

/// What duplicate detection looks at in a person record. Every field is
/// optional: names may be withheld, the CURP is often unknown and many
/// records carry an age instead of a date of birth.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFacts {
    /// Given name(s) (*nombre(s)*), e.g. `MARÍA GUADALUPE`.
    pub given_names: Option<String>,
    /// First surname (*primer apellido*), usually the father's.
    pub first_surname: Option<String>,
    /// Second surname (*segundo apellido*), usually the mother's.
    pub second_surname: Option<String>,
    /// CURP as captured. Only a CURP that passes
    /// [`validate_curp`](crate::curp::validate_curp) counts; an invalid one
    /// is ignored. When `birth_date` (or `sex`) is missing, a valid CURP
    /// supplies it.
    pub curp: Option<String>,
    /// Date of birth, when known.
    pub birth_date: Option<NaiveDate>,
    /// Age in completed years at `age_reference_date`, used when the date of
    /// birth is unknown.
    pub age_years: Option<u32>,
    /// The date at which `age_years` held, usually the detection date. An age
    /// without a reference date is ignored.
    pub age_reference_date: Option<NaiveDate>,
    /// Sex catalog code: `MUJER`, `HOMBRE`, `INTERSEXUAL` or
    /// `NO_IDENTIFICADO` (the last one counts as unknown).
    pub sex: Option<String>,
    /// The folio of a missing-person report
    /// ([`crate::missing_report`]): the same folio on two records makes
    /// them an exact match. A folio not well formed is ignored.
    pub missing_report_folio: Option<String>,
}

/// How likely two records describe the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "lowercase")]
pub enum MatchLevel {
    /// Same valid CURP, or the same missing-person report folio.
    Exact,
    /// Score at or above [`PROBABLE_THRESHOLD`] (and CURPs, if both present,
    /// equal or one typo apart).
    Probable,
    /// Score at or above [`POSSIBLE_THRESHOLD`], or a strong score capped
    /// because both records carry different CURPs.
    Possible,
}

impl MatchLevel {
    /// `Exact` > `Probable` > `Possible`, for sorting candidates.
    pub fn rank(self) -> u8 {
        match self {
            MatchLevel::Exact => 3,
            MatchLevel::Probable => 2,
            MatchLevel::Possible => 1,
        }
    }

    /// The level as the API shows and the database stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchLevel::Exact => "exact",
            MatchLevel::Probable => "probable",
            MatchLevel::Possible => "possible",
        }
    }
}

impl std::str::FromStr for MatchLevel {
    type Err = ();

    fn from_str(s: &str) -> Result<MatchLevel, ()> {
        [
            MatchLevel::Exact,
            MatchLevel::Probable,
            MatchLevel::Possible,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or(())
    }
}

/// Where a pair of possible duplicates stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "lowercase")]
pub enum PairStatus {
    /// Not decided yet.
    Open,
    /// Not the same person: the pair is not raised again.
    Dismissed,
    /// The same person.
    Confirmed,
}

impl PairStatus {
    pub const ALL: [PairStatus; 3] = [
        PairStatus::Open,
        PairStatus::Dismissed,
        PairStatus::Confirmed,
    ];

    /// The status as the API shows and the database stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            PairStatus::Open => "open",
            PairStatus::Dismissed => "dismissed",
            PairStatus::Confirmed => "confirmed",
        }
    }
}

impl std::str::FromStr for PairStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<PairStatus, ()> {
        PairStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

/// The outcome of comparing one field of two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldComparison {
    /// Same value, allowing for accents, particles, spelling variants and
    /// typos (names) or for the uncertainty of an age (birth date).
    Match,
    /// Both records have a value and they disagree.
    Mismatch,
    /// At least one record has no value: no evidence either way.
    Blank,
}

/// The per-field comparison shown with a duplicate warning, keys as in the
/// API (`given_names`, `first_surname`, `second_surname`, `birth_date`,
/// `sex`, `curp`).
///
/// When the names matched best with the two surnames swapped, or with the
/// given names and first surname swapped, the name fields are reported from
/// the first record's point of view: `first_surname` says whether the first
/// record's first surname was found in the other record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub given_names: FieldComparison,
    pub first_surname: FieldComparison,
    pub second_surname: FieldComparison,
    /// Date of birth, or the age-derived range of possible dates.
    pub birth_date: FieldComparison,
    pub sex: FieldComparison,
    pub curp: FieldComparison,
    /// The missing-person report folio: `match` makes the pair exact.
    pub missing_report_folio: FieldComparison,
}

/// A candidate duplicate: its level, its score and the per-field comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MatchResult {
    pub level: MatchLevel,
    /// 0 to 1, rounded to two decimals; 1.0 for an exact CURP match.
    pub score: f64,
    pub comparison: Comparison,
}

#[cfg(test)]
mod tests;
