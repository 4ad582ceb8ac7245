//! A generated, labelled set of people for calibrating and measuring
//! duplicate detection (test builds, or the `labelled-set` feature for the
//! benchmark crate).
//!
//! [`generate`] is seeded and deterministic for a given `rand` version. It
//! draws realistic Mexican people: common given names, compound ones like
//! `MARÍA GUADALUPE` and `JOSÉ LUIS`, plus a tail of rarer compounds
//! (`LUZ VALERIA`); common surnames at their real frequencies, including
//! `DE LA CRUZ` and `DEL ÁNGEL`, plus a synthetic tail of rare surnames so
//! the common ones are not over-represented; about 5% without a second
//! surname; sex; a date of birth, or for 15% only the age at the detection
//! date; a CURP with a correct check digit for about 40% of them. Half are
//! captured with accents, half without. Then:
//!
//! * **hard negatives** (about 18% of the people), distinct people built to
//!   look like an earlier one: same first surname and birth year, siblings
//!   (same surnames, other given name, born 1 to 10 years apart), twins
//!   (same surnames and date, other given name) and namesakes (same names,
//!   other date, in the same year 30% of the time);
//! * **perturbed copies** of distinct people, detected again up to two years
//!   later, each with one to three [`Perturbation`]s of the kinds real
//!   records show (and, for 60% of copies of people with a CURP, the CURP
//!   dropped); each (original, copy) pair is a true duplicate.

use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::normalize::{fold, normalize_name};
use super::PersonFacts;
use crate::curp::{check_digit, state_keys};

/// How a copy differs from its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perturbation {
    /// Accents dropped (`HERNÁNDEZ` → `HERNANDEZ`) or added back.
    AccentsToggled,
    /// Particles dropped (`DE LA CRUZ` → `CRUZ`, `MARÍA DE LOS ÁNGELES` →
    /// `MARÍA ÁNGELES`).
    ParticlesDropped,
    /// `MARÍA` written `MA.`, `GUADALUPE` written `GPE.`.
    Abbreviated,
    /// One spelling variant: `S/Z/C`, `B/V`, `Y/LL`, silent `H`, `G/J`
    /// before `E/I`, `X/J`, `QU/K/C`.
    SpellingVariant,
    /// One typo in one name: a letter replaced, dropped, added or two
    /// adjacent letters transposed.
    Typo,
    /// First and second surnames swapped.
    SurnamesSwapped,
    /// Second surname not captured.
    SecondSurnameMissing,
    /// The original had a CURP, the copy has none.
    CurpMissing,
    /// The date of birth replaced by the age at the copy's detection date.
    AgeInsteadOfDate,
    /// Day and month of the date of birth transposed.
    DayMonthSwapped,
    /// The year of birth one off (1980 typed for 1981), day and month kept;
    /// only for days above 12, so it cannot pass for a transposed date.
    BirthYearOff,
    /// The date of birth replaced by an age one year off (the age asked
    /// again, or computed at another date).
    AgeOffByOne,
    /// One typo inside the given names, past their first letter: two
    /// adjacent letters transposed (`MRAÍA`, `VÍTCOR`) or one replaced.
    GivenNameTypo,
}

/// How a hard negative resembles its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HardNegative {
    /// Same first surname and birth year, otherwise unrelated.
    SameSurnameAndYear,
    /// Same surnames, other given name, born 1 to 10 years apart.
    Sibling,
    /// Same surnames and date of birth, other given name.
    Twin,
    /// Same names, other date of birth.
    Namesake,
}

/// A true duplicate: `people[copy]` is a perturbed copy of
/// `people[original]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePair {
    pub original: usize,
    pub copy: usize,
    pub perturbations: Vec<Perturbation>,
}

/// A pair built to look alike that is **not** a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardNegativePair {
    pub anchor: usize,
    pub other: usize,
    pub kind: HardNegative,
}

/// The generated people and their labels. Every pair not in `duplicates`
/// is a non-duplicate.
#[derive(Debug, Clone)]
pub struct LabelledSet {
    pub people: Vec<PersonFacts>,
    pub duplicates: Vec<DuplicatePair>,
    pub hard_negatives: Vec<HardNegativePair>,
    /// When each person was detected (a copy up to two years after its
    /// original), for callers that store them as records.
    pub detection_dates: Vec<NaiveDate>,
}

/// Generates `people` distinct people (about 18% of them hard negatives of
/// earlier ones) followed by `copies` perturbed copies of distinct people
/// among them (`copies` is capped at `people`).
pub fn generate(seed: u64, people: usize, copies: usize) -> LabelledSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut drafts: Vec<Draft> = Vec::with_capacity(people + copies);
    let mut hard_negatives = Vec::new();
    while drafts.len() < people {
        if drafts.len() > 10 && rng.random_bool(0.18) {
            let anchor = rng.random_range(0..drafts.len());
            let (draft, kind) = hard_negative(&mut rng, &drafts[anchor]);
            hard_negatives.push(HardNegativePair {
                anchor,
                other: drafts.len(),
                kind,
            });
            drafts.push(draft);
        } else {
            drafts.push(random_person(&mut rng));
        }
    }
    let mut originals: Vec<usize> = (0..people).collect();
    let copies = copies.min(people);
    for i in 0..copies {
        let j = rng.random_range(i..people);
        originals.swap(i, j);
    }
    let mut duplicates = Vec::with_capacity(copies);
    for &original in &originals[..copies] {
        let (copy, perturbations) = perturbed_copy(&mut rng, &drafts[original]);
        duplicates.push(DuplicatePair {
            original,
            copy: drafts.len(),
            perturbations,
        });
        drafts.push(copy);
    }
    LabelledSet {
        people: drafts.iter().map(Draft::facts).collect(),
        duplicates,
        hard_negatives,
        detection_dates: drafts.iter().map(|d| d.detection).collect(),
    }
}

/// Female given names with relative frequencies.
const FEMALE_GIVEN: &[(&str, u32)] = &[
    ("MARÍA GUADALUPE", 70),
    ("GUADALUPE", 30),
    ("MARÍA", 40),
    ("JUANA", 25),
    ("MARGARITA", 25),
    ("VERÓNICA", 25),
    ("LETICIA", 22),
    ("ROSA MARÍA", 22),
    ("MARÍA ELENA", 20),
    ("FRANCISCA", 18),
    ("ALEJANDRA", 25),
    ("PATRICIA", 25),
    ("ELIZABETH", 22),
    ("GABRIELA", 22),
    ("ANA MARÍA", 18),
    ("MARTHA", 18),
    ("YOLANDA", 18),
    ("SILVIA", 18),
    ("ADRIANA", 20),
    ("LAURA", 18),
    ("MARÍA DE LOURDES", 15),
    ("MARÍA DE LOS ÁNGELES", 15),
    ("MARÍA DEL CARMEN", 15),
    ("CLAUDIA", 18),
    ("TERESA", 15),
    ("JESSICA", 15),
    ("DANIELA", 25),
    ("FERNANDA", 15),
    ("XIMENA", 15),
    ("YESENIA", 12),
    ("BRENDA", 15),
    ("KARLA", 15),
    ("VALERIA", 20),
    ("ITZEL", 15),
    ("XÓCHITL", 8),
    ("CITLALI", 10),
    ("ARACELI", 12),
    ("BEATRIZ", 12),
    ("CECILIA", 12),
    ("GISELA", 8),
    ("JIMENA", 12),
    ("SOFÍA", 15),
    ("VIVIANA", 8),
    ("HORTENSIA", 5),
    ("ZULEMA", 5),
    ("YAZMÍN", 10),
    ("GENOVEVA", 4),
    ("ROCÍO", 12),
    ("ESTHER", 10),
    ("LIZBETH", 12),
    ("NAYELI", 12),
    ("KENIA", 6),
    ("ANA KAREN", 10),
    ("DIANA LAURA", 8),
    ("JOSEFINA", 8),
    ("GRACIELA", 8),
    ("EVELYN", 8),
    ("HILDA", 5),
    ("HERMINIA", 4),
    ("ERIKA", 10),
    ("ELENA", 8),
    ("ISABEL", 10),
    ("IRMA", 8),
    ("LUCERO", 6),
    ("ANGÉLICA", 10),
    ("CAROLINA", 10),
    ("CINTHIA", 6),
    ("MÓNICA", 10),
    ("NANCY", 8),
    ("GEORGINA", 5),
    ("JAQUELINE", 8),
    ("VANESA", 8),
    ("QUETZALLI", 3),
    ("BELÉN", 5),
    ("ABIGAIL", 8),
    ("YAJAIRA", 5),
    ("ZOILA", 3),
    ("GUILLERMINA", 5),
    ("ANAHÍ", 6),
    ("AZUCENA", 6),
    ("CELIA", 5),
    ("SELENE", 5),
    ("BLANCA ESTELA", 5),
    ("LUZ MARÍA", 8),
    ("PAOLA", 10),
    ("MARISOL", 8),
    ("ESMERALDA", 8),
    ("REBECA", 5),
    ("OFELIA", 4),
];

/// Male given names with relative frequencies.
const MALE_GIVEN: &[(&str, u32)] = &[
    ("JOSÉ LUIS", 40),
    ("JUAN", 35),
    ("JOSÉ", 30),
    ("FRANCISCO", 25),
    ("ANTONIO", 22),
    ("JESÚS", 22),
    ("MIGUEL ÁNGEL", 22),
    ("PEDRO", 18),
    ("ALEJANDRO", 22),
    ("MANUEL", 18),
    ("JUAN CARLOS", 18),
    ("RICARDO", 15),
    ("FERNANDO", 15),
    ("JORGE", 15),
    ("ROBERTO", 15),
    ("EDUARDO", 15),
    ("SERGIO", 12),
    ("JAVIER", 15),
    ("RAÚL", 12),
    ("CARLOS", 15),
    ("DAVID", 15),
    ("GERARDO", 12),
    ("VÍCTOR MANUEL", 10),
    ("ENRIQUE", 12),
    ("GUILLERMO", 10),
    ("HÉCTOR", 12),
    ("SALVADOR", 10),
    ("ÓSCAR", 12),
    ("RUBÉN", 10),
    ("ARTURO", 12),
    ("ÁNGEL", 12),
    ("IVÁN", 10),
    ("EZEQUIEL", 5),
    ("XAVIER", 5),
    ("ISRAEL", 8),
    ("HUGO", 8),
    ("HORACIO", 5),
    ("BENITO", 4),
    ("GILBERTO", 6),
    ("JOAQUÍN", 6),
    ("LUIS ÁNGEL", 10),
    ("JOSÉ ANTONIO", 12),
    ("JUAN PABLO", 8),
    ("JOSÉ MANUEL", 8),
    ("CRISTIAN", 10),
    ("KEVIN", 6),
    ("BRAYAN", 6),
    ("EMILIANO", 8),
    ("SANTIAGO", 10),
    ("DIEGO", 12),
    ("LEONARDO", 10),
    ("MAURICIO", 8),
    ("ALFREDO", 8),
    ("ERNESTO", 8),
    ("ABRAHAM", 6),
    ("ADRIÁN", 10),
    ("OMAR", 8),
    ("OSWALDO", 5),
    ("ULISES", 5),
    ("GONZALO", 5),
    ("EFRAÍN", 5),
    ("HUMBERTO", 6),
    ("CÉSAR", 10),
    ("QUIRINO", 2),
    ("GENARO", 4),
    ("ELÍAS", 5),
    ("JAIME", 8),
    ("RODRIGO", 8),
    ("ÉDGAR", 8),
    ("JONATHAN", 8),
    ("BRANDON", 6),
    ("ISAAC", 6),
    ("MOISÉS", 6),
    ("YAHIR", 5),
    ("AXEL", 6),
    ("ROGELIO", 6),
    ("FELIPE", 8),
    ("AGUSTÍN", 6),
    ("HIPÓLITO", 2),
    ("JOSÉ DE JESÚS", 8),
    ("MARIO", 8),
    ("ARMANDO", 8),
    ("VICENTE", 5),
    ("GABRIEL", 8),
    ("EMMANUEL", 6),
];

/// Surnames with relative frequencies (per 10,000 people, roughly).
const SURNAMES: &[(&str, u32)] = &[
    ("HERNÁNDEZ", 370),
    ("GARCÍA", 290),
    ("MARTÍNEZ", 270),
    ("LÓPEZ", 250),
    ("GONZÁLEZ", 240),
    ("PÉREZ", 170),
    ("RODRÍGUEZ", 170),
    ("SÁNCHEZ", 160),
    ("RAMÍREZ", 150),
    ("CRUZ", 110),
    ("FLORES", 100),
    ("GÓMEZ", 100),
    ("MORALES", 80),
    ("VÁZQUEZ", 80),
    ("JIMÉNEZ", 75),
    ("REYES", 75),
    ("DÍAZ", 70),
    ("TORRES", 70),
    ("GUTIÉRREZ", 65),
    ("RUIZ", 65),
    ("MENDOZA", 60),
    ("AGUILAR", 60),
    ("ORTIZ", 55),
    ("MORENO", 55),
    ("CASTILLO", 55),
    ("ROMERO", 50),
    ("ÁLVAREZ", 50),
    ("MÉNDEZ", 50),
    ("CHÁVEZ", 50),
    ("RIVERA", 48),
    ("JUÁREZ", 48),
    ("RAMOS", 45),
    ("DOMÍNGUEZ", 45),
    ("HERRERA", 45),
    ("MEDINA", 42),
    ("CASTRO", 40),
    ("VARGAS", 38),
    ("GUZMÁN", 38),
    ("VELÁZQUEZ", 36),
    ("MUÑOZ", 35),
    ("ROJAS", 35),
    ("DE LA CRUZ", 34),
    ("CONTRERAS", 33),
    ("SALAZAR", 33),
    ("LUNA", 32),
    ("ORTEGA", 32),
    ("SANTIAGO", 32),
    ("GUERRERO", 31),
    ("BAUTISTA", 30),
    ("CERVANTES", 28),
    ("ESTRADA", 28),
    ("SOTO", 27),
    ("ÁVILA", 27),
    ("CAMPOS", 26),
    ("VEGA", 26),
    ("DELGADO", 25),
    ("ROSAS", 25),
    ("SANTOS", 25),
    ("LEÓN", 24),
    ("MÁRQUEZ", 24),
    ("CORTÉS", 24),
    ("NAVARRO", 23),
    ("SOLÍS", 23),
    ("RÍOS", 23),
    ("ESPINOZA", 22),
    ("FERNÁNDEZ", 22),
    ("ACOSTA", 21),
    ("SANDOVAL", 21),
    ("CARRILLO", 21),
    ("NÚÑEZ", 20),
    ("PACHECO", 20),
    ("CAMACHO", 20),
    ("MEJÍA", 20),
    ("ROBLES", 19),
    ("SOSA", 19),
    ("MOLINA", 19),
    ("CABRERA", 18),
    ("SILVA", 18),
    ("ZAMORA", 17),
    ("VALDEZ", 17),
    ("SALINAS", 17),
    ("PADILLA", 17),
    ("IBARRA", 16),
    ("FUENTES", 16),
    ("ROSALES", 16),
    ("TREJO", 15),
    ("ESPINOSA", 15),
    ("VALENCIA", 15),
    ("BECERRA", 14),
    ("GALLEGOS", 14),
    ("VILLANUEVA", 14),
    ("AYALA", 14),
    ("NAVA", 14),
    ("ZÚÑIGA", 13),
    ("MIRANDA", 13),
    ("BARRERA", 13),
    ("OROZCO", 13),
    ("HUERTA", 13),
    ("QUIROZ", 12),
    ("ARELLANO", 12),
    ("VALENZUELA", 12),
    ("ESQUIVEL", 12),
    ("ZAVALA", 11),
    ("CEBALLOS", 10),
    ("DEL ÁNGEL", 10),
    ("ZEPEDA", 10),
    ("VILLALOBOS", 10),
    ("CORONA", 10),
    ("YÁÑEZ", 9),
    ("OLVERA", 9),
    ("QUINTERO", 9),
    ("BRAVO", 9),
    ("BELTRÁN", 9),
    ("ZAPATA", 9),
    ("VILLA", 9),
    ("LLAMAS", 8),
    ("HIDALGO", 8),
    ("GIL", 8),
    ("DE LEÓN", 8),
    ("DE LOS SANTOS", 8),
    ("QUEZADA", 8),
    ("VALLE", 8),
    ("GALVÁN", 8),
    ("GUILLÉN", 7),
    ("ECHEVERRÍA", 6),
    ("JAIMES", 6),
    ("CEJA", 5),
    ("HUITRÓN", 4),
    ("YÉPEZ", 4),
    ("XOLALPA", 3),
    ("GÜEMES", 3),
];

/// A person as generated, before becoming [`PersonFacts`].
#[derive(Debug, Clone)]
struct Draft {
    /// Names as captured (with or without accents).
    given: String,
    first: String,
    second: Option<String>,
    /// The accented spelling, to add accents back.
    canonical: (String, String, Option<String>),
    sex: &'static str,
    birth: NaiveDate,
    detection: NaiveDate,
    /// Only the age at `detection` was captured.
    age_only: bool,
    /// Added to the captured age (an age one year off).
    age_offset: i32,
    curp: Option<String>,
}

impl Draft {
    fn facts(&self) -> PersonFacts {
        PersonFacts {
            given_names: Some(self.given.clone()),
            first_surname: Some(self.first.clone()),
            second_surname: self.second.clone(),
            curp: self.curp.clone(),
            birth_date: (!self.age_only).then_some(self.birth),
            age_years: self.age_only.then(|| {
                (age_at(self.birth, self.detection) as i32 + self.age_offset).max(0) as u32
            }),
            age_reference_date: Some(self.detection),
            sex: Some(self.sex.to_owned()),
            missing_report_folio: None,
        }
    }
}

fn pick<'a>(rng: &mut StdRng, list: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = list.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (item, w) in list {
        if x < *w {
            return item;
        }
        x -= w;
    }
    list[list.len() - 1].0
}

fn given_list(sex: &str) -> &'static [(&'static str, u32)] {
    if sex == "MUJER" {
        FEMALE_GIVEN
    } else {
        MALE_GIVEN
    }
}

/// Share (per 10,000) of people whose given name is an uncommon compound
/// like `LUZ VALERIA` or `JUAN DIEGO`, the long tail the lists above miss.
const COMPOUND_TAIL_SHARE: u32 = 3_500;
const FEMALE_COMPOUND_FIRST: &[&str] = &["MARÍA", "ANA", "LUZ", "ROSA", "DULCE"];
const MALE_COMPOUND_FIRST: &[&str] = &["JOSÉ", "JUAN", "LUIS", "MIGUEL", "JESÚS"];

/// A given name drawn with realistic frequencies, long tail included.
fn random_given(rng: &mut StdRng, sex: &str) -> String {
    if rng.random_range(0..10_000) >= COMPOUND_TAIL_SHARE {
        return pick(rng, given_list(sex)).to_owned();
    }
    let firsts = if sex == "MUJER" {
        FEMALE_COMPOUND_FIRST
    } else {
        MALE_COMPOUND_FIRST
    };
    let first = firsts[rng.random_range(0..firsts.len())];
    loop {
        let second = pick(rng, given_list(sex));
        if !second.contains(' ') && second != first {
            return format!("{first} {second}");
        }
    }
}

/// Syllables of the synthetic long tail of surnames: in Mexico the listed
/// surnames cover about half of the people, the other half is spread over
/// thousands of rarer ones. Without a tail, the common surnames would be
/// twice as frequent as they are and blocks twice as large.
const TAIL_STARTS: &[&str] = &[
    "AL", "AR", "BAR", "BEL", "CAL", "CAR", "DUR", "ES", "GAL", "GAR", "IB", "LAR", "MAL", "MAR",
    "NAV", "OL", "PAL", "QUIN", "SAL", "SAN", "TOR", "VAL", "VEL", "ZAR",
];
const TAIL_MIDDLES: &[&str] = &["A", "E", "I", "O", "AN", "EN", "IL", "OR", "AD", "AB"];
const TAIL_ENDS: &[&str] = &[
    "DEZ", "REZ", "ZA", "RES", "DO", "RA", "LES", "NO", "TE", "LLO", "GA", "VA",
];

/// A surname drawn with realistic frequencies: [`SURNAMES`] weights are
/// per 10,000 people; the rest of the 10,000 goes to the synthetic tail.
fn random_surname(rng: &mut StdRng) -> String {
    let listed: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
    if rng.random_range(0..10_000) < listed {
        return pick(rng, SURNAMES).to_owned();
    }
    let part = |rng: &mut StdRng, list: &[&str]| list[rng.random_range(0..list.len())].to_owned();
    part(rng, TAIL_STARTS) + &part(rng, TAIL_MIDDLES) + &part(rng, TAIL_ENDS)
}

/// Completed years at `at` of someone born on `birth`.
fn age_at(birth: NaiveDate, at: NaiveDate) -> u32 {
    let mut age = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

/// Upper case without accents, as many systems capture names.
fn strip_accents(s: &str) -> String {
    fold(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn random_date(rng: &mut StdRng, from: NaiveDate, days: i64) -> NaiveDate {
    from + Duration::days(rng.random_range(0..days))
}

fn random_sex(rng: &mut StdRng) -> &'static str {
    match rng.random_range(0..1000) {
        0..=549 => "MUJER",
        550..=989 => "HOMBRE",
        990..=994 => "INTERSEXUAL",
        _ => "NO_IDENTIFICADO",
    }
}

/// A birth date giving `age` completed years at `detection`.
fn birth_for_age(rng: &mut StdRng, detection: NaiveDate, age: u32) -> NaiveDate {
    let latest = detection - Duration::days(i64::from(age) * 366);
    loop {
        let d = latest - Duration::days(rng.random_range(0..366));
        if age_at(d, detection) == age {
            return d;
        }
    }
}

fn random_age(rng: &mut StdRng) -> u32 {
    match rng.random_range(0..100) {
        0..=9 => rng.random_range(5..=11),
        10..=64 => rng.random_range(12..=25),
        65..=91 => rng.random_range(26..=45),
        _ => rng.random_range(46..=65),
    }
}

/// Detections run from 2015 to 2023; copies are detected up to two years
/// later, so no date lies in the future.
fn detection_date(rng: &mut StdRng) -> NaiveDate {
    random_date(rng, date(2015, 1, 1), 3287)
}

/// The latest birth year of a hard negative, so it can be detected (at
/// three or older) by the end of 2023.
const LATEST_HARD_NEGATIVE_BIRTH_YEAR: i32 = 2019;

/// `year` moved by `offset` years, or by `-offset` when that would be too
/// late a birth year.
fn shifted_year(year: i32, offset: i32) -> i32 {
    if year + offset > LATEST_HARD_NEGATIVE_BIRTH_YEAR {
        year - offset
    } else {
        year + offset
    }
}

// Called with literal dates only, which are real dates.
#[allow(clippy::expect_used)]
fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid literal date")
}

/// Builds a draft from canonical names; captured without accents half of
/// the time; a CURP for 40% of women and men.
fn draft(
    rng: &mut StdRng,
    given: &str,
    first: &str,
    second: Option<&str>,
    sex: &'static str,
    birth: NaiveDate,
    detection: NaiveDate,
) -> Draft {
    let accents = rng.random_bool(0.5);
    let captured = |s: &str| {
        if accents {
            s.to_owned()
        } else {
            strip_accents(s)
        }
    };
    let curp = (matches!(sex, "MUJER" | "HOMBRE") && rng.random_bool(0.4))
        .then(|| build_curp(rng, given, first, second, birth, sex));
    Draft {
        given: captured(given),
        first: captured(first),
        second: second.map(captured),
        canonical: (
            given.to_owned(),
            first.to_owned(),
            second.map(str::to_owned),
        ),
        sex,
        birth,
        detection,
        age_only: rng.random_bool(0.15),
        age_offset: 0,
        curp,
    }
}

fn random_person(rng: &mut StdRng) -> Draft {
    let sex = random_sex(rng);
    let given = random_given(rng, sex);
    let first = random_surname(rng);
    let second = rng.random_bool(0.95).then(|| random_surname(rng));
    let detection = detection_date(rng);
    let age = random_age(rng);
    let birth = birth_for_age(rng, detection, age);
    draft(
        rng,
        &given,
        &first,
        second.as_deref(),
        sex,
        birth,
        detection,
    )
}

fn hard_negative(rng: &mut StdRng, anchor: &Draft) -> (Draft, HardNegative) {
    let (a_given, a_first, a_second) = &anchor.canonical;
    let other_given = |rng: &mut StdRng, sex: &str| loop {
        let g = random_given(rng, sex);
        if normalize_name(&g) != normalize_name(a_given) {
            return g;
        }
    };
    let detection = detection_date(rng);
    let year = anchor.birth.year();
    let in_year = |rng: &mut StdRng, y: i32| random_date(rng, date(y, 1, 1), 365);
    let (kind, given, first, second, sex, birth) = match rng.random_range(0..100) {
        0..=29 => {
            let sex = random_sex(rng);
            let second = rng.random_bool(0.95).then(|| random_surname(rng));
            (
                HardNegative::SameSurnameAndYear,
                other_given(rng, sex),
                a_first.clone(),
                second,
                sex,
                in_year(rng, year),
            )
        }
        30..=54 => {
            let sex = random_sex(rng);
            let years = rng.random_range(1..=10) * if rng.random_bool(0.5) { 1 } else { -1 };
            (
                HardNegative::Sibling,
                other_given(rng, sex),
                a_first.clone(),
                a_second.clone(),
                sex,
                in_year(rng, shifted_year(year, years)),
            )
        }
        55..=64 => {
            let sex = random_sex(rng);
            (
                HardNegative::Twin,
                other_given(rng, sex),
                a_first.clone(),
                a_second.clone(),
                sex,
                anchor.birth,
            )
        }
        _ => {
            let birth = loop {
                let y = if rng.random_bool(0.3) {
                    year
                } else {
                    let offset =
                        rng.random_range(1..=15) * if rng.random_bool(0.5) { 1 } else { -1 };
                    shifted_year(year, offset)
                };
                let d = in_year(rng, y);
                if d != anchor.birth {
                    break d;
                }
            };
            (
                HardNegative::Namesake,
                a_given.clone(),
                a_first.clone(),
                a_second.clone(),
                anchor.sex,
                birth,
            )
        }
    };
    // Detected after birth, at an age of at least 3.
    let detection = detection.max(birth + Duration::days(3 * 366));
    (
        draft(
            rng,
            &given,
            &first,
            second.as_deref(),
            sex,
            birth,
            detection,
        ),
        kind,
    )
}

/// A CURP built from the data as RENAPO would (simplified: no filter of
/// inconvenient words), with a correct check digit.
fn build_curp(
    rng: &mut StdRng,
    given: &str,
    first: &str,
    second: Option<&str>,
    birth: NaiveDate,
    sex: &str,
) -> String {
    fn is_vowel(c: char) -> bool {
        matches!(c, 'A' | 'E' | 'I' | 'O' | 'U')
    }
    let given_norm = normalize_name(given);
    let words: Vec<&str> = given_norm.split(' ').collect();
    let g = match words[..] {
        ["MARIA" | "MA" | "JOSE" | "J", next, ..] => next,
        _ => words[0],
    };
    let first_norm = normalize_name(first);
    let f = first_norm.split(' ').next().unwrap_or("X");
    let second_norm = second.map(normalize_name).unwrap_or_default();
    let s = second_norm.split(' ').next().unwrap_or("");
    let initial = |w: &str| w.chars().next().unwrap_or('X');
    let inner_vowel = |w: &str| w.chars().skip(1).find(|c| is_vowel(*c)).unwrap_or('X');
    let inner_consonant = |w: &str| {
        w.chars()
            .skip(1)
            .find(|c| c.is_ascii_uppercase() && !is_vowel(*c))
            .unwrap_or('X')
    };
    let states: Vec<&str> = state_keys().collect();
    let state = states[rng.random_range(0..states.len())];
    let differentiator = if birth.year() < 2000 {
        char::from(b'0' + rng.random_range(0..10u8))
    } else {
        char::from(b'A' + rng.random_range(0..3u8))
    };
    let first17: String = [initial(f), inner_vowel(f), initial(s), initial(g)]
        .iter()
        .collect::<String>()
        + &birth.format("%y%m%d").to_string()
        + if sex == "MUJER" { "M" } else { "H" }
        + state
        + &[
            inner_consonant(f),
            inner_consonant(s),
            inner_consonant(g),
            differentiator,
        ]
        .iter()
        .collect::<String>();
    // Built above from A-Z and digits only, each of which has a value.
    #[allow(clippy::expect_used)]
    let digit = check_digit(&first17).expect("CURP built from A-Z and digits");
    format!("{first17}{digit}")
}

/// The spelling-variant substitutions a copy may carry: `(pattern, next
/// letters allowed or "" for any, replacement)`, applied at one site.
const VARIANTS: &[(&str, &str, &str)] = &[
    ("Z", "", "S"),
    ("S", "#", "Z"), // word-final S (FLORES → FLOREZ)
    ("C", "EI", "S"),
    ("C", "EI", "Z"),
    ("S", "EI", "C"),
    ("V", "", "B"),
    ("B", "", "V"),
    ("LL", "", "Y"),
    ("Y", "AEOU", "LL"),
    ("H", "^", ""), // silent initial H dropped
    ("G", "EI", "J"),
    ("J", "EI", "G"),
    ("X", "", "J"),
    ("J", "AEIOU", "X"),
    ("QU", "EI", "K"),
    ("C", "AOU", "K"),
    ("K", "AOU", "C"),
    ("K", "EI", "QU"),
];

/// Accent-free upper-case letter of `c` (`É` → `E`).
fn base_letter(c: char) -> char {
    fold(&c.to_string()).chars().next().unwrap_or(c)
}

/// All places in `s` where a spelling variant applies, as
/// `(char index, pattern length in chars, replacement)`.
fn variant_sites(s: &str) -> Vec<(usize, usize, &'static str)> {
    let chars: Vec<char> = s.chars().map(base_letter).collect();
    let mut sites = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let word_start = i == 0 || chars[i - 1] == ' ';
        for (pattern, next, replacement) in VARIANTS {
            let p: Vec<char> = pattern.chars().collect();
            if chars.len() < i + p.len() || chars[i..i + p.len()] != p[..] {
                continue;
            }
            let after = chars.get(i + p.len()).copied();
            let ok = match *next {
                "" => true,
                "#" => after.is_none_or(|a| a == ' '),
                "^" => word_start && after.is_some_and(|a| "AEIOU".contains(a)),
                letters => after.is_some_and(|a| letters.contains(a)),
            };
            if ok {
                sites.push((i, p.len(), *replacement));
            }
        }
        // A silent H added before an initial vowel (ELENA → HELENA).
        if word_start && "AEIO".contains(c) && c != ' ' {
            sites.push((i, 0, "H"));
        }
    }
    sites
}

fn replace_chars(s: &str, at: usize, len: usize, with: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[..at]
        .iter()
        .copied()
        .chain(with.chars())
        .chain(chars[at + len..].iter().copied())
        .collect()
}

/// One typo at a letter of `s`.
fn typo(rng: &mut StdRng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (0..chars.len()).filter(|&i| chars[i] != ' ').collect();
    let i = letters[rng.random_range(0..letters.len())];
    let random_letter = |rng: &mut StdRng| char::from(b'A' + rng.random_range(0..26u8));
    match rng.random_range(0..4) {
        0 => loop {
            let c = random_letter(rng);
            if c != base_letter(chars[i]) {
                break replace_chars(s, i, 1, &c.to_string());
            }
        },
        1 if letters.len() > 3 => replace_chars(s, i, 1, ""),
        2 if i + 1 < chars.len() && chars[i + 1] != ' ' && chars[i + 1] != chars[i] => {
            replace_chars(s, i, 2, &format!("{}{}", chars[i + 1], chars[i]))
        }
        _ => {
            let c = random_letter(rng);
            replace_chars(s, i, 0, &c.to_string())
        }
    }
}

/// One typo inside a name past each word's first letter, as fast typing
/// makes them: two adjacent letters transposed (`MARÍA` → `MRAÍA`,
/// `VÍCTOR` → `VÍTCOR`) or, one time in three, one letter replaced.
fn inner_typo(rng: &mut StdRng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let inner = |i: usize| i > 0 && chars[i] != ' ' && chars[i - 1] != ' ';
    let sites: Vec<usize> = (0..chars.len())
        .filter(|&i| inner(i) && i + 1 < chars.len() && chars[i + 1] != ' ')
        .filter(|&i| base_letter(chars[i]) != base_letter(chars[i + 1]))
        .collect();
    if sites.is_empty() {
        return typo(rng, s);
    }
    let i = sites[rng.random_range(0..sites.len())];
    if rng.random_range(0..3) == 0 {
        loop {
            let c = char::from(b'A' + rng.random_range(0..26u8));
            if c != base_letter(chars[i]) {
                return replace_chars(s, i, 1, &c.to_string());
            }
        }
    }
    replace_chars(s, i, 2, &format!("{}{}", chars[i + 1], chars[i]))
}

const DROPPABLE_PARTICLES: &[&str] = &["DE", "DEL", "LA", "LAS", "LOS", "Y"];

fn has_particles(s: &str) -> bool {
    s.split(' ').any(|w| DROPPABLE_PARTICLES.contains(&w))
}

fn drop_particles(s: &str) -> String {
    s.split(' ')
        .filter(|w| !DROPPABLE_PARTICLES.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn abbreviate(s: &str) -> Option<String> {
    let words: Vec<&str> = s.split(' ').collect();
    if words.len() > 1 && base_letter_word(words[0]) == "MARIA" {
        return Some(format!("MA. {}", words[1..].join(" ")));
    }
    words
        .contains(&"GUADALUPE")
        .then(|| s.replace("GUADALUPE", "GPE."))
}

fn base_letter_word(w: &str) -> String {
    w.chars().map(base_letter).collect()
}

/// The name fields of a draft, by index: 0 given, 1 first, 2 second.
fn field(d: &mut Draft, i: usize) -> Option<&mut String> {
    match i {
        0 => Some(&mut d.given),
        1 => Some(&mut d.first),
        _ => d.second.as_mut(),
    }
}

fn perturbed_copy(rng: &mut StdRng, original: &Draft) -> (Draft, Vec<Perturbation>) {
    use Perturbation::*;
    let mut d = original.clone();
    // Detected again, up to two years later.
    d.detection = original.detection + Duration::days(rng.random_range(0..730));
    let names = [Some(&d.given), Some(&d.first), d.second.as_ref()];
    let any_name = |f: &dyn Fn(&str) -> bool| names.iter().flatten().any(|s| f(s));
    let has_accents = any_name(&|s| !s.is_ascii())
        || [&d.canonical.0, &d.canonical.1]
            .iter()
            .any(|s| !s.is_ascii());
    let applicable = |p: &Perturbation| match p {
        AccentsToggled => has_accents,
        ParticlesDropped => any_name(&has_particles),
        Abbreviated => abbreviate(&d.given).is_some(),
        SpellingVariant => any_name(&|s| !variant_sites(s).is_empty()),
        Typo => true,
        SurnamesSwapped | SecondSurnameMissing => d.second.is_some(),
        CurpMissing => false, // decided separately below
        AgeInsteadOfDate => !d.age_only,
        DayMonthSwapped => !d.age_only && d.birth.day() <= 12 && d.birth.day() != d.birth.month(),
        // (29 February has no neighbour in the adjacent years.)
        BirthYearOff => {
            !d.age_only && d.birth.day() > 12 && (d.birth.month(), d.birth.day()) != (2, 29)
        }
        AgeOffByOne => !d.age_only,
        GivenNameTypo => d.given.chars().filter(|c| *c != ' ').count() >= 4,
    };
    let mut candidates: Vec<Perturbation> = [
        AccentsToggled,
        ParticlesDropped,
        Abbreviated,
        SpellingVariant,
        SpellingVariant,
        Typo,
        Typo,
        SurnamesSwapped,
        SecondSurnameMissing,
        AgeInsteadOfDate,
        DayMonthSwapped,
        // The errors the national roll-out showed most (issue 18), drawn
        // more often than the rest so the set is harder than real data.
        BirthYearOff,
        BirthYearOff,
        AgeOffByOne,
        GivenNameTypo,
        GivenNameTypo,
    ]
    .into_iter()
    .filter(applicable)
    .collect();
    let wanted = match rng.random_range(0..100) {
        0..=44 => 1,
        45..=79 => 2,
        _ => 3,
    };
    let mut chosen: Vec<Perturbation> = Vec::new();
    while chosen.len() < wanted && !candidates.is_empty() {
        let p = candidates.swap_remove(rng.random_range(0..candidates.len()));
        let about_birth = |p: &Perturbation| {
            matches!(
                p,
                AgeInsteadOfDate | DayMonthSwapped | BirthYearOff | AgeOffByOne
            )
        };
        let exclusive = about_birth(&p) && chosen.iter().any(about_birth);
        if !chosen.contains(&p) && !exclusive {
            chosen.push(p);
        }
    }
    if d.curp.is_some() && rng.random_bool(0.6) {
        chosen.push(CurpMissing);
    }
    // Apply in a fixed order, so accents are toggled before other edits.
    const ORDER: [Perturbation; 13] = [
        AccentsToggled,
        ParticlesDropped,
        Abbreviated,
        SpellingVariant,
        Typo,
        GivenNameTypo,
        SurnamesSwapped,
        SecondSurnameMissing,
        CurpMissing,
        AgeInsteadOfDate,
        DayMonthSwapped,
        BirthYearOff,
        AgeOffByOne,
    ];
    chosen.sort_by_key(|p| ORDER.iter().position(|o| o == p));
    for p in &chosen {
        match p {
            AccentsToggled => {
                if [Some(&d.given), Some(&d.first), d.second.as_ref()]
                    .iter()
                    .flatten()
                    .any(|s| !s.is_ascii())
                {
                    d.given = strip_accents(&d.given);
                    d.first = strip_accents(&d.first);
                    d.second = d.second.as_deref().map(strip_accents);
                } else {
                    d.given = d.canonical.0.clone();
                    d.first = d.canonical.1.clone();
                    d.second = d.canonical.2.clone();
                }
            }
            ParticlesDropped => {
                d.given = drop_particles(&d.given);
                d.first = drop_particles(&d.first);
                d.second = d.second.as_deref().map(drop_particles);
            }
            Abbreviated => {
                if let Some(a) = abbreviate(&d.given) {
                    d.given = a;
                }
            }
            SpellingVariant => {
                let fields: Vec<usize> = (0..3)
                    .filter(|&i| field(&mut d, i).is_some_and(|s| !variant_sites(s).is_empty()))
                    .collect();
                let i = fields[rng.random_range(0..fields.len())];
                if let Some(s) = field(&mut d, i) {
                    let sites = variant_sites(s);
                    let (at, len, with) = sites[rng.random_range(0..sites.len())];
                    *s = replace_chars(s, at, len, with);
                }
            }
            Typo => {
                let fields = if d.second.is_some() { 3 } else { 2 };
                if let Some(s) = field(&mut d, rng.random_range(0..fields)) {
                    *s = typo(rng, s);
                }
            }
            SurnamesSwapped => {
                if let Some(second) = d.second.take() {
                    d.second = Some(std::mem::replace(&mut d.first, second));
                }
            }
            GivenNameTypo => d.given = inner_typo(rng, &d.given),
            BirthYearOff => {
                let year = d.birth.year() + if rng.random_bool(0.5) { 1 } else { -1 };
                if let Some(moved) = d.birth.with_year(year) {
                    d.birth = moved;
                }
            }
            AgeOffByOne => {
                d.age_only = true;
                let age = age_at(d.birth, d.detection) as i32;
                d.age_offset = if age == 0 || rng.random_bool(0.5) {
                    1
                } else {
                    -1
                };
            }
            SecondSurnameMissing => d.second = None,
            CurpMissing => d.curp = None,
            AgeInsteadOfDate => d.age_only = true,
            DayMonthSwapped => {
                if let Some(swapped) =
                    NaiveDate::from_ymd_opt(d.birth.year(), d.birth.day(), d.birth.month())
                {
                    d.birth = swapped;
                }
            }
        }
    }
    (d, chosen)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::curp::validate_curp;
    use crate::duplicates::blocking::{keys_of, probes_of};
    use crate::duplicates::frequency::{given_term, surname_term, terms_of, NameFrequencies};
    use crate::duplicates::prepared::{prepare, Birth, Name, Prepared};
    use crate::duplicates::score::{compare_prepared, compare_weighted};
    use crate::duplicates::MatchLevel;

    #[test]
    fn generation_is_deterministic() {
        let a = generate(7, 300, 60);
        let b = generate(7, 300, 60);
        assert_eq!(a.people, b.people);
        assert_eq!(a.duplicates, b.duplicates);
        assert_eq!(a.people.len(), 360);
        assert_eq!(a.duplicates.len(), 60);
    }

    #[test]
    fn generated_curps_are_valid() {
        let set = generate(11, 2_000, 0);
        let curps: Vec<&str> = set
            .people
            .iter()
            .filter_map(|p| p.curp.as_deref())
            .collect();
        assert!(curps.len() > 600, "about 40% carry a CURP: {}", curps.len());
        for c in curps {
            validate_curp(c).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
    }

    /// Candidate pairs exactly as a check finds them: each person, in
    /// order, looks up its probe keys among the stored keys of the people
    /// before it.
    fn candidate_pairs(prepared: &[Prepared]) -> (HashSet<(usize, usize)>, usize) {
        let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pairs = HashSet::new();
        for (i, p) in prepared.iter().enumerate() {
            for probe in probes_of(p) {
                for &j in blocks.get(&probe).into_iter().flatten() {
                    pairs.insert((j.min(i), j.max(i)));
                }
            }
            for key in keys_of(p) {
                blocks.entry(key).or_default().push(i);
            }
        }
        let largest = blocks.values().map(Vec::len).max().unwrap_or(0);
        (pairs, largest)
    }

    /// Recall and precision of `exact`+`probable` on one generated set.
    struct Measured {
        recall: f64,
        precision: f64,
    }

    /// Name frequencies as a deployment would have them: counted over a
    /// population of 100,000 other people drawn with the same name
    /// frequencies.
    fn reference_frequencies() -> NameFrequencies {
        let population = generate(99, 100_000, 0).people;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for p in &population {
            for t in terms_of(&prepare(p)) {
                *counts.entry(t).or_default() += 1;
            }
        }
        let n = population.len() as f64;
        let collide = |prefix: &str| {
            counts
                .iter()
                .filter(|(t, _)| t.starts_with(prefix))
                .map(|(_, c)| (*c as f64 / n).powi(2))
                .sum::<f64>()
        };
        println!(
            "reference population: chance two people share given names {:.4}, a surname {:.4}",
            collide("G:"),
            collide("S:")
        );
        NameFrequencies::new(population.len() as u64, counts)
    }

    fn measure(seed: u64, freq: &NameFrequencies) -> Measured {
        let debug = std::env::var_os("SINTRA_DUP_DEBUG").is_some();
        let set = generate(seed, 5_000, 1_200);
        let prepared: Vec<Prepared> = set.people.iter().map(prepare).collect();
        let (candidates, largest_block) = candidate_pairs(&prepared);
        let truth: HashMap<(usize, usize), &DuplicatePair> = set
            .duplicates
            .iter()
            .map(|d| ((d.original.min(d.copy), d.original.max(d.copy)), d))
            .collect();
        let hard: HashMap<(usize, usize), HardNegative> = set
            .hard_negatives
            .iter()
            .map(|h| ((h.anchor.min(h.other), h.anchor.max(h.other)), h.kind))
            .collect();

        let mut predicted = 0usize;
        let mut true_positives = 0usize;
        let mut false_positives: HashMap<String, usize> = HashMap::new();
        let mut found = HashSet::new();
        for &(i, j) in &candidates {
            let Some(m) = compare_weighted(&prepared[i], &prepared[j], freq) else {
                continue;
            };
            if !matches!(m.level, MatchLevel::Exact | MatchLevel::Probable) {
                continue;
            }
            predicted += 1;
            if truth.contains_key(&(i, j)) {
                true_positives += 1;
                found.insert((i, j));
            } else {
                let kind = hard
                    .get(&(i, j))
                    .map_or("other".to_owned(), |k| format!("{k:?}"));
                *false_positives.entry(kind).or_default() += 1;
                if debug {
                    println!("FP {:?}\n   {:?}\n   {:?}", m, set.people[i], set.people[j]);
                }
            }
        }
        let blocked = truth.keys().filter(|k| candidates.contains(k)).count();
        let mut missed: HashMap<Perturbation, usize> = HashMap::new();
        let mut with: HashMap<Perturbation, usize> = HashMap::new();
        for (k, d) in &truth {
            for p in &d.perturbations {
                *with.entry(*p).or_default() += 1;
            }
            if !found.contains(k) {
                for p in &d.perturbations {
                    *missed.entry(*p).or_default() += 1;
                }
                if debug {
                    let m = compare_weighted(&prepared[k.0], &prepared[k.1], freq);
                    println!(
                        "MISS {:?} blocked={} {:?}\n   {:?}\n   {:?}",
                        d.perturbations,
                        candidates.contains(k),
                        m,
                        set.people[d.original],
                        set.people[d.copy]
                    );
                }
            }
        }
        let recall = true_positives as f64 / truth.len() as f64;
        let precision = true_positives as f64 / predicted.max(1) as f64;
        println!(
            "seed {seed}: {} people, {} true duplicate pairs, {} hard negatives; \
             candidate pairs {}, largest block {}, duplicates sharing a key {}/{}",
            set.people.len(),
            truth.len(),
            set.hard_negatives.len(),
            candidates.len(),
            largest_block,
            blocked,
            truth.len()
        );
        println!(
            "  probable+exact: predicted {predicted}, true positives {true_positives}, \
             recall {recall:.4}, precision {precision:.4}"
        );
        println!("  false positives by kind: {false_positives:?}");
        println!("  copies by perturbation: {with:?}");
        println!("  missed by perturbation: {missed:?}");
        Measured { recall, precision }
    }

    /// The goal of issue 18 on sets harder than the ones that showed the
    /// problem: years and ages one off, a missing second surname, a typo
    /// inside a given name, siblings and twins. `SINTRA_DUP_SEED` measures
    /// one more seed; `SINTRA_DUP_DEBUG` prints every miss and false
    /// positive.
    #[test]
    fn labelled_set_recall_and_precision() {
        let mut seeds = vec![20_240_711, 18, 1_810, 2_026];
        if let Some(extra) = std::env::var("SINTRA_DUP_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            seeds.push(extra);
        }
        let freq = reference_frequencies();
        for seed in seeds {
            let m = measure(seed, &freq);
            assert!(
                m.recall >= 0.98,
                "seed {seed}: recall {:.4} < 0.98",
                m.recall
            );
            assert!(
                m.precision >= 0.95,
                "seed {seed}: precision {:.4} < 0.95",
                m.precision
            );
        }
    }

    #[test]
    fn the_hard_perturbations_are_drawn() {
        let set = generate(5, 3_000, 1_000);
        let count = |p: Perturbation| {
            set.duplicates
                .iter()
                .filter(|d| d.perturbations.contains(&p))
                .count()
        };
        for p in [
            Perturbation::BirthYearOff,
            Perturbation::AgeOffByOne,
            Perturbation::GivenNameTypo,
            Perturbation::SecondSurnameMissing,
            Perturbation::SurnamesSwapped,
            Perturbation::AccentsToggled,
        ] {
            assert!(count(p) >= 30, "{p:?}: {}", count(p));
        }
        for d in &set.duplicates {
            let (o, c) = (&set.people[d.original], &set.people[d.copy]);
            if d.perturbations.contains(&Perturbation::BirthYearOff) {
                let (a, b) = (o.birth_date.unwrap(), c.birth_date.unwrap());
                assert_eq!((a.year() - b.year()).abs(), 1);
                assert_eq!((a.month(), a.day()), (b.month(), b.day()));
                assert!(a.day() > 12);
            }
            if d.perturbations.contains(&Perturbation::AgeOffByOne) {
                let birth = o.birth_date.unwrap();
                let at = c.age_reference_date.unwrap();
                let age = c.age_years.unwrap() as i32;
                assert_eq!((age - age_at(birth, at) as i32).abs(), 1);
            }
        }
        let twins = set
            .hard_negatives
            .iter()
            .filter(|h| h.kind == HardNegative::Twin)
            .count();
        let siblings = set
            .hard_negatives
            .iter()
            .filter(|h| h.kind == HardNegative::Sibling)
            .count();
        assert!(
            twins >= 20 && siblings >= 60,
            "{twins} twins, {siblings} siblings"
        );
    }

    /// The stored people's blocks: each key, the people carrying it.
    fn blocks_of(prepared: &[Prepared]) -> HashMap<String, Vec<u32>> {
        let mut blocks: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, p) in prepared.iter().enumerate() {
            for key in keys_of(p) {
                blocks.entry(key).or_default().push(i as u32);
            }
        }
        blocks
    }

    /// The stored people a check of `p` compares it with: the union of the
    /// blocks its probe keys name (what the database's lookup returns).
    fn candidates_of(blocks: &HashMap<String, Vec<u32>>, p: &Prepared) -> Vec<u32> {
        let mut ids: Vec<u32> = probes_of(p)
            .iter()
            .filter_map(|k| blocks.get(k))
            .flatten()
            .copied()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Block sizes on a population of a million, and the time of a check:
    /// `cargo test --release -p sintra-domain block_sizes -- --ignored --nocapture`.
    #[test]
    #[ignore = "slow: generates a million people"]
    fn block_sizes_at_one_million() {
        let set = generate(1, 1_000_000, 0);
        let prepared: Vec<Prepared> = set.people.iter().map(prepare).collect();
        let blocks = blocks_of(&prepared);
        let keys_per_person = prepared.iter().map(|p| keys_of(p).len()).max().unwrap_or(0);
        let mut largest: HashMap<char, (usize, String)> = HashMap::new();
        for (key, ids) in &blocks {
            let ns = key.chars().next().unwrap_or('?');
            let e = largest.entry(ns).or_insert((0, String::new()));
            if ids.len() > e.0 {
                *e = (ids.len(), key.clone());
            }
        }
        println!("most keys for one person: {keys_per_person}");
        for (ns, (size, key)) in &largest {
            println!("largest {ns} block: {size} ({key})");
        }
        // A check: keys of the probe, the union of its blocks, a comparison
        // with each (what the database does, minus the index lookups).
        let probes = 1_000;
        let start = std::time::Instant::now();
        let mut compared = 0usize;
        let mut max_candidates = 0usize;
        for probe in set.people.iter().step_by(set.people.len() / probes) {
            let p = prepare(probe);
            let ids = candidates_of(&blocks, &p);
            max_candidates = max_candidates.max(ids.len());
            for id in ids {
                compared += 1;
                let _ = compare_prepared(&p, &prepare(&set.people[id as usize]));
            }
        }
        let per_check = start.elapsed() / probes as u32;
        println!(
            "per check: {per_check:?} ({} comparisons on average, at most {max_candidates} candidates)",
            compared / probes
        );
    }

    /// How two names relate by their frequency terms: `=` the same term,
    /// `~` different terms, `_` blank on one side.
    fn relation(
        a: &Option<Name>,
        b: &Option<Name>,
        term: fn(&Name) -> Option<String>,
    ) -> &'static str {
        match (a.as_ref().and_then(term), b.as_ref().and_then(term)) {
            (Some(a), Some(b)) if a == b => "=",
            (Some(_), Some(_)) => "~",
            _ => "_",
        }
    }

    /// False exact/probable warnings per 1,000 new people against a large
    /// stored population, in memory (what the `duplicates` benchmark
    /// measures through the database), with the kinds of false pairs (per
    /// name: `=` same term, `~` different terms, `_` blank on one side; as
    /// captured, then crosswise) and the recall of 1,000 repeats:
    /// `SINTRA_DUP_PEOPLE=1000000 cargo test --release -p sintra-domain
    /// false_warnings_at_scale -- --ignored --nocapture`.
    #[test]
    #[ignore = "slow: generates up to a million people"]
    fn false_warnings_at_scale() {
        let n: usize = std::env::var("SINTRA_DUP_PEOPLE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let set = generate(20_261_207, n - n / 100, n / 100 + 1_000);
        let stored = n;
        let prepared: Vec<Prepared> = set.people[..stored].iter().map(prepare).collect();
        let blocks = blocks_of(&prepared);
        let mut counts: HashMap<String, u64> = HashMap::new();
        for t in prepared.iter().flat_map(terms_of) {
            *counts.entry(t).or_default() += 1;
        }
        let freq = NameFrequencies::new(stored as u64, counts);
        let fresh = generate(7_041_812, 5_000, 0).people;
        // `SINTRA_DUP_EXAMPLES=25` prints that many false pairs.
        let examples: usize = std::env::var("SINTRA_DUP_EXAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut false_pairs = 0usize;
        let mut kinds: HashMap<String, usize> = HashMap::new();
        let mut shown = 0;
        for f in &fresh {
            let p = prepare(f);
            for id in candidates_of(&blocks, &p) {
                let q = &prepared[id as usize];
                let Some(m) = compare_weighted(&p, q, &freq) else {
                    continue;
                };
                if !matches!(m.level, MatchLevel::Exact | MatchLevel::Probable) {
                    continue;
                }
                false_pairs += 1;
                let birth = match (p.birth, q.birth) {
                    (Birth::Date(_), Birth::Date(_)) => "date/date",
                    (Birth::Unknown, _) | (_, Birth::Unknown) => "unknown",
                    (Birth::Date(_), _) | (_, Birth::Date(_)) => "date/age",
                    _ => "age/age",
                };
                let c = m.comparison;
                let names = format!(
                    "{}{}{}|{}{}",
                    relation(&p.given, &q.given, given_term),
                    relation(&p.first, &q.first, surname_term),
                    relation(&p.second, &q.second, surname_term),
                    relation(&p.first, &q.second, surname_term),
                    relation(&p.second, &q.first, surname_term),
                );
                let kind = format!(
                    "{names} {birth} {:?} g={:?} f={:?} s={:?} b={:?} sex={:?}",
                    m.level, c.given_names, c.first_surname, c.second_surname, c.birth_date, c.sex
                );
                *kinds.entry(kind).or_default() += 1;
                if shown < examples {
                    shown += 1;
                    println!("{:.2} {:?}\n     {:?}", m.score, f, set.people[id as usize]);
                }
            }
        }
        // Recall: the last 1,000 copies (not stored) against the stored.
        let mut found = 0usize;
        let mut checked = 0usize;
        for d in set.duplicates.iter().filter(|d| d.copy >= stored) {
            checked += 1;
            let p = prepare(&set.people[d.copy]);
            let hit = candidates_of(&blocks, &p).contains(&(d.original as u32))
                && compare_weighted(&p, &prepared[d.original], &freq)
                    .is_some_and(|m| matches!(m.level, MatchLevel::Exact | MatchLevel::Probable));
            found += hit as usize;
        }
        println!(
            "recall {found}/{checked} = {:.4}",
            found as f64 / checked as f64
        );
        let mut kinds: Vec<_> = kinds.into_iter().collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
        for (k, c) in kinds.iter().take(20) {
            println!("{c:6} {k}");
        }
        println!(
            "{stored} stored: {false_pairs} false exact/probable for {} new people ({:.2} per 1,000)",
            fresh.len(),
            false_pairs as f64 * 1000.0 / fresh.len() as f64
        );
    }
}
