//! Commissions module (Comisiones, Sesiones, Acuerdos): the commissions and
//! their sessions, agreements and agreements' follow-up history.

use super::*;

/// A commission: a state CIE (comisión, comité or consejo), the Comisión
/// Intersecretarial, or one of their subcommissions and working groups.
pub(super) static COMMISSION: FormSpec = FormSpec {
    key: FormKey::Commission,
    label: t(
        "Comisión, comité o consejo",
        "Commission, committee or council",
    ),
    resource_path: "commissions",
    parent: None,
    period_date: PeriodDate::Field("installation_date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "name",
            t("Nombre", "Name"),
            t(
                "Nombre oficial de la instancia (comisión, comité, consejo, subcomisión o grupo \
                 de trabajo), como aparece en su instrumento de creación.",
                "Official name of the body (commission, committee, council, subcommission or \
                 working group), as in the instrument that created it.",
            ),
            text(300),
        )
        .required(),
        FieldSpec::new(
            "kind",
            t("Tipo de instancia", "Kind"),
            t(
                "Comisión, comité, consejo, subcomisión o grupo de trabajo (catálogo \
                 commission_kind).",
                "Commission, committee, council, subcommission or working group (catalog \
                 commission_kind).",
            ),
            catalog("commission_kind"),
        )
        .required(),
        FieldSpec::new(
            "entity_code",
            t("Entidad federativa", "Federal entity"),
            t(
                "Clave INEGI de dos dígitos de la entidad a la que pertenece la instancia (01 a \
                 32); 00 para la Comisión Intersecretarial y sus subcomisiones y grupos.",
                "Two-digit INEGI key of the body's entity (01 to 32); 00 for the Comisión \
                 Intersecretarial and its subcommissions and groups.",
            ),
            catalog("entity"),
        )
        .required(),
        FieldSpec::new(
            "installation_date",
            t("Fecha de instalación", "Installation date"),
            t(
                "Fecha de la sesión de instalación. Se admite cualquier fecha pasada, aunque sea \
                 anterior al registro en el sistema; no puede ser posterior a hoy.",
                "Date of the installation session. Any past date is accepted, even before the \
                 system existed; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "legal_instrument",
            t("Instrumento jurídico de creación", "Legal instrument"),
            t(
                "Ley, decreto o acuerdo que crea la instancia.",
                "Law, decree or agreement that created the body.",
            ),
            text(500),
        ),
        FieldSpec::new(
            "publication_date",
            t("Fecha de publicación", "Publication date"),
            t(
                "Fecha de publicación del instrumento jurídico en el Diario Oficial de la \
                 Federación o en el periódico oficial de la entidad.",
                "Date the legal instrument was published in the Diario Oficial de la \
                 Federación or the state's official gazette.",
            ),
            FieldType::Date,
        )
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "technical_secretariat",
            t("Secretaría Técnica", "Technical secretariat"),
            t(
                "Dependencia que ejerce la Secretaría Técnica de la instancia.",
                "Agency that serves as the body's technical secretariat.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "status",
            t("Estatus", "Status"),
            t(
                "Situación actual de la instancia (catálogo commission_status).",
                "Current status of the body (catalog commission_status).",
            ),
            catalog("commission_status"),
        ),
    ],
};

/// A session of a commission.
pub(super) static SESSION: FormSpec = FormSpec {
    key: FormKey::Session,
    label: t("Sesión", "Session"),
    resource_path: "sessions",
    parent: Some(FormKey::Commission),
    period_date: PeriodDate::Field("date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "commission_id",
            t("Comisión", "Commission"),
            t(
                "Instancia que sesiona. En Excel y en la actualización por folio puede \
                 indicarse, en su lugar, el folio externo de la comisión (commission_folio).",
                "The body that meets. In Excel and in upserts by folio, the commission's \
                 external folio (commission_folio) may be given instead.",
            ),
            reference(FormKey::Commission, "commission_folio"),
        )
        .required(),
        FieldSpec::new(
            "number",
            t("Número de sesión", "Session number"),
            t(
                "Número consecutivo de la sesión dentro de su tipo (por ejemplo, 3 para la \
                 tercera sesión ordinaria).",
                "Sequence number of the session within its type (e.g. 3 for the third \
                 ordinary session).",
            ),
            integer(1, 9999),
        )
        .required(),
        FieldSpec::new(
            "session_type",
            t("Tipo de sesión", "Session type"),
            t(
                "Instalación, ordinaria o extraordinaria (catálogo session_type).",
                "Installation, ordinary or extraordinary (catalog session_type).",
            ),
            catalog("session_type"),
        )
        .required(),
        FieldSpec::new(
            "date",
            t("Fecha de la sesión", "Session date"),
            t(
                "Fecha en que se celebró o se celebrará la sesión.",
                "Date on which the session was or will be held.",
            ),
            FieldType::Date,
        )
        .required(),
        FieldSpec::new(
            "modality",
            t("Modalidad", "Modality"),
            t(
                "Presencial, virtual o híbrida (catálogo session_modality).",
                "In person, virtual or hybrid (catalog session_modality).",
            ),
            catalog("session_modality"),
        ),
        FieldSpec::new(
            "venue",
            t("Sede", "Venue"),
            t(
                "Lugar de la sesión, o la plataforma si fue virtual.",
                "Where the session took place, or the platform if virtual.",
            ),
            text(300),
        ),
        FieldSpec::new(
            "attending_institutions",
            t("Instituciones asistentes", "Attending institutions"),
            t(
                "Instituciones que asistieron, separadas por punto y coma.",
                "Institutions that attended, separated by semicolons.",
            ),
            long_text(4000),
        ),
        FieldSpec::new(
            "quorum",
            t("Quórum", "Quorum"),
            t(
                "Sí si la sesión contó con el quórum legal; No si no lo tuvo.",
                "Yes if the session had its legal quorum; No if not.",
            ),
            FieldType::Boolean,
        ),
    ],
};

/// An agreement taken in a session.
pub(super) static AGREEMENT: FormSpec = FormSpec {
    key: FormKey::Agreement,
    label: t("Acuerdo", "Agreement"),
    resource_path: "agreements",
    parent: Some(FormKey::Session),
    period_date: PeriodDate::Parent,
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "session_id",
            t("Sesión", "Session"),
            t(
                "Sesión en que se tomó el acuerdo. En Excel y en la actualización por folio \
                 puede indicarse, en su lugar, el folio externo de la sesión (session_folio).",
                "Session in which the agreement was taken. In Excel and in upserts by folio, \
                 the session's external folio (session_folio) may be given instead.",
            ),
            reference(FormKey::Session, "session_folio"),
        )
        .required(),
        FieldSpec::new(
            "key",
            t("Clave del acuerdo", "Agreement key"),
            t(
                "Clave con que la instancia identifica el acuerdo (por ejemplo, \
                 CIENL/2024/ORD3/01).",
                "Key by which the body identifies the agreement (e.g. CIENL/2024/ORD3/01).",
            ),
            text(100),
        )
        .required(),
        FieldSpec::new(
            "text",
            t("Texto del acuerdo", "Agreement text"),
            t("Texto íntegro del acuerdo.", "Full text of the agreement."),
            long_text(8000),
        )
        .required(),
        FieldSpec::new(
            "responsible_institutions",
            t("Instituciones responsables", "Responsible institutions"),
            t(
                "Instituciones a cargo de cumplir el acuerdo, separadas por punto y coma.",
                "Institutions in charge of fulfilling the agreement, separated by semicolons.",
            ),
            long_text(4000),
        ),
        FieldSpec::new(
            "due_date",
            t("Fecha compromiso", "Due date"),
            t(
                "Fecha límite para cumplir el acuerdo, si se fijó.",
                "Deadline to fulfil the agreement, if one was set.",
            ),
            FieldType::Date,
        ),
        FieldSpec::new(
            "status",
            t("Estatus", "Status"),
            t(
                "Pendiente, en proceso, cumplido o cancelado (catálogo agreement_status).",
                "Pending, in progress, fulfilled or cancelled (catalog agreement_status).",
            ),
            catalog("agreement_status"),
        )
        .required(),
    ],
};

/// One dated entry of an agreement's follow-up history.
pub(super) static AGREEMENT_FOLLOW_UP: FormSpec = FormSpec {
    key: FormKey::AgreementFollowUp,
    label: t("Seguimiento de acuerdo", "Agreement follow-up"),
    resource_path: "agreements/{id}/follow-ups",
    parent: Some(FormKey::Agreement),
    period_date: PeriodDate::Field("date"),
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "agreement_id",
            t("Acuerdo", "Agreement"),
            t(
                "Acuerdo al que se da seguimiento. En Excel y en la actualización por folio \
                 puede indicarse, en su lugar, el folio externo del acuerdo (agreement_folio).",
                "The agreement followed up. In Excel and in upserts by folio, the agreement's \
                 external folio (agreement_folio) may be given instead.",
            ),
            reference(FormKey::Agreement, "agreement_folio"),
        )
        .required(),
        FieldSpec::new(
            "date",
            t("Fecha del seguimiento", "Follow-up date"),
            t(
                "Fecha a la que se reporta el avance; no puede ser posterior a hoy.",
                "Date of the reported progress; it may not be later than today.",
            ),
            FieldType::Date,
        )
        .required()
        .rules(&[Rule::NotFuture]),
        FieldSpec::new(
            "progress",
            t("Avance", "Progress"),
            t(
                "Descripción de las acciones realizadas y del avance a esa fecha.",
                "Description of the actions taken and the progress at that date.",
            ),
            long_text(8000),
        )
        .required(),
        FieldSpec::new(
            "status",
            t("Estatus del acuerdo", "Agreement status"),
            t(
                "Estatus del acuerdo a la fecha del seguimiento (catálogo agreement_status).",
                "Status of the agreement at the follow-up date (catalog agreement_status).",
            ),
            catalog("agreement_status"),
        )
        .required(),
    ],
};
