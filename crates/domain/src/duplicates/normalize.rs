//! Name normalization: upper case, no accents, no punctuation, no particles.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Words that carry no identity in a Spanish name and are often dropped or
/// added: `DE LA CRUZ` / `CRUZ`, `DEL ÁNGEL` / `ÁNGEL`,
/// `MARÍA DE LOS ÁNGELES` / `MARÍA ÁNGELES`, `PÉREZ Y PÉREZ`.
const PARTICLES: &[&str] = &[
    "DE", "DEL", "LA", "LAS", "LOS", "EL", "Y", "E", "DA", "DAS", "DO", "DOS", "DI", "VAN", "VON",
];

/// Abbreviations of given names common in Mexican records (`MA. GUADALUPE`,
/// `Mª`, `GPE.`), expanded by [`normalize_given_names`].
const GIVEN_ABBREVIATIONS: &[(&str, &str)] = &[("MA", "MARIA"), ("GPE", "GUADALUPE")];

/// Folds `s` to upper-case letters and spaces: compatibility decomposition
/// (so `ª` becomes `A`), combining marks dropped (`Á`→`A`, `Ñ`→`N`,
/// `Ü`→`U`), everything that is not a letter turned into a space.
pub(super) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(' ');
        }
    }
    out
}

/// Normalizes a name (given names or a surname) for comparison: upper case,
/// accents removed (`Ñ` becomes `N`), punctuation and digits turned into
/// spaces, particles (`DE`, `DEL`, `LA`, `LAS`, `LOS`, `EL`, `Y`, `E`, …)
/// removed and whitespace collapsed.
///
/// A name made only of particles is kept (normalized) rather than emptied.
/// An empty or blank input gives an empty string.
///
/// ```
/// use sintra_domain::duplicates::normalize_name;
/// assert_eq!(normalize_name("  de la Cruz "), "CRUZ");
/// assert_eq!(normalize_name("María de los Ángeles"), "MARIA ANGELES");
/// assert_eq!(normalize_name("Peña-Muñoz"), "PENA MUNOZ");
/// ```
pub fn normalize_name(s: &str) -> String {
    let folded = fold(s);
    let words: Vec<&str> = folded.split_whitespace().collect();
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !PARTICLES.contains(w))
        .collect();
    if kept.is_empty() {
        words.join(" ")
    } else {
        kept.join(" ")
    }
}

/// [`normalize_name`] for given names, which also expands the usual
/// abbreviations: `MA.` / `Mª` → `MARIA`, `GPE.` → `GUADALUPE`.
///
/// ```
/// use sintra_domain::duplicates::normalize_given_names;
/// assert_eq!(normalize_given_names("Ma. Gpe."), "MARIA GUADALUPE");
/// ```
pub fn normalize_given_names(s: &str) -> String {
    normalize_name(s)
        .split(' ')
        .map(|w| {
            GIVEN_ABBREVIATIONS
                .iter()
                .find(|(abbr, _)| *abbr == w)
                .map_or(w, |(_, full)| full)
        })
        .collect::<Vec<_>>()
        .join(" ")
}
