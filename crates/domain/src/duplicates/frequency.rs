//! Term-frequency adjustment of name agreements (as Fellegi–Sunter linkers
//! such as Splink do): two records agreeing on `HERNÁNDEZ` or
//! `MARÍA GUADALUPE` say far less than two agreeing on `HUITRÓN`.
//!
//! Each stored person contributes its *name terms* ([`terms_of`]): the
//! phonetic key of its given names (`G:MARIA_GUADALUPE`) and of each
//! surname (`S:ERNANDES`; one namespace for both surnames, since they swap).
//! The database counts how many people carry each term. When two names
//! agree, the agreement weight of the field is moved by
//! `ln(u / share)`, where `share` is the term's frequency among the stored
//! people and `u` the chance two people picked at random agree on that
//! field (the reference the fixed weights were calibrated at): a value
//! commoner than average weighs less, a rarer one more. The move is
//! bounded ([`MIN_ADJUSTMENT`], [`MAX_ADJUSTMENT`]), and the share is
//! smoothed towards `u` by [`PRIOR_PEOPLE`] imaginary people, so a small
//! or new population (a test database, a new deployment) scores as
//! without adjustment and one record more or less never swings a score.

use std::collections::HashMap;

use super::prepared::{Name, Prepared};

/// Chance two people drawn at random have the same given names, about
/// `e^-agree` of the given-name weight (a realistic Mexican population:
/// `MARÍA GUADALUPE` alone is about 2% of people).
pub(super) const U_GIVEN: f64 = 0.004;
/// The same for a surname.
pub(super) const U_SURNAME: f64 = 0.026;
/// Imaginary people at the reference frequency added to every count.
pub const PRIOR_PEOPLE: f64 = 20_000.0;
/// The most an agreement loses for a common value.
pub const MIN_ADJUSTMENT: f64 = -3.0;
/// The most an agreement gains for a rare value.
pub const MAX_ADJUSTMENT: f64 = 0.5;

/// The term that counts people by total (every person carries it).
pub const PEOPLE_TERM: &str = "*";

/// The term of a name: its words' phonetic keys joined by `_`.
fn term(prefix: char, n: &Name) -> Option<String> {
    let joined = n
        .tokens
        .iter()
        .map(|t| t.phon.as_str())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    (!joined.is_empty()).then(|| format!("{prefix}:{joined}"))
}

pub(super) fn given_term(n: &Name) -> Option<String> {
    term('G', n)
}

pub(super) fn surname_term(n: &Name) -> Option<String> {
    term('S', n)
}

/// The name terms a stored person is counted under (the same surname
/// twice counts once).
pub(super) fn terms_of(p: &Prepared) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(3);
    let candidates = [
        p.given.as_ref().and_then(given_term),
        p.first.as_ref().and_then(surname_term),
        p.second.as_ref().and_then(surname_term),
    ];
    for t in candidates.into_iter().flatten() {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// How many stored people carry each name term, and how many people there
/// are: what a check needs to weigh agreements. Terms not listed count as
/// carried by nobody yet (the rarest).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameFrequencies {
    people: u64,
    counts: HashMap<String, u64>,
}

impl NameFrequencies {
    /// No adjustment at all: every agreement weighs its fixed weight.
    pub fn none() -> NameFrequencies {
        NameFrequencies::default()
    }

    /// Counts read from the store: `people` in all, `counts` per term.
    pub fn new(people: u64, counts: HashMap<String, u64>) -> NameFrequencies {
        NameFrequencies { people, counts }
    }

    /// How many people there are.
    pub fn people(&self) -> u64 {
        self.people
    }

    /// The smoothed share of people carrying `term`.
    fn share(&self, term: &str, u: f64) -> f64 {
        let count = self.counts.get(term).copied().unwrap_or(0) as f64;
        (count + PRIOR_PEOPLE * u) / (self.people as f64 + PRIOR_PEOPLE)
    }

    /// The move of an agreement weight when two names with these terms
    /// agree: the commoner of the two counts (a typo makes a term rare, not
    /// the name).
    pub(super) fn adjustment(&self, a: Option<&str>, b: Option<&str>, u: f64) -> f64 {
        if self.people == 0 {
            return 0.0;
        }
        let share = [a, b]
            .into_iter()
            .flatten()
            .map(|t| self.share(t, u))
            .fold(0.0_f64, f64::max);
        if share <= 0.0 {
            return 0.0;
        }
        (u / share).ln().clamp(MIN_ADJUSTMENT, MAX_ADJUSTMENT)
    }
}
