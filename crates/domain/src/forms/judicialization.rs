//! Judicialization module (módulo de judicialización): investigations,
//! criminal cases and their procedural events, defendants and sentences.

use super::*;

/// An investigation: a carpeta de investigación (accusatory system) or an
/// averiguación previa (the former system).
pub(super) static INVESTIGATION: FormSpec = FormSpec {
    key: FormKey::Investigation,
    label: t(
        "Investigación (carpeta de investigación o averiguación previa)",
        "Investigation",
    ),
    resource_path: "investigations",
    parent: None,
    period_date: PeriodDate::Field("opening_date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "investigation_type",
            t("Tipo de investigación", "Investigation type"),
            t(
                "Carpeta de investigación o averiguación previa (catálogo investigation_type).",
                "Carpeta de investigación or averiguación previa (catalog investigation_type).",
            ),
            catalog("investigation_type"),
        )
        .required(),
        FieldSpec::new(
            "folio",
            t("Folio de la investigación", "Investigation folio"),
            t(
                "Número o folio oficial de la carpeta de investigación o averiguación previa.",
                "Official number or folio of the investigation file.",
            ),
            text(100),
        )
        .required(),
        FieldSpec::new(
            "prosecutor_office",
            t("Fiscalía o unidad", "Prosecutor's office"),
            t(
                "Fiscalía, fiscalía especializada o unidad que integra la investigación, si no \
                 es la institución que registra.",
                "Prosecutor's office or specialized unit in charge of the investigation, if \
                 not the institution recording it.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "opening_date",
            t("Fecha de inicio", "Opening date"),
            t(
                "Fecha en que se inició la investigación; no puede ser posterior a hoy.",
                "Date the investigation was opened; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "fuero",
            t("Fuero", "Jurisdiction (fuero)"),
            t(
                "Fuero común o federal (catálogo fuero).",
                "Common (state) or federal jurisdiction (catalog fuero).",
            ),
            catalog("fuero"),
        )
        .required(),
        FieldSpec::new(
            "crimes",
            t("Delitos", "Crimes"),
            t(
                "Delitos que se investigan, por artículo de la Ley General; puede indicar \
                 varios (catálogo crime).",
                "Crimes investigated, by article of the Ley General; several may be given \
                 (catalog crime).",
            ),
            catalogs("crime"),
        )
        .required(),
        FieldSpec::new(
            "victim_ids",
            t("Víctimas vinculadas", "Linked victims"),
            t(
                "Víctimas registradas en el sistema a las que se refiere la investigación. En \
                 Excel y en la actualización por folio pueden indicarse, en su lugar, sus \
                 folios externos (victim_folios).",
                "Victims recorded in the system the investigation concerns. In Excel and in \
                 upserts by folio, their external folios (victim_folios) may be given instead.",
            ),
            FieldType::Reference {
                form: FormKey::Victim,
                folio_key: "victim_folios",
                multiple: true,
            },
        ),
        FieldSpec::new(
            "stage",
            t("Etapa procesal", "Procedural stage"),
            t(
                "Etapa en que se encuentra la investigación (catálogo procedural_stage).",
                "Stage the investigation has reached (catalog procedural_stage).",
            ),
            catalog("procedural_stage"),
        ),
        FieldSpec::new(
            "determination",
            t("Determinación", "Determination"),
            t(
                "Determinación con que concluyó la etapa; debe corresponder a la etapa \
                 procesal indicada (catálogo determination).",
                "Determination that ended the stage; it must belong to the given procedural \
                 stage (catalog determination).",
            ),
            catalog_within("determination", "stage"),
        ),
        FieldSpec::new(
            "determination_date",
            t("Fecha de la determinación", "Determination date"),
            t(
                "Fecha de la determinación; no puede ser anterior a la fecha de inicio ni \
                 posterior a hoy.",
                "Date of the determination; it may not be earlier than the opening date nor \
                 later than today.",
            ),
            FieldType::Date,
        )
        .rules(&[Rule::NotFuture, Rule::NotBefore("opening_date")]),
        FieldSpec::new(
            "entity_code",
            t("Entidad federativa", "Federal entity"),
            t(
                "Clave INEGI de dos dígitos de la entidad donde se integra la investigación (01 \
                 a 32).",
                "Two-digit INEGI key of the entity where the investigation is conducted (01 to \
                 32).",
            ),
            catalog("entity"),
        )
        .required(),
    ],
};

/// A criminal case (causa penal) opened when an investigation is
/// judicialized.
pub(super) static CRIMINAL_CASE: FormSpec = FormSpec {
    key: FormKey::CriminalCase,
    label: t("Causa penal", "Criminal case"),
    resource_path: "criminal-cases",
    parent: Some(FormKey::Investigation),
    period_date: PeriodDate::Field("judicialized_date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "investigation_id",
            t("Investigación", "Investigation"),
            t(
                "Investigación que se judicializó. En Excel y en la actualización por folio \
                 puede indicarse, en su lugar, el folio externo de la investigación \
                 (investigation_folio).",
                "The investigation that was judicialized. In Excel and in upserts by folio, \
                 the investigation's external folio (investigation_folio) may be given instead.",
            ),
            reference(FormKey::Investigation, "investigation_folio"),
        )
        .required(),
        FieldSpec::new(
            "court",
            t("Órgano jurisdiccional", "Court"),
            t(
                "Juzgado o tribunal que conoce de la causa.",
                "Court hearing the case.",
            ),
            text(300),
        )
        .required(),
        FieldSpec::new(
            "case_number",
            t("Número de causa penal", "Case number"),
            t(
                "Número de la causa penal asignado por el órgano jurisdiccional.",
                "Case number assigned by the court.",
            ),
            text(100),
        )
        .required(),
        FieldSpec::new(
            "judicialized_date",
            t("Fecha de judicialización", "Judicialization date"),
            t(
                "Fecha en que la investigación se puso a disposición del juez de control; no \
                 puede ser posterior a hoy.",
                "Date the investigation was brought before the control judge; it may not be \
                 later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "stage",
            t("Etapa procesal", "Procedural stage"),
            t(
                "Etapa en que se encuentra la causa (catálogo procedural_stage).",
                "Stage the case has reached (catalog procedural_stage).",
            ),
            catalog("procedural_stage"),
        ),
    ],
};

/// A dated event of a criminal case (audiencia inicial, vinculación, …).
pub(super) static PROCEDURAL_EVENT: FormSpec = FormSpec {
    key: FormKey::ProceduralEvent,
    label: t("Actuación procesal", "Procedural event"),
    resource_path: "criminal-cases/{id}/events",
    parent: Some(FormKey::CriminalCase),
    period_date: PeriodDate::Field("date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "criminal_case_id",
            t("Causa penal", "Criminal case"),
            t(
                "Causa penal a la que pertenece la actuación. En Excel y en la actualización \
                 por folio puede indicarse, en su lugar, el folio externo de la causa \
                 (criminal_case_folio).",
                "The criminal case of the event. In Excel and in upserts by folio, the case's \
                 external folio (criminal_case_folio) may be given instead.",
            ),
            reference(FormKey::CriminalCase, "criminal_case_folio"),
        )
        .required(),
        FieldSpec::new(
            "event_type",
            t("Tipo de actuación", "Event type"),
            t(
                "Audiencia inicial, vinculación a proceso, medidas cautelares, acusación, \
                 apertura a juicio, … (catálogo procedural_event).",
                "Initial hearing, binding over for trial, precautionary measures, indictment, \
                 opening of trial, … (catalog procedural_event).",
            ),
            catalog("procedural_event"),
        )
        .required(),
        FieldSpec::new(
            "date",
            t("Fecha de la actuación", "Event date"),
            t(
                "Fecha en que tuvo lugar la actuación; no puede ser posterior a hoy.",
                "Date the event took place; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "notes",
            t("Observaciones", "Notes"),
            t(
                "Observaciones sobre la actuación. Se trata como dato personal, pues puede \
                 mencionar a las partes.",
                "Notes on the event. Treated as personal data, since it may name the parties.",
            ),
            long_text(4000),
        )
        .personal(),
    ],
};

/// A defendant (persona imputada) of a criminal case.
pub(super) static DEFENDANT: FormSpec = FormSpec {
    key: FormKey::Defendant,
    label: t("Persona imputada", "Defendant"),
    resource_path: "defendants",
    parent: Some(FormKey::CriminalCase),
    period_date: PeriodDate::Parent,
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "criminal_case_id",
            t("Causa penal", "Criminal case"),
            t(
                "Causa penal en que se imputa a la persona. En Excel y en la actualización por \
                 folio puede indicarse, en su lugar, el folio externo de la causa \
                 (criminal_case_folio).",
                "The criminal case the person is charged in. In Excel and in upserts by \
                 folio, the case's external folio (criminal_case_folio) may be given instead.",
            ),
            reference(FormKey::CriminalCase, "criminal_case_folio"),
        )
        .required(),
        FieldSpec::new(
            "given_names",
            t("Nombre(s)", "Given names"),
            t("Nombre o nombres de pila.", "Given name or names."),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "first_surname",
            t("Primer apellido", "First surname"),
            t("Primer apellido (paterno).", "First (paternal) surname."),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "second_surname",
            t("Segundo apellido", "Second surname"),
            t("Segundo apellido (materno).", "Second (maternal) surname."),
            text(100),
        )
        .personal(),
        FieldSpec::new(
            "sex",
            t("Sexo", "Sex"),
            t(
                "Sexo de la persona imputada (catálogo sex).",
                "The defendant's sex (catalog sex).",
            ),
            catalog("sex"),
        )
        .required(),
        FieldSpec::new(
            "age",
            t("Edad", "Age"),
            t(
                "Edad en años cumplidos al momento de la imputación (0 a 120).",
                "Age in completed years when charged (0 to 120).",
            ),
            integer(0, 120),
        ),
        FieldSpec::new(
            "nationality",
            t("Nacionalidad", "Nationality"),
            t(
                "País de nacionalidad, clave ISO 3166-1 alfa-3 (catálogo country).",
                "Country of nationality, ISO 3166-1 alpha-3 code (catalog country).",
            ),
            catalog("country"),
        ),
        FieldSpec::new(
            "precautionary_measures",
            t("Medidas cautelares", "Precautionary measures"),
            t(
                "Medidas cautelares impuestas (artículo 155 del CNPP); puede indicar varias \
                 (catálogo precautionary_measure).",
                "Precautionary measures imposed (CNPP article 155); several may be given \
                 (catalog precautionary_measure).",
            ),
            catalogs("precautionary_measure"),
        ),
        FieldSpec::new(
            "detained",
            t("Persona detenida", "Detained"),
            t(
                "Sí si la persona está privada de la libertad; No si no.",
                "Yes if the person is in custody; No if not.",
            ),
            FieldType::Boolean,
        ),
    ],
};

/// A sentence: per defendant and crime.
pub(super) static SENTENCE: FormSpec = FormSpec {
    key: FormKey::Sentence,
    label: t("Sentencia", "Sentence"),
    resource_path: "sentences",
    parent: Some(FormKey::Defendant),
    period_date: PeriodDate::Field("date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "defendant_id",
            t("Persona imputada", "Defendant"),
            t(
                "Persona sentenciada. En Excel y en la actualización por folio puede indicarse, \
                 en su lugar, el folio externo de la persona imputada (defendant_folio).",
                "The person sentenced. In Excel and in upserts by folio, the defendant's \
                 external folio (defendant_folio) may be given instead.",
            ),
            reference(FormKey::Defendant, "defendant_folio"),
        )
        .required(),
        FieldSpec::new(
            "crime",
            t("Delito", "Crime"),
            t(
                "Delito por el que se dicta la sentencia (catálogo crime). Registre una \
                 sentencia por cada delito.",
                "Crime the sentence is for (catalog crime). Record one sentence per crime.",
            ),
            catalog("crime"),
        )
        .required(),
        FieldSpec::new(
            "date",
            t("Fecha de la sentencia", "Sentence date"),
            t(
                "Fecha en que se dictó la sentencia; no puede ser posterior a hoy.",
                "Date the sentence was handed down; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "sentence_type",
            t("Sentido de la sentencia", "Sentence type"),
            t(
                "Condenatoria o absolutoria (catálogo sentence_type).",
                "Conviction or acquittal (catalog sentence_type).",
            ),
            catalog("sentence_type"),
        )
        .required(),
        FieldSpec::new(
            "route",
            t("Vía", "Route"),
            t(
                "Juicio oral o procedimiento abreviado (catálogo sentence_route).",
                "Oral trial or abbreviated procedure (catalog sentence_route).",
            ),
            catalog("sentence_route"),
        ),
        FieldSpec::new(
            "prison_years",
            t("Prisión (años)", "Prison (years)"),
            t(
                "Años de prisión impuestos; 0 si no hubo pena de prisión.",
                "Years of prison imposed; 0 if none.",
            ),
            integer(0, 200),
        ),
        FieldSpec::new(
            "prison_months",
            t("Prisión (meses)", "Prison (months)"),
            t(
                "Meses de prisión además de los años (0 a 11).",
                "Months of prison on top of the years (0 to 11).",
            ),
            integer(0, 11),
        ),
        FieldSpec::new(
            "fine",
            t("Multa (días multa)", "Fine (day-fines)"),
            t(
                "Multa impuesta, en días multa.",
                "Fine imposed, in day-fines (días multa).",
            ),
            integer(0, 1_000_000),
        ),
        FieldSpec::new(
            "reparation_amount",
            t("Reparación del daño (pesos)", "Reparation amount (pesos)"),
            t(
                "Monto de la reparación del daño ordenada, en pesos mexicanos.",
                "Amount of reparation ordered, in Mexican pesos.",
            ),
            FieldType::Decimal {
                min: 0.0,
                max: 1.0e12,
            },
        ),
        FieldSpec::new(
            "reparation_paid",
            t("Reparación pagada", "Reparation paid"),
            t(
                "Sí si la reparación del daño ya se cubrió; No si no.",
                "Yes if the reparation has been paid; No if not.",
            ),
            FieldType::Boolean,
        ),
        FieldSpec::new(
            "firmness",
            t("Firmeza", "Firmness"),
            t(
                "Firme o impugnada (catálogo sentence_firmness).",
                "Final or under appeal (catalog sentence_firmness).",
            ),
            catalog("sentence_firmness"),
        ),
    ],
};
