//! CURP (Clave Única de Registro de Población) validation.
//!
//! A CURP is 18 characters: four letters taken from the names, the birth
//! date as `YYMMDD`, the sex (`H`, `M`, or `X` for non-binary people as
//! RENAPO now issues), the two-letter key of the state of birth (`NE` for
//! people born abroad), three internal consonants of the names, a
//! differentiator RENAPO assigns (a digit for people born before 2000, a
//! letter from 2000 on, which is what resolves the century of `YY`) and a
//! check digit.
//!
//! Validation is structural: it proves the key is well formed and
//! internally consistent, not that RENAPO issued it. It never echoes the
//! CURP in its messages, since a CURP is personal data.

use std::fmt;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

use crate::i18n::Message;
use crate::validation::FieldCode;

/// The alphabet of the check-digit computation: a character's value is its
/// position (`0`→0 … `A`→10 … `Ñ`→24 … `Z`→36).
const CHECK_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ";

/// The state keys CURP uses, with the INEGI entity code each stands for.
/// `NE` (nacido en el extranjero) has no entity.
const STATES: [(&str, Option<&str>); 33] = [
    ("AS", Some("01")),
    ("BC", Some("02")),
    ("BS", Some("03")),
    ("CC", Some("04")),
    ("CL", Some("05")),
    ("CM", Some("06")),
    ("CS", Some("07")),
    ("CH", Some("08")),
    ("DF", Some("09")),
    ("DG", Some("10")),
    ("GT", Some("11")),
    ("GR", Some("12")),
    ("HG", Some("13")),
    ("JC", Some("14")),
    ("MC", Some("15")),
    ("MN", Some("16")),
    ("MS", Some("17")),
    ("NT", Some("18")),
    ("NL", Some("19")),
    ("OC", Some("20")),
    ("PL", Some("21")),
    ("QT", Some("22")),
    ("QR", Some("23")),
    ("SP", Some("24")),
    ("SL", Some("25")),
    ("SR", Some("26")),
    ("TC", Some("27")),
    ("TS", Some("28")),
    ("TL", Some("29")),
    ("VZ", Some("30")),
    ("YN", Some("31")),
    ("ZS", Some("32")),
    ("NE", None),
];

/// The two-letter state keys a CURP may carry, `NE` included.
pub fn state_keys() -> impl Iterator<Item = &'static str> {
    STATES.iter().map(|(key, _)| *key)
}

/// A CURP that passed [`validate_curp`]: upper case, 18 characters, with a
/// real birth date and a matching check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Curp {
    code: String,
    birth_date: NaiveDate,
    state: &'static str,
    entity_code: Option<&'static str>,
}

impl Curp {
    /// The normalized CURP (upper case, no surrounding blanks).
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The birth date encoded in positions 5–10, with the century taken
    /// from the differentiator.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex letter: `H` (hombre), `M` (mujer) or `X` (no binario).
    pub fn sex(&self) -> char {
        char::from(self.code.as_bytes()[10])
    }

    /// The two-letter state key of the place of birth (`NE` if abroad).
    pub fn state_key(&self) -> &'static str {
        self.state
    }

    /// The INEGI entity code (`01`..`32`) of the place of birth, or `None`
    /// for people born abroad.
    pub fn entity_code(&self) -> Option<&'static str> {
        self.entity_code
    }
}

impl fmt::Display for Curp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl Serialize for Curp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code)
    }
}

/// Why a CURP was refused. Each kind has a stable machine [`code`](Self::code)
/// and a bilingual [`message`](Self::message) that never contains the CURP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CurpError {
    /// Not 18 characters, or a character of the wrong class at some position.
    #[error("the CURP does not have the official layout")]
    Format,
    /// The `YYMMDD` part is not a real calendar date.
    #[error("the birth date in the CURP does not exist")]
    Date,
    /// The two-letter state key is not one CURP uses.
    #[error("the state key of the CURP is not valid")]
    State,
    /// The last digit does not match the other 17 characters.
    #[error("the CURP check digit does not match")]
    CheckDigit,
}

impl CurpError {
    /// The machine code, as in the API's `errors[].code`.
    pub fn code(self) -> FieldCode {
        match self {
            CurpError::Format => FieldCode::CurpFormat,
            CurpError::Date => FieldCode::CurpDate,
            CurpError::State => FieldCode::CurpState,
            CurpError::CheckDigit => FieldCode::CurpCheckDigit,
        }
    }

    /// The human message in Spanish and English.
    pub fn message(self) -> Message {
        match self {
            CurpError::Format => Message::new(
                "La CURP debe tener 18 caracteres con el formato oficial: 4 letras, fecha de \
                 nacimiento AAMMDD, sexo (H, M o X), clave de entidad, 3 consonantes, \
                 diferenciador y dígito verificador.",
                "The CURP must have 18 characters in the official layout: 4 letters, birth \
                 date YYMMDD, sex (H, M or X), state key, 3 consonants, differentiator and \
                 check digit.",
            ),
            CurpError::Date => Message::new(
                "La fecha de nacimiento contenida en la CURP no existe.",
                "The birth date contained in the CURP does not exist.",
            ),
            CurpError::State => Message::new(
                "La clave de entidad de nacimiento de la CURP no es válida.",
                "The state-of-birth key of the CURP is not valid.",
            ),
            CurpError::CheckDigit => Message::new(
                "El dígito verificador de la CURP no corresponde.",
                "The CURP check digit does not match.",
            ),
        }
    }
}

/// The value of a character in the check-digit alphabet.
fn check_value(c: char) -> Option<u32> {
    CHECK_ALPHABET
        .chars()
        .position(|a| a == c)
        .map(|p| p as u32)
}

/// The check digit of the first 17 characters of a CURP:
/// `(10 − Σ value(cᵢ)·(18−i) mod 10) mod 10`. `None` if a character lies
/// outside the alphabet or fewer than 17 characters are given.
pub fn check_digit(first17: &str) -> Option<u32> {
    let mut sum = 0u32;
    let mut count = 0;
    for (i, c) in first17.chars().take(17).enumerate() {
        sum += check_value(c)? * (18 - i as u32);
        count += 1;
    }
    (count == 17).then_some((10 - sum % 10) % 10)
}

fn is_consonant(c: char) -> bool {
    c.is_ascii_uppercase() && !matches!(c, 'A' | 'E' | 'I' | 'O' | 'U')
}

/// Validates a CURP. Surrounding blanks are ignored and letters may come in
/// either case; the returned [`Curp`] is normalized to upper case.
///
/// Checks run in the order of the key (layout, date, state, check digit)
/// and the first failure is reported.
pub fn validate_curp(s: &str) -> Result<Curp, CurpError> {
    let code = s.trim().to_uppercase();
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(CurpError::Format);
    }
    let layout_ok = chars[0..4].iter().all(char::is_ascii_uppercase)
        && chars[4..10].iter().all(char::is_ascii_digit)
        && matches!(chars[10], 'H' | 'M' | 'X')
        && chars[11..13].iter().all(char::is_ascii_uppercase)
        && chars[13..16].iter().all(|c| is_consonant(*c))
        && (chars[16].is_ascii_digit() || chars[16].is_ascii_uppercase())
        && chars[17].is_ascii_digit();
    if !layout_ok {
        return Err(CurpError::Format);
    }
    // Everything is ASCII from here on, so byte slicing is safe.
    let num = |range: std::ops::Range<usize>| code[range].parse::<u32>().unwrap_or(0);
    let century = if chars[16].is_ascii_digit() {
        1900
    } else {
        2000
    };
    let year = century + num(4..6) as i32;
    let birth_date = NaiveDate::from_ymd_opt(year, num(6..8), num(8..10)).ok_or(CurpError::Date)?;
    let (state, entity_code) = STATES
        .iter()
        .find(|(key, _)| *key == &code[11..13])
        .copied()
        .ok_or(CurpError::State)?;
    let expected = check_digit(&code[..17]).ok_or(CurpError::Format)?;
    if chars[17].to_digit(10) != Some(expected) {
        return Err(CurpError::CheckDigit);
    }
    Ok(Curp {
        code,
        birth_date,
        state,
        entity_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    #[test]
    fn known_valid_curps_are_accepted() {
        let curp = validate_curp("BOXW310820HNERXN09").unwrap();
        assert_eq!(
            curp.birth_date(),
            NaiveDate::from_ymd_opt(1931, 8, 20).unwrap()
        );
        assert_eq!(curp.sex(), 'H');
        assert_eq!(curp.state_key(), "NE");
        assert_eq!(curp.entity_code(), None);

        let curp = validate_curp(" sabc560626mdflrn01 ").unwrap();
        assert_eq!(curp.as_str(), "SABC560626MDFLRN01");
        assert_eq!(
            curp.birth_date(),
            NaiveDate::from_ymd_opt(1956, 6, 26).unwrap()
        );
        assert_eq!(curp.sex(), 'M');
        assert_eq!(curp.state_key(), "DF");
        assert_eq!(curp.entity_code(), Some("09"));
    }

    #[test]
    fn layout_errors_are_format_errors() {
        for bad in [
            "",
            "BOXW310820HNERXN0",
            "BOXW310820HNERXN091",
            "B0XW310820HNERXN09",
            "BOXW31O820HNERXN09",
            "BOXW310820ZNERXN09",
            "BOXW310820HNERAN09",
            "BOXW310820HNERXN0A",
            "BOXW310820HNERXN-9",
        ] {
            assert_eq!(validate_curp(bad), Err(CurpError::Format), "{bad}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(CurpError::Format.code(), "curp_format");
        assert_eq!(CurpError::Date.code(), "curp_date");
        assert_eq!(CurpError::State.code(), "curp_state");
        assert_eq!(CurpError::CheckDigit.code(), "curp_check_digit");
        assert_eq!(
            CurpError::CheckDigit.message().es,
            "El dígito verificador de la CURP no corresponde."
        );
    }

    #[test]
    fn the_differentiator_resolves_the_century() {
        let curp = with_digit("GOMA050101MNLRRRA");
        let curp = validate_curp(&curp).unwrap();
        assert_eq!(
            curp.birth_date(),
            NaiveDate::from_ymd_opt(2005, 1, 1).unwrap()
        );
        let curp = with_digit("GOMA050101MNLRRR0");
        let curp = validate_curp(&curp).unwrap();
        assert_eq!(
            curp.birth_date(),
            NaiveDate::from_ymd_opt(1905, 1, 1).unwrap()
        );
        // 29 February exists in 2000 but not in 1900.
        assert!(validate_curp(&with_digit("GOMA000229MNLRRRA")).is_ok());
        assert_eq!(
            validate_curp(&with_digit("GOMA000229MNLRRR0")),
            Err(CurpError::Date)
        );
    }

    /// Completes 17 characters with their check digit.
    fn with_digit(first17: &str) -> String {
        format!("{first17}{}", check_digit(first17).unwrap())
    }

    const CONSONANTS: &str = "BCDFGHJKLMNPQRSTVWXYZ";

    fn letter() -> impl Strategy<Value = char> {
        proptest::char::range('A', 'Z')
    }

    fn consonant() -> impl Strategy<Value = char> {
        proptest::sample::select(CONSONANTS.chars().collect::<Vec<_>>())
    }

    prop_compose! {
        /// A valid CURP with its birth date.
        fn valid_curp()(
            letters in proptest::collection::vec(letter(), 4),
            days in 0i64..(200 * 365),
            sex in proptest::sample::select(vec!['H', 'M', 'X']),
            state in proptest::sample::select(STATES.iter().map(|s| s.0).collect::<Vec<_>>()),
            consonants in proptest::collection::vec(consonant(), 3),
            digit_diff in 0u32..10,
            letter_diff in letter(),
        ) -> (String, NaiveDate) {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            let diff = if date.year() < 2000 {
                char::from_digit(digit_diff, 10).unwrap()
            } else {
                letter_diff
            };
            let first17: String = letters.iter().collect::<String>()
                + &date.format("%y%m%d").to_string()
                + &sex.to_string()
                + state
                + &consonants.iter().collect::<String>()
                + &diff.to_string();
            (with_digit(&first17), date)
        }
    }

    proptest! {
        #[test]
        fn generated_curps_are_accepted((curp, date) in valid_curp()) {
            let parsed = validate_curp(&curp).unwrap();
            prop_assert_eq!(parsed.birth_date(), date);
            prop_assert_eq!(parsed.as_str(), curp.as_str());
        }

        #[test]
        fn a_changed_check_digit_is_refused((curp, _) in valid_curp(), shift in 1u32..10) {
            let digit = curp[17..].parse::<u32>().unwrap();
            let bad = format!("{}{}", &curp[..17], (digit + shift) % 10);
            prop_assert_eq!(validate_curp(&bad), Err(CurpError::CheckDigit));
        }

        #[test]
        fn impossible_dates_are_refused(
            (curp, _) in valid_curp(),
            mmdd in prop_oneof![
                Just("0231"), Just("0230"), Just("0431"), Just("0631"), Just("0931"),
                Just("1131"), Just("0000"), Just("0100"), Just("1301"), Just("0132"),
                Just("9999"),
            ],
        ) {
            let first17 = format!("{}{}{}", &curp[..6], mmdd, &curp[10..17]);
            prop_assert_eq!(validate_curp(&with_digit(&first17)), Err(CurpError::Date));
        }

        #[test]
        fn unknown_state_keys_are_refused(
            (curp, _) in valid_curp(),
            a in letter(),
            b in letter(),
        ) {
            let key: String = [a, b].iter().collect();
            prop_assume!(!STATES.iter().any(|s| s.0 == key));
            let first17 = format!("{}{}{}", &curp[..11], key, &curp[13..17]);
            prop_assert_eq!(validate_curp(&with_digit(&first17)), Err(CurpError::State));
        }
    }
}
