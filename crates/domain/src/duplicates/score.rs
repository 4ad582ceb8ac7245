//! Pairwise scoring.
//!
//! The score is a Fellegi–Sunter style sum of per-field evidence weights
//! (roughly log-likelihood ratios: positive when the fields agree, negative
//! when they disagree, zero when either is blank, except a small penalty for
//! an unknown birth date so that names alone do not make a pair probable),
//! mapped to 0..1 by a logistic curve. Names are compared with Jaro–Winkler on both the
//! normalized text and the phonetic key (the better of the two counts), word
//! by word for multi-word names; the names are aligned three ways (as
//! captured, surnames swapped, given names and first surname swapped) and
//! the best alignment counts.
//!
//! The weights and thresholds below were calibrated on the labelled set
//! (module `labelled`): recall of `probable`+`exact` about 0.97 and
//! precision about 0.97 across seeds; most remaining false positives are
//! namesakes born the same year where one record has only an age, which no
//! score can tell apart.

use chrono::Datelike;
use strsim::{jaro_winkler, osa_distance};

use super::frequency::{given_term, surname_term, NameFrequencies, U_GIVEN, U_SURNAME};
use super::prepared::{prepare, Birth, Name, Prepared, Token};
use super::{Comparison, FieldComparison, MatchLevel, MatchResult, PersonFacts};

/// Lowest rounded score reported as [`MatchLevel::Probable`].
pub const PROBABLE_THRESHOLD: f64 = 0.90;
/// Lowest rounded score reported at all, as [`MatchLevel::Possible`].
pub const POSSIBLE_THRESHOLD: f64 = 0.70;

/// Name similarity at or above which a name counts as fully agreeing.
const SIM_AGREE: f64 = 0.94;
/// Name similarity at or below which a name counts as fully disagreeing;
/// in between, the weight is interpolated.
const SIM_DISAGREE: f64 = 0.75;
/// Name similarity from which the comparison shows `match`.
const SIM_MATCH: f64 = 0.88;
/// Similarity given to a multi-word name whose words all appear in the
/// other (`MARIA GUADALUPE` / `GUADALUPE`).
const SIM_SUBSET: f64 = 0.90;
/// Word similarity from which a word counts as present in the other name.
const SIM_WORD_FOUND: f64 = 0.92;
/// Similarity of two words (or names) one edit apart (a letter replaced,
/// dropped or added, or two adjacent letters transposed: `MRAIA`/`MARIA`,
/// `VITCOR`/`VICTOR`), when the shorter has at least [`TYPO_MIN_LEN`]
/// letters: Jaro–Winkler alone scores a transposition near the start of a
/// short name too low to count as the same name.
const SIM_ONE_EDIT: f64 = 0.95;
const TYPO_MIN_LEN: usize = 4;

/// Evidence weights of a name field.
#[derive(Debug, Clone, Copy)]
struct Weights {
    agree: f64,
    disagree: f64,
}

const GIVEN: Weights = Weights {
    agree: 5.0,
    disagree: -5.0,
};
const FIRST_SURNAME: Weights = Weights {
    agree: 4.5,
    disagree: -4.0,
};
const SECOND_SURNAME: Weights = Weights {
    agree: 4.0,
    disagree: -3.5,
};
/// Used for both pairs when the surnames are compared crosswise, so the
/// score does not depend on which record comes first.
const SURNAME_CROSS: Weights = Weights {
    agree: (FIRST_SURNAME.agree + SECOND_SURNAME.agree) / 2.0,
    disagree: (FIRST_SURNAME.disagree + SECOND_SURNAME.disagree) / 2.0,
};
/// Used for both pairs when given names and first surname are compared
/// crosswise.
const GIVEN_CROSS: Weights = Weights {
    agree: (GIVEN.agree + FIRST_SURNAME.agree) / 2.0,
    disagree: (GIVEN.disagree + FIRST_SURNAME.disagree) / 2.0,
};
/// Subtracted when the given names and first surname only agree crosswise:
/// a rarer capture error than swapped surnames.
const NAME_ORDER_PENALTY: f64 = 1.5;

/// Same date of birth.
const DATE_EXACT: f64 = 7.0;
/// Day and month transposed (`03/04` / `04/03`).
const DATE_TRANSPOSED: f64 = 5.0;
/// Same day and month, year one off (1980 typed for 1981): a typing slip,
/// far likelier between two records of one person than between two people.
const DATE_YEAR_OFF: f64 = 5.0;
/// One digit wrong, or two adjacent digits transposed, in `YYYYMMDD`.
const DATE_TYPO: f64 = 3.5;
/// A date of birth within the range an age allows.
const DATE_IN_AGE_RANGE: f64 = 4.0;
/// Two ages whose ranges of birth dates overlap.
const AGE_RANGES_OVERLAP: f64 = 3.5;
/// Dates or ranges less than a year apart: an age one year off (asked
/// again, or counted at another date) is as common between two records of
/// one person as between two people born within a year, so no evidence
/// either way.
const DATE_NEAR: f64 = 3.5;
/// Two dates in the same year, otherwise different.
const DATE_SAME_YEAR: f64 = -3.0;
/// Two dates in consecutive years, otherwise different.
const DATE_ADJACENT_YEAR: f64 = -3.5;
/// Anything further apart.
const DATE_FAR: f64 = -5.0;
/// Nothing known of the birth date on one side: not evidence against the
/// pair, but names alone should not make it probable.
const DATE_BLANK: f64 = -1.5;

const SEX_AGREE: f64 = 0.8;
/// Different sex is strong evidence of different people.
const SEX_DISAGREE: f64 = -8.0;

/// Two different valid CURPs more than one typo apart.
const CURP_DIFFERENT: f64 = -6.0;

/// The weight sum that maps to a score of 0.5, and the logistic scale.
const LOGISTIC_CENTER: f64 = 8.0;
const LOGISTIC_SCALE: f64 = 2.5;

/// Compares two person records.
///
/// Returns `None` when the pair scores below [`POSSIBLE_THRESHOLD`].
/// Otherwise:
///
/// * the same valid CURP, or the same missing-person report folio, on both
///   sides is [`MatchLevel::Exact`] with score 1.0, whatever the names say;
/// * different valid CURPs on both sides cap the level at
///   [`MatchLevel::Possible`] (and weigh against the pair), except when they
///   are one typo apart (one character or two adjacent characters
///   transposed among the first 17, the check digit following them), which
///   caps it at [`MatchLevel::Probable`];
/// * otherwise the level follows the score: [`PROBABLE_THRESHOLD`] and
///   above is probable, [`POSSIBLE_THRESHOLD`] and above possible.
///
/// The evidence: names (accents, particles, spelling variants and typos
/// tolerated; a missing second surname is blank, not a mismatch; swapped
/// surnames and swapped given name / surname order are recognized); birth
/// date (exact, day and month transposed, a one-digit typo, or a date within
/// the range an age at a reference date allows; unknown on one side weighs
/// slightly against, so that full names alone reach only `possible`); sex
/// (a different sex is a strong mismatch unless one side is
/// `NO_IDENTIFICADO` or blank).
///
/// The comparison is symmetric: `compare(a, b)` and `compare(b, a)` give the
/// same level and score.
pub fn compare(a: &PersonFacts, b: &PersonFacts) -> Option<MatchResult> {
    compare_prepared(&prepare(a), &prepare(b))
}

/// [`compare`] on records already prepared, without frequencies.
pub(super) fn compare_prepared(a: &Prepared, b: &Prepared) -> Option<MatchResult> {
    compare_weighted(a, b, &NameFrequencies::none())
}

/// [`compare`] with name agreements weighed by how common the names are
/// among the stored people ([`super::frequency`]).
pub(super) fn compare_weighted(
    a: &Prepared,
    b: &Prepared,
    freq: &NameFrequencies,
) -> Option<MatchResult> {
    let names = compare_names(a, b, freq);
    let birth = compare_birth(a.birth, b.birth);
    let sex = match (a.sex, b.sex) {
        (Some(x), Some(y)) if x == y => Field::matched(SEX_AGREE),
        (Some(_), Some(_)) => Field::mismatched(SEX_DISAGREE),
        _ => Field::BLANK,
    };
    let curp = match (&a.curp, &b.curp) {
        (Some(x), Some(y)) if x == y => CurpRelation::Same,
        (Some(x), Some(y)) if one_typo_apart(&x.as_bytes()[..17], &y.as_bytes()[..17]) => {
            CurpRelation::OneTypo
        }
        (Some(_), Some(_)) => CurpRelation::Different,
        _ => CurpRelation::Unknown,
    };
    let report = match (&a.report, &b.report) {
        (Some(x), Some(y)) if x == y => FieldComparison::Match,
        // Two folios may be two reports of one person (to the national and
        // to a state commission): shown, but no evidence either way.
        (Some(_), Some(_)) => FieldComparison::Mismatch,
        _ => FieldComparison::Blank,
    };
    let comparison = Comparison {
        given_names: names.given,
        first_surname: names.first,
        second_surname: names.second,
        birth_date: birth.cmp,
        sex: sex.cmp,
        curp: match curp {
            CurpRelation::Same => FieldComparison::Match,
            CurpRelation::OneTypo | CurpRelation::Different => FieldComparison::Mismatch,
            CurpRelation::Unknown => FieldComparison::Blank,
        },
        missing_report_folio: report,
    };
    if curp == CurpRelation::Same || report == FieldComparison::Match {
        return Some(MatchResult {
            level: MatchLevel::Exact,
            score: 1.0,
            comparison,
        });
    }
    let curp_weight = if curp == CurpRelation::Different {
        CURP_DIFFERENT
    } else {
        0.0
    };
    let total = names.weight + birth.weight + sex.weight + curp_weight;
    let score = round2(1.0 / (1.0 + (-(total - LOGISTIC_CENTER) / LOGISTIC_SCALE).exp()));
    let level = if score >= PROBABLE_THRESHOLD && curp != CurpRelation::Different {
        MatchLevel::Probable
    } else if score >= POSSIBLE_THRESHOLD {
        MatchLevel::Possible
    } else {
        return None;
    };
    Some(MatchResult {
        level,
        score,
        comparison,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CurpRelation {
    Same,
    OneTypo,
    Different,
    Unknown,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One field's evidence weight and its shown comparison.
#[derive(Debug, Clone, Copy)]
struct Field {
    weight: f64,
    cmp: FieldComparison,
}

impl Field {
    const BLANK: Field = Field {
        weight: 0.0,
        cmp: FieldComparison::Blank,
    };

    fn matched(weight: f64) -> Field {
        Field {
            weight,
            cmp: FieldComparison::Match,
        }
    }

    fn mismatched(weight: f64) -> Field {
        Field {
            weight,
            cmp: FieldComparison::Mismatch,
        }
    }
}

/// How two strings of one length differ, position by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Typo {
    /// Same length and no position or more than one typo differs.
    None,
    /// One position differs.
    Replaced,
    /// Two adjacent positions are transposed.
    Transposed,
}

/// Compares position by position without allocating: a check compares a
/// person with a hundred or more candidates, several dates and names each.
fn typo_between(a: &[u8], b: &[u8]) -> Typo {
    if a.len() != b.len() {
        return Typo::None;
    }
    let mut differing = a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y);
    let Some((i, _)) = differing.next() else {
        return Typo::None;
    };
    match (differing.next(), differing.next()) {
        (None, _) => Typo::Replaced,
        (Some((j, _)), None) if j == i + 1 && a[i] == b[j] && a[j] == b[i] => Typo::Transposed,
        _ => Typo::None,
    }
}

/// Same length, and either one position differs or two adjacent positions
/// are transposed.
fn one_typo_apart(a: &[u8], b: &[u8]) -> bool {
    typo_between(a, b) != Typo::None
}

/// Jaro–Winkler with the arguments in a fixed order, so it is symmetric.
fn jw(a: &str, b: &str) -> f64 {
    let sim = if a <= b {
        jaro_winkler(a, b)
    } else {
        jaro_winkler(b, a)
    };
    // One edit changes the length by one at most: most pairs of different
    // names are told apart here without an edit distance.
    if sim < SIM_ONE_EDIT
        && a.chars().count().abs_diff(b.chars().count()) <= 1
        && one_edit_apart(a, b)
    {
        SIM_ONE_EDIT
    } else {
        sim
    }
}

/// At most one edit apart (optimal string alignment, symmetric), both long
/// enough for one edit not to make another name (`ANA`/`AVA`).
fn one_edit_apart(a: &str, b: &str) -> bool {
    let shortest = a.len().min(b.len());
    if shortest >= TYPO_MIN_LEN {
        return osa_distance(a, b) <= 1;
    }
    // A three-letter word only by two adjacent letters transposed
    // (`LZU`/`LUZ`, `NAA`/`ANA`): a replaced letter makes another name
    // (`ANA`/`AVA`).
    shortest == 3 && typo_between(a.as_bytes(), b.as_bytes()) == Typo::Transposed
}

fn word_similarity(a: &Token, b: &Token) -> f64 {
    if a.norm == b.norm || (!a.phon.is_empty() && a.phon == b.phon) {
        1.0
    } else {
        jw(&a.norm, &b.norm).max(jw(&a.phon, &b.phon))
    }
}

/// Similarity of two names in 0..1, symmetric.
///
/// Names with the same number of words are compared word by word (in order
/// or reversed, `JOSÉ LUIS` / `LUIS JOSÉ`) and the weakest word counts, so
/// `MARÍA GUADALUPE` and `MARÍA ELENA` are different names. A name whose
/// words all appear in the other scores at least [`SIM_SUBSET`]. Otherwise
/// the whole strings are compared.
fn name_similarity(a: &Name, b: &Name) -> f64 {
    if a.norm == b.norm || (!a.phon.is_empty() && a.phon == b.phon) {
        return 1.0;
    }
    let whole = || jw(&a.norm, &b.norm).max(jw(&a.phon, &b.phon));
    let (short, long) = if a.tokens.len() <= b.tokens.len() {
        (&a.tokens, &b.tokens)
    } else {
        (&b.tokens, &a.tokens)
    };
    let n = short.len();
    if n == long.len() {
        if n == 1 {
            return whole();
        }
        let weakest = |pair: &dyn Fn(usize) -> usize| {
            (0..n)
                .map(|i| word_similarity(&short[i], &long[pair(i)]))
                .fold(1.0_f64, f64::min)
        };
        weakest(&|i| i).max(weakest(&|i| n - 1 - i))
    } else {
        let subset = short
            .iter()
            .all(|t| long.iter().any(|u| word_similarity(t, u) >= SIM_WORD_FOUND));
        if subset {
            whole().max(SIM_SUBSET)
        } else {
            whole()
        }
    }
}

/// Which terms weigh a name field's agreement, if any.
#[derive(Clone, Copy)]
enum Kind {
    Given,
    Surname,
    /// Given names against a surname (a swapped order): no frequency.
    Mixed,
}

fn name_field(
    a: Option<&Name>,
    b: Option<&Name>,
    w: Weights,
    kind: Kind,
    freq: &NameFrequencies,
) -> Field {
    let (Some(a), Some(b)) = (a, b) else {
        return Field::BLANK;
    };
    let sim = name_similarity(a, b);
    let t = ((sim - SIM_DISAGREE) / (SIM_AGREE - SIM_DISAGREE)).clamp(0.0, 1.0);
    // Only agreement is weighed by frequency, in proportion to how far the
    // names agree.
    let adjustment = if t > 0.0 {
        match kind {
            Kind::Given => {
                freq.adjustment(given_term(a).as_deref(), given_term(b).as_deref(), U_GIVEN)
            }
            Kind::Surname => freq.adjustment(
                surname_term(a).as_deref(),
                surname_term(b).as_deref(),
                U_SURNAME,
            ),
            Kind::Mixed => 0.0,
        }
    } else {
        0.0
    };
    Field {
        weight: w.disagree + (w.agree + adjustment - w.disagree) * t,
        cmp: if sim >= SIM_MATCH {
            FieldComparison::Match
        } else {
            FieldComparison::Mismatch
        },
    }
}

/// The names' evidence under the best of three alignments.
struct NameEvidence {
    weight: f64,
    given: FieldComparison,
    first: FieldComparison,
    second: FieldComparison,
}

fn compare_names(a: &Prepared, b: &Prepared, freq: &NameFrequencies) -> NameEvidence {
    let (ag, af, as_) = (a.given.as_ref(), a.first.as_ref(), a.second.as_ref());
    let (bg, bf, bs) = (b.given.as_ref(), b.first.as_ref(), b.second.as_ref());
    let given = name_field(ag, bg, GIVEN, Kind::Given, freq);

    // As captured.
    let first = name_field(af, bf, FIRST_SURNAME, Kind::Surname, freq);
    let second = name_field(as_, bs, SECOND_SURNAME, Kind::Surname, freq);
    let mut best = NameEvidence {
        weight: given.weight + (first.weight + second.weight),
        given: given.cmp,
        first: first.cmp,
        second: second.cmp,
    };

    // Surnames swapped (also: one record kept only the other's second
    // surname, as its first).
    let x = name_field(af, bs, SURNAME_CROSS, Kind::Surname, freq);
    let y = name_field(as_, bf, SURNAME_CROSS, Kind::Surname, freq);
    let swapped = given.weight + (x.weight + y.weight);
    if swapped > best.weight {
        best = NameEvidence {
            weight: swapped,
            given: given.cmp,
            first: x.cmp,
            second: y.cmp,
        };
    }

    // Given names and first surname swapped.
    let x = name_field(ag, bf, GIVEN_CROSS, Kind::Mixed, freq);
    let y = name_field(af, bg, GIVEN_CROSS, Kind::Mixed, freq);
    let order = (x.weight + y.weight) + second.weight - NAME_ORDER_PENALTY;
    if order > best.weight {
        best = NameEvidence {
            weight: order,
            given: x.cmp,
            first: y.cmp,
            second: second.cmp,
        };
    }
    best
}

/// Compares what is known of two birth dates.
fn compare_birth(a: Birth, b: Birth) -> Field {
    let weight = match (a, b) {
        (Birth::Unknown, _) | (_, Birth::Unknown) => {
            return Field {
                weight: DATE_BLANK,
                cmp: FieldComparison::Blank,
            }
        }
        (Birth::Date(x), Birth::Date(y)) => compare_dates(x, y),
        (Birth::Date(d), Birth::Range(lo, hi)) | (Birth::Range(lo, hi), Birth::Date(d)) => {
            ranges_evidence(d, d, lo, hi, DATE_IN_AGE_RANGE)
        }
        (Birth::Range(lo1, hi1), Birth::Range(lo2, hi2)) => {
            ranges_evidence(lo1, hi1, lo2, hi2, AGE_RANGES_OVERLAP)
        }
    };
    if weight > 0.0 {
        Field::matched(weight)
    } else {
        Field::mismatched(weight)
    }
}

fn compare_dates(x: chrono::NaiveDate, y: chrono::NaiveDate) -> f64 {
    if x == y {
        DATE_EXACT
    } else if x.year() == y.year() && x.day() == y.month() && x.month() == y.day() {
        DATE_TRANSPOSED
    } else if (x.year() - y.year()).abs() == 1 && x.month() == y.month() && x.day() == y.day() {
        DATE_YEAR_OFF
    } else if match (yyyymmdd(x), yyyymmdd(y)) {
        (Some(a), Some(b)) => one_typo_apart(&a, &b),
        _ => one_typo_apart(
            x.format("%Y%m%d").to_string().as_bytes(),
            y.format("%Y%m%d").to_string().as_bytes(),
        ),
    } {
        DATE_TYPO
    } else if x.year() == y.year() {
        DATE_SAME_YEAR
    } else if (x.year() - y.year()).abs() == 1 {
        DATE_ADJACENT_YEAR
    } else {
        DATE_FAR
    }
}

/// The digits of a date as `%Y%m%d` writes them, for years 0 to 9999,
/// without formatting a string: nearly every comparison looks for a typo
/// between two dates.
fn yyyymmdd(d: chrono::NaiveDate) -> Option<[u8; 8]> {
    let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
    let mut rest = year * 10_000 + d.month() * 100 + d.day();
    let mut digits = [0u8; 8];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    Some(digits)
}

/// Evidence from two inclusive date ranges: `overlap` when they overlap,
/// [`DATE_NEAR`] when less than a year apart, [`DATE_FAR`] otherwise.
fn ranges_evidence(
    lo1: chrono::NaiveDate,
    hi1: chrono::NaiveDate,
    lo2: chrono::NaiveDate,
    hi2: chrono::NaiveDate,
    overlap: f64,
) -> f64 {
    let gap = if hi1 < lo2 {
        (lo2 - hi1).num_days()
    } else if hi2 < lo1 {
        (lo1 - hi2).num_days()
    } else {
        return overlap;
    };
    if gap <= 366 {
        DATE_NEAR
    } else {
        DATE_FAR
    }
}
