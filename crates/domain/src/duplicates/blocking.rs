//! Blocking keys: the few strings stored per person in an indexed table
//! `(person_id, key)`, so a duplicate check fetches only the people sharing
//! a key with the new record instead of scanning everyone.

use chrono::Datelike;

use super::prepared::{prepare, Birth, Name, Prepared, Sex};
use super::PersonFacts;

/// The most keys [`blocking_keys`] returns for one person (an age spans
/// two birth years, so an age-only person may need fourteen).
pub const MAX_BLOCKING_KEYS: usize = 14;

/// The blocking keys of a person: at most [`MAX_BLOCKING_KEYS`], none when
/// nothing identifying is known.
///
/// Below, `g`, `f` and `s` stand for the phonetic keys
/// ([`phonetic_key`](super::phonetic_key)) of the given names (all words:
/// `MARIA_GUADALUPE`), of the first surname and of the second surname; `y`
/// for each possible birth year: the year of the date of birth (captured or
/// read from the CURP), or the one or two years an age at a reference date
/// allows. In order of priority (later ones are dropped beyond the limit):
///
/// | key | when | catches |
/// |---|---|---|
/// | `C:<curp>` | valid CURP | same CURP |
/// | `R:<folio>` | missing-person report folio | same report |
/// | `N:g:f:y` | | second surname missing or mistyped |
/// | `S:f':s':y:<sex>` (surnames sorted) | both surnames | swapped surnames; given name mistyped, abbreviated or partly captured |
/// | `N:g:s:y` (same namespace as `N:g:f:y`) | | first surname mistyped; swapped surnames; only the second surname kept, as first |
/// | `F:f:y:<initial of g>:<sex>`, `F:s:y:<initial of g>:<sex>` (one namespace) | | given name mistyped past its first letter while a surname is missing or mistyped too (or swapped), with only an age |
/// | `G:g:y:<initial of f>:<sex>` | | first surname mistyped past its first letter while the second is missing, with only an age |
/// | `D:yyyy:<day and month, smaller first>:<initial of g>` | date of birth | given name or first surname mistyped while a second surname is missing, even with day and month transposed |
/// | `X:g:f':s'` (surnames sorted, no year) | both surnames | no or wrong birth information |
///
/// Each key joins at least three attributes, so blocks stay small even for
/// the most common names: on a generated population of 1,000,000 people
/// with realistic name frequencies, no block exceeds about a hundred rows
/// (see the ignored test `block_sizes_at_one_million`). The phonetic key
/// absorbs accents, particles and spelling variants; a typo changes at most
/// one of `g`, `f`, `s`, and some key avoids it.
///
/// Two records that may be the same person share at least one key unless
/// several of these go wrong at once (for example a typo in the first
/// surname, no second surname and only an age). A check looks these up
/// with every year widened by one ([`probe_keys`]), so a year one off or an
/// age one off still meets them.
pub fn blocking_keys(p: &PersonFacts) -> Vec<String> {
    keys_of(&prepare(p))
}

/// The keys a check looks up for a person: its own stored keys
/// ([`blocking_keys`]) with every birth year widened by one year each way.
/// A year typed one off (1980 for 1981) or an age one year off then still
/// meets the other record's stored keys, while each stored key keeps the
/// exact year and blocks stay as small as before: a lookup reads three
/// small blocks instead of one larger one.
pub fn probe_keys(p: &PersonFacts) -> Vec<String> {
    probes_of(&prepare(p))
}

/// The phonetic key of a name, its words joined by `_`.
fn joined(n: &Name) -> String {
    n.tokens
        .iter()
        .map(|t| t.phon.as_str())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

pub(super) fn keys_of(p: &Prepared) -> Vec<String> {
    keys_with(p, false)
}

pub(super) fn probes_of(p: &Prepared) -> Vec<String> {
    keys_with(p, true)
}

/// The years a key family is written for: the person's own (stored keys),
/// or those widened by one each way (probes).
fn years_of(birth: Birth, probe: bool) -> Vec<i32> {
    let own = birth.years();
    if !probe {
        return own;
    }
    match (own.first(), own.last()) {
        (Some(lo), Some(hi)) => (lo - 1..=hi + 1).collect(),
        _ => own,
    }
}

fn keys_with(p: &Prepared, probe: bool) -> Vec<String> {
    // Probes are not stored: they carry every family for every widened
    // year, however many that makes (at most 2 + 4·6 + 3 + 1).
    let cap = if probe { usize::MAX } else { MAX_BLOCKING_KEYS };
    let mut keys: Vec<String> = Vec::with_capacity(MAX_BLOCKING_KEYS);
    let mut push = |key: String| {
        if keys.len() < cap && !keys.contains(&key) {
            keys.push(key);
        }
    };
    if let Some(curp) = &p.curp {
        push(format!("C:{curp}"));
    }
    if let Some(report) = &p.report {
        push(format!("R:{report}"));
    }
    let g = p.given.as_ref().map(joined).filter(|k| !k.is_empty());
    let f = p.first.as_ref().map(joined).filter(|k| !k.is_empty());
    let s = p.second.as_ref().map(joined).filter(|k| !k.is_empty());
    let sorted = match (&f, &s) {
        (Some(f), Some(s)) if f <= s => Some(format!("{f}:{s}")),
        (Some(f), Some(s)) => Some(format!("{s}:{f}")),
        _ => None,
    };
    let sex = match p.sex {
        Some(Sex::Female) => 'M',
        Some(Sex::Male) => 'H',
        Some(Sex::Intersex) => 'I',
        None => 'U',
    };
    let years = years_of(p.birth, probe);
    if let (Some(g), Some(f)) = (&g, &f) {
        for y in &years {
            push(format!("N:{g}:{f}:{y}"));
        }
    }
    if let Some(both) = &sorted {
        for y in &years {
            push(format!("S:{both}:{y}:{sex}"));
        }
    }
    if let (Some(g), Some(s)) = (&g, &s) {
        for y in &years {
            push(format!("N:{g}:{s}:{y}"));
        }
    }
    // The given names' initial and the sex split the block of a common
    // surname and year (a typo rarely hits the first letter).
    let initial = g.as_deref().and_then(|g| g.chars().next());
    if let Some(initial) = initial {
        for surname in [&f, &s].into_iter().flatten() {
            for y in &years {
                push(format!("F:{surname}:{y}:{initial}:{sex}"));
            }
        }
    }
    if let (Some(g), Some(initial)) = (&g, f.as_deref().and_then(|f| f.chars().next())) {
        for y in &years {
            push(format!("G:{g}:{y}:{initial}:{sex}"));
        }
    }
    if let Birth::Date(d) = p.birth {
        // Day and month in increasing order, so a transposed date keeps its
        // key; the initial of the given names splits the block (a typo
        // rarely hits the first letter).
        let (lo, hi) = if d.day() < d.month() {
            (d.day(), d.month())
        } else {
            (d.month(), d.day())
        };
        let initial = g.as_deref().and_then(|g| g.chars().next()).unwrap_or('_');
        for y in years_of(p.birth, probe) {
            push(format!("D:{y}:{lo:02}{hi:02}:{initial}"));
        }
    }
    if let (Some(g), Some(both)) = (&g, &sorted) {
        push(format!("X:{g}:{both}"));
    }
    keys
}
