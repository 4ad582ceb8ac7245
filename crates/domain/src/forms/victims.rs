//! Victim attention module (Atención a Víctimas y Posibles Víctimas): the
//! people and the attentions given to them.

use super::*;

/// A victim, possible victim or offended person (DESIGN.md §2).
pub(super) static VICTIM: FormSpec = FormSpec {
    key: FormKey::Victim,
    label: t("Víctima o posible víctima", "Victim or possible victim"),
    resource_path: "victims",
    parent: None,
    period_date: PeriodDate::Field("detection_date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "condition",
            t("Condición", "Condition"),
            t(
                "Víctima, posible víctima u ofendido (catálogo victim_condition).",
                "Victim, possible victim or offended person (catalog victim_condition).",
            ),
            catalog("victim_condition"),
        )
        .required(),
        FieldSpec::new(
            "given_names",
            t("Nombre(s)", "Given names"),
            t(
                "Nombre o nombres de pila. Puede omitirse para proteger a la persona; en ese \
                 caso registre un alias.",
                "Given name or names. May be withheld to protect the person; then record an \
                 alias.",
            ),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "first_surname",
            t("Primer apellido", "First surname"),
            t(
                "Primer apellido (paterno), si se conoce.",
                "First (paternal) surname, if known.",
            ),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "second_surname",
            t("Segundo apellido", "Second surname"),
            t(
                "Segundo apellido (materno), si se conoce.",
                "Second (maternal) surname, if known.",
            ),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "alias",
            t("Alias o seudónimo", "Alias"),
            t(
                "Alias, seudónimo o identificador con el que se conoce a la persona cuando su \
                 nombre se reserva.",
                "Alias, pseudonym or identifier used when the person's name is withheld.",
            ),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "curp",
            t("CURP", "CURP"),
            t(
                "Clave Única de Registro de Población de 18 caracteres, si se conoce. Se \
                 verifica su formato, su fecha y su dígito verificador.",
                "The 18-character Clave Única de Registro de Población, if known. Its layout, \
                 date and check digit are verified.",
            ),
            FieldType::Curp,
        )
        .personal(),
        FieldSpec::new(
            "missing_report_folio",
            t(
                "Folio del reporte de persona desaparecida",
                "Missing-person report folio",
            ),
            t(
                "Folio del reporte de persona desaparecida o no localizada, si lo hay: \
                 CNB-AAAA-número si lo emitió la Comisión Nacional de Búsqueda (Registro \
                 Nacional de Personas Desaparecidas y No Localizadas) o CLBEE-AAAA-número si lo \
                 emitió la comisión local de búsqueda de la entidad EE (clave INEGI de dos \
                 dígitos); AAAA es el año del reporte. Ejemplos: CNB-2024-000123, \
                 CLB19-2023-45. Dos registros con el mismo folio son la misma persona.",
                "The folio of the missing-person report, if any: CNB-YYYY-number when the \
                 National Search Commission issued it (national registry of missing persons), \
                 or CLBEE-YYYY-number when the local search commission of entity EE (two-digit \
                 INEGI key) did; YYYY is the report's year. Examples: CNB-2024-000123, \
                 CLB19-2023-45. Two records with the same folio are the same person.",
            ),
            text(crate::missing_report::MAX_LEN),
        )
        .personal()
        .rules(&[Rule::MissingReportFolio]),
        FieldSpec::new(
            "sex",
            t("Sexo", "Sex"),
            t(
                "Sexo de la persona (catálogo sex): mujer, hombre, intersexual o no \
                 identificado.",
                "The person's sex (catalog sex): woman, man, intersex or not identified.",
            ),
            catalog("sex"),
        )
        .required(),
        FieldSpec::new(
            "gender_identity",
            t("Identidad de género", "Gender identity"),
            t(
                "Identidad de género que la persona manifiesta (catálogo gender_identity).",
                "Gender identity the person states (catalog gender_identity).",
            ),
            catalog("gender_identity"),
        ),
        FieldSpec::new(
            "birth_date",
            t("Fecha de nacimiento", "Date of birth"),
            t(
                "Fecha de nacimiento, si se conoce; si no, registre la edad al momento de la \
                 detección.",
                "Date of birth, if known; otherwise record the age at detection.",
            ),
            FieldType::Date,
        )
        .personal()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "age_at_detection",
            t("Edad al momento de la detección", "Age at detection"),
            t(
                "Edad cumplida, en años, cuando la persona fue detectada (0 a 120).",
                "Age in completed years when the person was detected (0 to 120).",
            ),
            integer(0, 120),
        ),
        FieldSpec::new(
            "nationality",
            t("Nacionalidad", "Nationality"),
            t(
                "País de nacionalidad, clave ISO 3166-1 alfa-3 (catálogo country; MEX para \
                 México).",
                "Country of nationality, ISO 3166-1 alpha-3 code (catalog country; MEX for \
                 Mexico).",
            ),
            catalog("country"),
        ),
        FieldSpec::new(
            "country_of_birth",
            t("País de nacimiento", "Country of birth"),
            t(
                "País de nacimiento, clave ISO 3166-1 alfa-3 (catálogo country).",
                "Country of birth, ISO 3166-1 alpha-3 code (catalog country).",
            ),
            catalog("country"),
        ),
        FieldSpec::new(
            "indigenous_self_identification",
            t("Autoadscripción indígena", "Indigenous self-identification"),
            t(
                "Sí si la persona se reconoce como indígena; No si no; vacío si no se preguntó.",
                "Yes if the person identifies as indigenous; No if not; empty if not asked.",
            ),
            FieldType::Boolean,
        ),
        FieldSpec::new(
            "indigenous_language",
            t("Lengua indígena", "Indigenous language"),
            t(
                "Lengua indígena que habla la persona, si alguna (catálogo \
                 indigenous_language).",
                "Indigenous language the person speaks, if any (catalog indigenous_language).",
            ),
            catalog("indigenous_language"),
        ),
        FieldSpec::new(
            "disabilities",
            t("Discapacidad", "Disabilities"),
            t(
                "Discapacidades de la persona, si alguna; puede indicar varias (catálogo \
                 disability).",
                "The person's disabilities, if any; several may be given (catalog disability).",
            ),
            catalogs("disability"),
        ),
        FieldSpec::new(
            "migrant_status",
            t("Condición migratoria", "Migrant status"),
            t(
                "Condición migratoria de la persona en México (catálogo migrant_status).",
                "The person's migrant status in Mexico (catalog migrant_status).",
            ),
            catalog("migrant_status"),
        ),
        FieldSpec::new(
            "detection_date",
            t("Fecha de detección", "Detection date"),
            t(
                "Fecha en que la persona fue detectada o identificada como víctima; no puede \
                 ser posterior a hoy ni anterior a su nacimiento.",
                "Date the person was detected or identified as a victim; it may not be later \
                 than today nor earlier than their birth.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture, Rule::NotBefore("birth_date")]),
        FieldSpec::new(
            "detection_entity_code",
            t("Entidad de detección", "Detection entity"),
            t(
                "Clave INEGI de dos dígitos de la entidad donde se detectó a la persona (01 a \
                 32).",
                "Two-digit INEGI key of the entity where the person was detected (01 to 32).",
            ),
            catalog("entity"),
        )
        .required(),
        FieldSpec::new(
            "detection_municipality_code",
            t("Municipio de detección", "Detection municipality"),
            t(
                "Clave geoestadística INEGI de cinco dígitos (CVEGEO) del municipio donde se \
                 detectó a la persona; debe pertenecer a la entidad de detección.",
                "Five-digit INEGI geostatistical key (CVEGEO) of the municipality where the \
                 person was detected; it must lie in the detection entity.",
            ),
            catalog_within("municipality", "detection_entity_code"),
        ),
        FieldSpec::new(
            "detecting_institution",
            t("Institución que detecta", "Detecting institution"),
            t(
                "Institución que detectó o identificó a la persona.",
                "Institution that detected or identified the person.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "detection_source",
            t("Fuente de detección", "Detection source"),
            t(
                "Cómo se conoció el caso: denuncia, operativo, Línea Nacional, consulado, \
                 verificación migratoria, … (catálogo detection_source).",
                "How the case became known: complaint, operation, national hotline, \
                 consulate, migration check, … (catalog detection_source).",
            ),
            catalog("detection_source"),
        ),
        FieldSpec::new(
            "exploitation_forms",
            t("Formas de explotación", "Forms of exploitation"),
            t(
                "Formas de explotación del artículo 10 de la Ley General; puede indicar varias \
                 (catálogo exploitation_form).",
                "Forms of exploitation of article 10 of the Ley General; several may be given \
                 (catalog exploitation_form).",
            ),
            catalogs("exploitation_form"),
        ),
        FieldSpec::new(
            "exploitation_entity_code",
            t("Entidad de explotación", "Exploitation entity"),
            t(
                "Clave INEGI de la entidad donde ocurrió la explotación, si fue en México.",
                "INEGI key of the entity where the exploitation took place, if in Mexico.",
            ),
            catalog("entity"),
        ),
        FieldSpec::new(
            "exploitation_country",
            t("País de explotación", "Exploitation country"),
            t(
                "País donde ocurrió la explotación, clave ISO 3166-1 alfa-3 (catálogo country).",
                "Country where the exploitation took place, ISO 3166-1 alpha-3 code (catalog \
                 country).",
            ),
            catalog("country"),
        ),
        FieldSpec::new(
            "recruitment_means",
            t("Medios de captación", "Means of recruitment"),
            t(
                "Medios con que se captó a la persona; puede indicar varios (catálogo \
                 recruitment_means).",
                "Means by which the person was recruited; several may be given (catalog \
                 recruitment_means).",
            ),
            catalogs("recruitment_means"),
        ),
        FieldSpec::new(
            "control_means",
            t("Medios de control", "Means of control"),
            t(
                "Medios con que se controló a la persona; puede indicar varios (catálogo \
                 control_means).",
                "Means by which the person was controlled; several may be given (catalog \
                 control_means).",
            ),
            catalogs("control_means"),
        ),
        FieldSpec::new(
            "recruiter_relation",
            t(
                "Relación con la persona captadora",
                "Relation to the recruiter",
            ),
            t(
                "Relación de la persona con quien la captó (catálogo recruiter_relation).",
                "The person's relation to their recruiter (catalog recruiter_relation).",
            ),
            catalog("recruiter_relation"),
        ),
        FieldSpec::new(
            "consent_to_share",
            t(
                "Consentimiento para compartir datos",
                "Consent to share data",
            ),
            t(
                "Sí si la persona consintió que sus datos se compartan con otras instituciones \
                 para su atención.",
                "Yes if the person consented to their data being shared with other \
                 institutions for their attention.",
            ),
            FieldType::Boolean,
        ),
    ],
};

/// An attention (service) given to a victim.
pub(super) static ATTENTION: FormSpec = FormSpec {
    key: FormKey::Attention,
    label: t("Atención", "Attention"),
    resource_path: "attentions",
    parent: Some(FormKey::Victim),
    period_date: PeriodDate::Field("date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "victim_id",
            t("Víctima", "Victim"),
            t(
                "Persona atendida. En Excel y en la actualización por folio puede indicarse, en \
                 su lugar, el folio externo de la víctima (victim_folio).",
                "The person attended. In Excel and in upserts by folio, the victim's external \
                 folio (victim_folio) may be given instead.",
            ),
            reference(FormKey::Victim, "victim_folio"),
        )
        .required(),
        FieldSpec::new(
            "date",
            t("Fecha de la atención", "Attention date"),
            t(
                "Fecha en que se brindó la atención; no puede ser posterior a hoy.",
                "Date the attention was given; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "service",
            t("Servicio", "Service"),
            t(
                "Tipo de atención: jurídica, psicológica, médica, alojamiento, asistencia \
                 consular, repatriación, traducción, trabajo social, … (catálogo \
                 attention_service).",
                "Kind of attention: legal, psychological, medical, shelter, consular \
                 assistance, repatriation, translation, social work, … (catalog \
                 attention_service).",
            ),
            catalog("attention_service"),
        )
        .required(),
        FieldSpec::new(
            "institution",
            t("Institución que atiende", "Attending institution"),
            t(
                "Institución que brindó la atención, si no es la que registra.",
                "Institution that gave the attention, if not the one recording it.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "referral_to",
            t("Canalizada a", "Referred to"),
            t(
                "Institución a la que se canalizó a la persona, si se canalizó.",
                "Institution the person was referred to, if referred.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "notes",
            t("Observaciones", "Notes"),
            t(
                "Observaciones sobre la atención. Es dato personal: no se muestra a quien no \
                 tiene acceso a datos personales.",
                "Notes on the attention. Personal data: hidden from whoever has no access to \
                 personal data.",
            ),
            long_text(4000),
        )
        .personal(),
    ],
};
