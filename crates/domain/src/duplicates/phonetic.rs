//! A Spanish phonetic key, tuned to the spelling variants of Mexican names.

use super::normalize::fold;

/// The Spanish phonetic key of a (normalized) name of one or more words;
/// words stay separated by one space.
///
/// Letters that sound alike in Mexican Spanish get one code, so common
/// spelling variants share a key:
///
/// | spelling | key | example |
/// |---|---|---|
/// | `S`, `Z`, `C` before `E`/`I`/`Y` | `S` | `GONZÁLEZ`/`GONSALES`, `CÉSAR`/`SÉSAR` |
/// | `B`, `V`, `W` | `B` | `VERÓNICA`/`BERÓNICA`, `OSWALDO`/`OSVALDO` |
/// | `LL`, `Y` before a vowel | `Y` | `CEBALLOS`/`CEBAYOS` |
/// | `Y` otherwise, `I` | `I` | `YSABEL`/`ISABEL` |
/// | `H` (but `CH`) | silent | `HERNÁNDEZ`/`ERNÁNDEZ` |
/// | `QU` before `E`/`I`, `Q`, `K`, `C` otherwise | `K` | `QUIROZ`/`KIROZ`, `CARLA`/`KARLA` |
/// | `G` before `E`/`I`, `J`, `X` | `J` | `GERARDO`/`JERARDO`, `XIMENA`/`JIMENA`, `MÉXICO`/`MÉJICO` |
/// | `GU` before `E`/`I` | `G` | `GUILLERMO` → `GIYERMO` |
/// | `CH` | `C` | `CHÁVEZ` (a `C` in a key always stands for `CH`) |
/// | `PH` | `F` | `JOSEPH`/`JOSEF` |
/// | `N` before `B`/`V`/`P` | `M` | `SANPEDRO`/`SAMPEDRO` |
///
/// Repeated codes collapse (`RR`→`R`). Vowels are kept, which keeps
/// `GARCÍA` and `GARZA` apart. Accents and case are folded, so the key of an
/// unnormalized name is the key of its normalized form except for particles,
/// which only [`normalize_name`](super::normalize_name) removes.
///
/// ```
/// use sintra_domain::duplicates::phonetic_key;
/// assert_eq!(phonetic_key("HERNANDEZ"), phonetic_key("ERNANDES"));
/// assert_eq!(phonetic_key("XIMENA"), phonetic_key("JIMENA"));
/// assert_ne!(phonetic_key("GARCIA"), phonetic_key("GARZA"));
/// ```
pub fn phonetic_key(s: &str) -> String {
    let folded = fold(s);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        let code = encode_word(word.as_bytes());
        if code.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&code);
    }
    out
}

fn is_vowel(c: Option<u8>) -> bool {
    matches!(c, Some(b'A' | b'E' | b'I' | b'O' | b'U'))
}

/// `E`, `I` and `Y`: the letters that soften a preceding `C` or `G`.
fn is_front(c: Option<u8>) -> bool {
    matches!(c, Some(b'E' | b'I' | b'Y'))
}

/// Encodes one upper-case word; bytes outside `A`–`Z` (letters of other
/// alphabets left by folding) are skipped.
fn encode_word(word: &[u8]) -> String {
    let b: Vec<u8> = word
        .iter()
        .copied()
        .filter(u8::is_ascii_uppercase)
        .collect();
    let at = |i: usize| b.get(i).copied();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let next = at(i + 1);
        let mut step = 1;
        let code = match b[i] {
            c @ (b'A' | b'E' | b'I' | b'O' | b'U') => Some(c),
            b'Y' if is_vowel(next) => Some(b'Y'),
            b'Y' => Some(b'I'),
            b'L' if next == Some(b'L') => {
                step = 2;
                Some(b'Y')
            }
            b'B' | b'V' | b'W' => Some(b'B'),
            b'C' if next == Some(b'H') => {
                step = 2;
                Some(b'C')
            }
            b'C' if is_front(next) => Some(b'S'),
            b'C' | b'K' => Some(b'K'),
            b'Q' => {
                if next == Some(b'U') {
                    step = 2;
                }
                Some(b'K')
            }
            b'G' if is_front(next) => Some(b'J'),
            b'G' if next == Some(b'U') && is_front(at(i + 2)) => {
                step = 2;
                Some(b'G')
            }
            b'J' | b'X' => Some(b'J'),
            b'H' => None,
            b'S' | b'Z' => Some(b'S'),
            b'P' if next == Some(b'H') => {
                step = 2;
                Some(b'F')
            }
            b'N' if matches!(next, Some(b'B' | b'V' | b'P')) => Some(b'M'),
            c => Some(c),
        };
        if let Some(code) = code {
            if out.last() != Some(&code) {
                out.push(code);
            }
        }
        i += step;
    }
    // Only ASCII upper-case letters were pushed.
    String::from_utf8(out).unwrap_or_default()
}
