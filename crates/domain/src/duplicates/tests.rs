use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::curp::check_digit;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn person(given: &str, first: &str, second: Option<&str>) -> PersonFacts {
    PersonFacts {
        given_names: Some(given.into()),
        first_surname: Some(first.into()),
        second_surname: second.map(Into::into),
        sex: Some("MUJER".into()),
        birth_date: Some(date(1998, 3, 14)),
        ..PersonFacts::default()
    }
}

fn with_digit(first17: &str) -> String {
    format!("{first17}{}", check_digit(first17).unwrap())
}

// ---------------------------------------------------------------- normalize

#[test]
fn normalize_removes_accents_and_keeps_letters() {
    assert_eq!(normalize_name("María Guadalupe"), "MARIA GUADALUPE");
    assert_eq!(normalize_name("HERNÁNDEZ"), "HERNANDEZ");
    assert_eq!(normalize_name("Núñez"), "NUNEZ");
    assert_eq!(normalize_name("GÜEMES"), "GUEMES");
    assert_eq!(normalize_name("josé"), "JOSE");
}

#[test]
fn normalize_removes_particles() {
    assert_eq!(normalize_name("DE LA CRUZ"), "CRUZ");
    assert_eq!(normalize_name("Del Ángel"), "ANGEL");
    assert_eq!(normalize_name("MARÍA DE LOS ÁNGELES"), "MARIA ANGELES");
    assert_eq!(normalize_name("DE LOS SANTOS"), "SANTOS");
    assert_eq!(normalize_name("PÉREZ Y PÉREZ"), "PEREZ PEREZ");
    assert_eq!(normalize_name("MARÍA DEL CARMEN"), "MARIA CARMEN");
    // A name made only of particles is not emptied.
    assert_eq!(normalize_name("de la"), "DE LA");
}

#[test]
fn normalize_turns_punctuation_into_spaces_and_collapses_whitespace() {
    assert_eq!(normalize_name("  Peña-Muñoz  "), "PENA MUNOZ");
    assert_eq!(normalize_name("O'Farrill"), "O FARRILL");
    assert_eq!(normalize_name("JUAN\t CARLOS,"), "JUAN CARLOS");
    assert_eq!(normalize_name("José  Luis."), "JOSE LUIS");
    assert_eq!(normalize_name(" .- "), "");
    assert_eq!(normalize_name(""), "");
}

#[test]
fn given_name_abbreviations_are_expanded() {
    assert_eq!(normalize_given_names("Ma. Guadalupe"), "MARIA GUADALUPE");
    assert_eq!(normalize_given_names("Mª de Lourdes"), "MARIA LOURDES");
    assert_eq!(normalize_given_names("MA. GPE."), "MARIA GUADALUPE");
    // Only in given names: a surname MA stays.
    assert_eq!(normalize_name("MA"), "MA");
}

// ----------------------------------------------------------------- phonetic

#[test]
fn spelling_variants_share_a_phonetic_key() {
    let pairs = [
        // S/Z/C
        ("GONZALEZ", "GONSALES"),
        ("CESAR", "SESAR"),
        ("ZENAIDA", "CENAIDA"),
        ("CECILIA", "SESILIA"),
        // B/V
        ("VERONICA", "BERONICA"),
        ("ALVAREZ", "ALBAREZ"),
        ("OSWALDO", "OSVALDO"),
        // Y/LL
        ("CEBALLOS", "CEBAYOS"),
        ("YOLANDA", "LLOLANDA"),
        ("GUILLEN", "GUILLEN"),
        // Y as a vowel
        ("YSABEL", "ISABEL"),
        // silent H
        ("HERNANDEZ", "ERNANDEZ"),
        ("HELENA", "ELENA"),
        ("JOHANA", "JOANA"),
        ("THALIA", "TALIA"),
        // QU/K/C
        ("QUIROZ", "KIROZ"),
        ("KARLA", "CARLA"),
        ("ENRIQUE", "ENRIKE"),
        ("CARLOS", "KARLOS"),
        // G/J before E/I
        ("GERARDO", "JERARDO"),
        ("JIMENEZ", "GIMENEZ"),
        ("GENOVEVA", "JENOVEVA"),
        ("GUILLERMO", "GUIYERMO"),
        // X/J
        ("XIMENA", "JIMENA"),
        ("MEXIA", "MEJIA"),
        ("XAVIER", "JAVIER"),
        ("MEXICO", "MEJICO"),
        // doubled letters
        ("CARRILLO", "CARILLO"),
        ("VANESSA", "VANESA"),
    ];
    for (a, b) in pairs {
        assert_eq!(phonetic_key(a), phonetic_key(b), "{a} / {b}");
    }
}

#[test]
fn different_names_keep_different_phonetic_keys() {
    let pairs = [
        ("GARCIA", "GARZA"),
        ("MARIA", "MARIO"),
        ("LOPEZ", "LOZANO"),
        ("RAMOS", "RAMIREZ"),
        ("JUAN", "JUANA"),
        ("CHAVEZ", "CAVEZ"),
        ("PEREZ", "PAREDES"),
        ("GUADALUPE", "GUILLERMO"),
        ("HERNANDEZ", "FERNANDEZ"),
    ];
    for (a, b) in pairs {
        assert_ne!(phonetic_key(a), phonetic_key(b), "{a} / {b}");
    }
}

#[test]
fn phonetic_key_keeps_words_and_folds_accents() {
    assert_eq!(phonetic_key("MARIA GUADALUPE"), "MARIA GUADALUPE");
    assert_eq!(phonetic_key("José Luis"), phonetic_key("JOSE LUIS"));
    assert_eq!(phonetic_key("Chávez"), "CABES");
    assert_eq!(phonetic_key(""), "");
    assert_eq!(phonetic_key("H"), "");
}

// ------------------------------------------------------------------ compare

#[test]
fn same_valid_curp_is_exact() {
    let curp = with_digit("HEHG980314MDFRRD0");
    let a = PersonFacts {
        curp: Some(curp.clone()),
        ..person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("HERRERA"))
    };
    // Different names do not matter: the CURP wins.
    let b = PersonFacts {
        curp: Some(curp.to_lowercase()),
        ..person("LUPITA", "HERNANDES", None)
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Exact);
    assert_eq!(m.score, 1.0);
    assert_eq!(m.comparison.curp, FieldComparison::Match);
    assert_eq!(m.comparison.second_surname, FieldComparison::Blank);
}

#[test]
fn an_invalid_curp_is_ignored() {
    let bad = "HEHG980314MDFRRD0X".to_owned();
    let a = PersonFacts {
        curp: Some(bad.clone()),
        ..person("MARIA", "LOPEZ", Some("PEREZ"))
    };
    let b = PersonFacts {
        curp: Some(bad),
        ..person("JUAN", "GARCIA", Some("RUIZ"))
    };
    assert_eq!(compare(&a, &b), None);
}

#[test]
fn different_curps_cap_the_level() {
    let a = PersonFacts {
        curp: Some(with_digit("HEHG980314MDFRRD0")),
        ..person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("HERRERA"))
    };
    // Same person data, unrelated CURP: at most possible.
    let b = PersonFacts {
        curp: Some(with_digit("HEHG980314MJCRRD0")),
        ..a.clone()
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Possible);
    assert_eq!(m.comparison.curp, FieldComparison::Mismatch);
    // One typo apart: probable.
    let c = PersonFacts {
        curp: Some(with_digit("HEHG980314MDFRRD1")),
        ..a.clone()
    };
    let m = compare(&a, &c).unwrap();
    assert_eq!(m.level, MatchLevel::Probable);
    assert_eq!(m.comparison.curp, FieldComparison::Mismatch);
}

#[test]
fn identical_records_without_curp_are_probable() {
    let a = person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("LÓPEZ"));
    let m = compare(&a, &a).unwrap();
    assert_eq!(m.level, MatchLevel::Probable);
    assert!(m.score >= 0.99, "{}", m.score);
    assert_eq!(
        m.comparison,
        Comparison {
            given_names: FieldComparison::Match,
            first_surname: FieldComparison::Match,
            second_surname: FieldComparison::Match,
            birth_date: FieldComparison::Match,
            sex: FieldComparison::Match,
            curp: FieldComparison::Blank,
            missing_report_folio: FieldComparison::Blank,
        }
    );
}

#[test]
fn full_names_without_any_birth_information_are_only_possible() {
    let a = PersonFacts {
        birth_date: None,
        ..person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("LÓPEZ"))
    };
    let m = compare(&a, &a).unwrap();
    assert_eq!(m.level, MatchLevel::Possible, "{m:?}");
    assert_eq!(m.comparison.birth_date, FieldComparison::Blank);
}

#[test]
fn accents_particles_and_variants_still_match() {
    let a = person("MARÍA DE LOS ÁNGELES", "DE LA CRUZ", Some("JIMÉNEZ"));
    let b = person("MA ANGELES", "CRUZ", Some("GIMENES"));
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
}

#[test]
fn swapped_surnames_match() {
    let a = person("JOSÉ LUIS", "RAMÍREZ", Some("OROZCO"));
    let b = person("JOSE LUIS", "OROZCO", Some("RAMIREZ"));
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.first_surname, FieldComparison::Match);
    assert_eq!(m.comparison.second_surname, FieldComparison::Match);
}

#[test]
fn a_missing_second_surname_is_blank_not_mismatch() {
    let a = person("JOSÉ LUIS", "RAMÍREZ", Some("OROZCO"));
    let b = person("JOSE LUIS", "RAMIREZ", None);
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.second_surname, FieldComparison::Blank);
    // Only the mother's surname kept, in the first place.
    let c = person("JOSE LUIS", "OROZCO", None);
    let m = compare(&a, &c).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
}

#[test]
fn swapped_given_name_and_surname_order_matches() {
    let a = person("ARTURO", "SALAZAR", Some("MENDOZA"));
    let b = person("SALAZAR", "ARTURO", Some("MENDOZA"));
    let m = compare(&a, &b).unwrap();
    assert!(m.level != MatchLevel::Possible, "{m:?}");
}

#[test]
fn an_age_is_compared_with_a_date_of_birth() {
    let a = person("ITZEL", "SANTIAGO", Some("CRUZ"));
    // Born 1998-03-14: 20 on 2018-06-01, 19 on 2018-01-10.
    let aged = |age: u32, at: NaiveDate| PersonFacts {
        birth_date: None,
        age_years: Some(age),
        age_reference_date: Some(at),
        ..a.clone()
    };
    let m = compare(&a, &aged(20, date(2018, 6, 1))).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.birth_date, FieldComparison::Match);
    let m = compare(&a, &aged(19, date(2018, 1, 10))).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    // Off by several years: not probable.
    let m = compare(&a, &aged(30, date(2018, 6, 1)));
    assert!(m.is_none_or(|m| m.level == MatchLevel::Possible), "{m:?}");
    // An age without a reference date is ignored (blank).
    let m = compare(
        &a,
        &PersonFacts {
            age_reference_date: None,
            ..aged(20, date(2018, 6, 1))
        },
    )
    .unwrap();
    assert_eq!(m.comparison.birth_date, FieldComparison::Blank);
    // Two ages whose ranges overlap.
    let m = compare(&aged(20, date(2018, 6, 1)), &aged(21, date(2019, 1, 10))).unwrap();
    assert_eq!(m.comparison.birth_date, FieldComparison::Match);
}

#[test]
fn day_and_month_transposed_match() {
    let a = PersonFacts {
        birth_date: Some(date(2001, 4, 9)),
        ..person("BRENDA", "MORALES", Some("LUNA"))
    };
    let b = PersonFacts {
        birth_date: Some(date(2001, 9, 4)),
        ..a.clone()
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.birth_date, FieldComparison::Match);
}

#[test]
fn different_sex_is_a_strong_mismatch() {
    let a = person("GUADALUPE", "TORRES", Some("VEGA"));
    let b = PersonFacts {
        sex: Some("HOMBRE".into()),
        ..a.clone()
    };
    let m = compare(&a, &b);
    assert!(m.is_none_or(|m| m.level == MatchLevel::Possible), "{m:?}");
    assert_eq!(m.unwrap().comparison.sex, FieldComparison::Mismatch);
    // NO_IDENTIFICADO is blank, not a mismatch.
    let c = PersonFacts {
        sex: Some("NO_IDENTIFICADO".into()),
        ..a.clone()
    };
    let m = compare(&a, &c).unwrap();
    assert_eq!(m.level, MatchLevel::Probable);
    assert_eq!(m.comparison.sex, FieldComparison::Blank);
}

#[test]
fn siblings_and_namesakes_are_not_probable() {
    let a = person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("LÓPEZ"));
    let sister = PersonFacts {
        birth_date: Some(date(2001, 7, 2)),
        ..person("MARÍA ELENA", "HERNÁNDEZ", Some("LÓPEZ"))
    };
    assert!(compare(&a, &sister).is_none());
    let twin = person("MARÍA ELENA", "HERNÁNDEZ", Some("LÓPEZ"));
    let m = compare(&a, &twin);
    assert!(m.is_none_or(|m| m.level == MatchLevel::Possible), "{m:?}");
    let namesake = PersonFacts {
        birth_date: Some(date(1991, 11, 23)),
        ..a.clone()
    };
    let m = compare(&a, &namesake);
    assert!(m.is_none_or(|m| m.level == MatchLevel::Possible), "{m:?}");
}

#[test]
fn unrelated_people_do_not_match() {
    let a = person("MARÍA GUADALUPE", "HERNÁNDEZ", Some("LÓPEZ"));
    let b = PersonFacts {
        sex: Some("HOMBRE".into()),
        birth_date: Some(date(1975, 1, 2)),
        ..person("PEDRO", "GARCÍA", Some("RUIZ"))
    };
    assert_eq!(compare(&a, &b), None);
    assert_eq!(
        compare(&PersonFacts::default(), &PersonFacts::default()),
        None
    );
}

#[test]
fn results_serialize_as_in_the_api() {
    let m = MatchResult {
        level: MatchLevel::Probable,
        score: 0.93,
        comparison: Comparison {
            given_names: FieldComparison::Match,
            first_surname: FieldComparison::Match,
            second_surname: FieldComparison::Blank,
            birth_date: FieldComparison::Mismatch,
            sex: FieldComparison::Match,
            curp: FieldComparison::Blank,
            missing_report_folio: FieldComparison::Blank,
        },
    };
    assert_eq!(
        serde_json::to_value(m).unwrap(),
        serde_json::json!({
            "level": "probable",
            "score": 0.93,
            "comparison": {"given_names": "match", "first_surname": "match",
                "second_surname": "blank", "birth_date": "mismatch", "sex": "match", "curp": "blank",
                "missing_report_folio": "blank"}
        })
    );
}

// ----------------------------------------------------------------- blocking

#[test]
fn blocking_keys_are_few_and_shared_by_variants() {
    let a = PersonFacts {
        curp: Some(with_digit("CUJM980314MDFRMR0")),
        ..person("MARÍA GUADALUPE", "DE LA CRUZ", Some("JIMÉNEZ"))
    };
    let keys = blocking_keys(&a);
    assert!(keys.len() <= MAX_BLOCKING_KEYS, "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("C:")), "{keys:?}");
    // What a check finds: the probes of one among the stored keys of the
    // other, whichever came first.
    let share = |b: &PersonFacts| {
        let (kb, pb, pa) = (blocking_keys(b), probe_keys(b), probe_keys(&a));
        keys.iter().any(|k| pb.contains(k)) && kb.iter().any(|k| pa.contains(k))
    };
    // Accents, particles, variants, no CURP.
    assert!(share(&person("MARIA GUADALUPE", "CRUZ", Some("GIMENES"))));
    // Swapped surnames.
    assert!(share(&person("MARIA GUADALUPE", "JIMENEZ", Some("CRUZ"))));
    // Second surname missing.
    assert!(share(&person("MARIA GUADALUPE", "CRUZ", None)));
    // Typo in the first surname.
    assert!(share(&person("MARIA GUADALUPE", "CRIZ", Some("JIMENEZ"))));
    // Typo in the given name.
    assert!(share(&person("MARIA GUADALUPR", "CRUZ", Some("JIMENEZ"))));
    // An age instead of the date: 1998-03-14 is 20 on 2019-01-05.
    assert!(share(&PersonFacts {
        birth_date: None,
        age_years: Some(20),
        age_reference_date: Some(date(2019, 1, 5)),
        ..person("MARIA GUADALUPE", "CRUZ", Some("JIMENEZ"))
    }));
    // The year one off, day and month kept.
    assert!(share(&PersonFacts {
        birth_date: Some(date(1997, 3, 14)),
        ..person("MARIA GUADALUPE", "CRUZ", Some("JIMENEZ"))
    }));
    // An age one off (1998-03-14 is 20 on 2019-01-05, not 21), and no
    // second surname.
    assert!(share(&PersonFacts {
        birth_date: None,
        age_years: Some(21),
        age_reference_date: Some(date(2019, 1, 5)),
        ..person("MARIA GUADALUPE", "CRUZ", None)
    }));
    // A typo inside the given name, no second surname, the year one off.
    assert!(share(&PersonFacts {
        birth_date: Some(date(1999, 3, 14)),
        ..person("MRAIA GUADALUPE", "DE LA CRUZ", None)
    }));
    // No birth information at all.
    assert!(share(&PersonFacts {
        birth_date: None,
        ..person("MARIA GUADALUPE", "CRUZ", Some("JIMENEZ"))
    }));
    // Someone else, born the same year.
    assert!(!share(&PersonFacts {
        birth_date: Some(date(1998, 7, 1)),
        ..person("ELENA", "GARCIA", Some("LOPEZ"))
    }));
}

#[test]
fn an_age_gives_keys_for_both_possible_years() {
    let p = PersonFacts {
        birth_date: None,
        age_years: Some(20),
        age_reference_date: Some(date(2019, 6, 5)),
        ..person("ITZEL", "SANTIAGO", Some("CRUZ"))
    };
    let keys = blocking_keys(&p);
    assert!(keys.len() <= MAX_BLOCKING_KEYS, "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(":1998")), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(":1999")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(":1997")), "{keys:?}");
    // A check looks one year further each way; stored keys keep the years.
    let probes = probe_keys(&p);
    for year in 1997..=2000 {
        assert!(
            probes.iter().any(|k| k.contains(&format!(":{year}"))),
            "{probes:?}"
        );
    }
    assert!(keys.iter().all(|k| probes.contains(k)));
}

#[test]
fn nothing_known_gives_no_keys() {
    assert!(blocking_keys(&PersonFacts::default()).is_empty());
}

// ---------------------------------------------------------------- proptest

fn name_strategy() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            "MARÍA GUADALUPE",
            "MARIA GUADALUPE",
            "GUADALUPE",
            "MA. GUADALUPE",
            "JOSÉ LUIS",
            "LUIS JOSE",
            "HERNÁNDEZ",
            "ERNANDES",
            "HERNANDEZ",
            "DE LA CRUZ",
            "CRUZ",
            "LÓPEZ",
            "LOPES",
            "RAMIREZ",
            "RAMOS",
            "XIMENA",
            "JIMENA",
            "GARCIA",
            "GARZA",
        ])
        .prop_map(str::to_owned),
    )
}

prop_compose! {
    fn facts()(
        given_names in name_strategy(),
        first_surname in name_strategy(),
        second_surname in name_strategy(),
        curp in prop::option::weighted(0.3, prop::sample::select(vec![
            "HEHG980314MDFRRD0", "HEHG980314MDFRRD1", "CUJM980314MDFRMR0",
        ]).prop_map(with_digit)),
        birth in prop::option::of((1990i32..1993, 1u32..13, 1u32..29)),
        age in prop::option::of((25u32..35, 0u32..1000)),
        sex in prop::option::of(prop::sample::select(vec![
            "MUJER", "HOMBRE", "INTERSEXUAL", "NO_IDENTIFICADO",
        ]).prop_map(str::to_owned)),
    ) -> PersonFacts {
        PersonFacts {
            given_names,
            first_surname,
            second_surname,
            curp,
            birth_date: birth.map(|(y, m, d)| date(y, m, d)),
            age_years: age.map(|(a, _)| a),
            age_reference_date: age.map(|(_, days)| date(2015, 1, 1) + chrono::Duration::days(i64::from(days))),
            sex,
            missing_report_folio: None,
        }
    }
}

proptest! {
    #[test]
    fn compare_is_symmetric(a in facts(), b in facts()) {
        let ab = compare(&a, &b);
        let ba = compare(&b, &a);
        prop_assert_eq!(ab.map(|m| (m.level, m.score)), ba.map(|m| (m.level, m.score)));
    }

    #[test]
    fn a_record_matches_itself(a in facts()) {
        // Unless it has too little to go on.
        if let Some(m) = compare(&a, &a) {
            prop_assert!(m.score >= POSSIBLE_THRESHOLD);
        }
        prop_assert!(blocking_keys(&a).len() <= MAX_BLOCKING_KEYS);
    }

    #[test]
    fn scores_stay_in_range(a in facts(), b in facts()) {
        if let Some(m) = compare(&a, &b) {
            prop_assert!((0.0..=1.0).contains(&m.score));
            prop_assert_eq!(m.score, (m.score * 100.0).round() / 100.0);
        }
    }
}

// ---------------------------------------------------------------- matchable

#[test]
fn a_matchable_person_keys_and_compares_as_its_facts_do() {
    let people = [
        person("María Guadalupe", "Hernández", Some("Cruz")),
        person("MARIA GUADALUPE", "HERNANDEZ", None),
        person("Guadalupe", "Cruz", Some("Hernández")),
        PersonFacts {
            curp: Some(with_digit("HECM990412MNLRRR0")),
            ..person("Ana", "Ruiz", Some("Soto"))
        },
        PersonFacts {
            birth_date: None,
            age_years: Some(25),
            age_reference_date: Some(date(2024, 1, 10)),
            ..person("Ana", "Ruiz", None)
        },
    ];
    let matchable: Vec<Matchable> = people.iter().map(Matchable::of).collect();
    for (i, a) in people.iter().enumerate() {
        assert_eq!(matchable[i].keys(), blocking_keys(a));
        for (j, b) in people.iter().enumerate() {
            let by_facts = compare(a, b).map(|m| (m.level, m.score));
            let prepared = matchable[i]
                .compare(&matchable[j])
                .map(|m| (m.level, m.score));
            assert_eq!(by_facts, prepared, "{i} vs {j}");
        }
    }
    assert!(matchable[0].compare(&matchable[1]).is_some());
}

// ------------------------------------------------------ issue 18's errors

#[test]
fn a_birth_year_one_off_with_the_rest_agreeing_is_probable() {
    let a = PersonFacts {
        birth_date: Some(date(1981, 7, 23)),
        ..person("MARÍA", "ZAMUDIO", Some("QUINTERO"))
    };
    let b = PersonFacts {
        birth_date: Some(date(1980, 7, 23)),
        ..person("MARIA", "ZAMUDIO", Some("QUINTERO"))
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.birth_date, FieldComparison::Match);
    // Another day in the adjacent year is another person's date.
    let c = PersonFacts {
        birth_date: Some(date(1980, 2, 3)),
        ..b.clone()
    };
    let m = compare(&a, &c);
    assert!(m.is_none_or(|m| m.level == MatchLevel::Possible), "{m:?}");
}

#[test]
fn an_age_one_year_off_with_the_rest_agreeing_is_probable() {
    let a = PersonFacts {
        birth_date: Some(date(1990, 5, 20)),
        ..person("VÍCTOR MANUEL", "OLVERA", Some("IBARRA"))
    };
    // 33 at 2024-02-10; captured as 34.
    let b = PersonFacts {
        birth_date: None,
        age_years: Some(34),
        age_reference_date: Some(date(2024, 2, 10)),
        ..a.clone()
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
}

#[test]
fn one_typo_inside_a_given_name_still_matches_it() {
    for (right, typed) in [
        ("MARÍA", "MRAÍA"),
        ("VÍCTOR", "VÍTCOR"),
        ("ROSA MARÍA", "ROSA MAIRA"),
    ] {
        let a = person(right, "NÁJERA", Some("SOTO"));
        let b = person(typed, "NAJERA", Some("SOTO"));
        let m = compare(&a, &b).unwrap();
        assert_eq!(m.level, MatchLevel::Probable, "{typed}: {m:?}");
        assert_eq!(m.comparison.given_names, FieldComparison::Match, "{typed}");
    }
    // One letter apart in a short name is another name.
    let m = compare(
        &person("ANA", "SOTO", Some("LUNA")),
        &person("AVA", "SOTO", Some("LUNA")),
    );
    assert!(m.is_none_or(|m| m.level != MatchLevel::Exact), "{m:?}");
    assert_ne!(
        m.map(|m| m.comparison.given_names),
        Some(FieldComparison::Match)
    );
}

#[test]
fn the_same_missing_person_report_is_an_exact_match() {
    let a = PersonFacts {
        missing_report_folio: Some("CNB-2024-000123".into()),
        ..person("GUADALUPE", "TORRES", Some("VEGA"))
    };
    // Another capture with little in common but the report.
    let b = PersonFacts {
        missing_report_folio: Some("cnb-2024-000123".into()),
        birth_date: None,
        ..person("LUPITA", "VEGA", None)
    };
    let m = compare(&a, &b).unwrap();
    assert_eq!(m.level, MatchLevel::Exact, "{m:?}");
    assert_eq!(m.score, 1.0);
    assert_eq!(m.comparison.missing_report_folio, FieldComparison::Match);
    assert!(blocking_keys(&a).contains(&"R:CNB-2024-000123".to_owned()));
    assert!(probe_keys(&b).contains(&"R:CNB-2024-000123".to_owned()));
    // Different reports: shown as a mismatch, no evidence either way.
    let c = PersonFacts {
        missing_report_folio: Some("CLB19-2023-45".into()),
        ..a.clone()
    };
    let m = compare(&a, &c).unwrap();
    assert_eq!(m.level, MatchLevel::Probable, "{m:?}");
    assert_eq!(m.comparison.missing_report_folio, FieldComparison::Mismatch);
    // A malformed folio is ignored.
    let d = PersonFacts {
        missing_report_folio: Some("reporte 123".into()),
        ..b.clone()
    };
    assert_ne!(compare(&a, &d).map(|m| m.level), Some(MatchLevel::Exact));
}
