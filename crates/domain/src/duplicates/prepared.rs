//! A person record reduced to what matching needs: normalized and phonetic
//! names, the known or age-derived birth dates, the sex and a valid CURP.

use chrono::{Datelike, Months, NaiveDate};

use super::normalize::{normalize_given_names, normalize_name};
use super::phonetic::phonetic_key;
use super::PersonFacts;
use crate::curp::validate_curp;

/// One word of a name, normalized and as a phonetic key.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub norm: String,
    pub phon: String,
}

/// A normalized, non-empty name.
#[derive(Debug, Clone)]
pub(super) struct Name {
    pub norm: String,
    pub phon: String,
    pub tokens: Vec<Token>,
}

impl Name {
    fn new(norm: String) -> Option<Name> {
        if norm.is_empty() {
            return None;
        }
        let tokens: Vec<Token> = norm
            .split(' ')
            .map(|w| Token {
                norm: w.to_owned(),
                phon: phonetic_key(w),
            })
            .collect();
        let phon = tokens
            .iter()
            .map(|t| t.phon.as_str())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Some(Name { norm, phon, tokens })
    }
}

/// What is known of the date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Birth {
    Unknown,
    /// A date of birth (captured, or read from a valid CURP).
    Date(NaiveDate),
    /// An age at a reference date: the birth date lies in `lo..=hi`.
    Range(NaiveDate, NaiveDate),
}

impl Birth {
    /// The birth years this record may have: one for a date, one or two for
    /// an age, none when unknown.
    pub fn years(self) -> Vec<i32> {
        match self {
            Birth::Unknown => Vec::new(),
            Birth::Date(d) => vec![d.year()],
            Birth::Range(lo, hi) => (lo.year()..=hi.year()).collect(),
        }
    }
}

/// The range of birth dates of someone `age` years old at `at`: born after
/// `at − (age+1)` years and on or before `at − age` years.
pub(super) fn age_range(age: u32, at: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    if age > 130 {
        return None;
    }
    let hi = at.checked_sub_months(Months::new(age * 12))?;
    let lo = at
        .checked_sub_months(Months::new((age + 1) * 12))?
        .succ_opt()?;
    Some((lo, hi))
}

/// Sex, with `NO_IDENTIFICADO` and unknown codes read as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sex {
    Female,
    Male,
    Intersex,
}

fn parse_sex(code: &str) -> Option<Sex> {
    match code.trim().to_uppercase().as_str() {
        "MUJER" => Some(Sex::Female),
        "HOMBRE" => Some(Sex::Male),
        "INTERSEXUAL" => Some(Sex::Intersex),
        _ => None,
    }
}

/// A person ready to be compared or keyed.
#[derive(Debug, Clone)]
pub(super) struct Prepared {
    pub given: Option<Name>,
    pub first: Option<Name>,
    pub second: Option<Name>,
    pub birth: Birth,
    pub sex: Option<Sex>,
    /// A CURP that passed validation, upper case.
    pub curp: Option<String>,
    /// A well-formed missing-person report folio, upper case.
    pub report: Option<String>,
}

pub(super) fn prepare(p: &PersonFacts) -> Prepared {
    let name = |s: &Option<String>, given: bool| {
        s.as_deref().and_then(|s| {
            Name::new(if given {
                normalize_given_names(s)
            } else {
                normalize_name(s)
            })
        })
    };
    let curp = p.curp.as_deref().and_then(|c| validate_curp(c).ok());
    let birth = match (p.birth_date, &curp, p.age_years, p.age_reference_date) {
        (Some(d), _, _, _) => Birth::Date(d),
        (None, Some(c), _, _) => Birth::Date(c.birth_date()),
        (None, None, Some(age), Some(at)) => {
            age_range(age, at).map_or(Birth::Unknown, |(lo, hi)| Birth::Range(lo, hi))
        }
        _ => Birth::Unknown,
    };
    let sex = p.sex.as_deref().and_then(parse_sex).or_else(|| {
        curp.as_ref().and_then(|c| match c.sex() {
            'H' => Some(Sex::Male),
            'M' => Some(Sex::Female),
            _ => None,
        })
    });
    Prepared {
        given: name(&p.given_names, true),
        first: name(&p.first_surname, false),
        second: name(&p.second_surname, false),
        birth,
        sex,
        curp: curp.map(|c| c.as_str().to_owned()),
        // Any year up to far ahead: validation already bounded it by today;
        // here only the layout matters.
        report: p
            .missing_report_folio
            .as_deref()
            .and_then(|f| crate::missing_report::parse(f, 9999).ok())
            .map(|f| f.as_str().to_owned()),
    }
}
