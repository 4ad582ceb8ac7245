//! Administration forms: catalog items and users.

use super::*;

/// An item of one of the [`CATALOGS`], administered by the national admin.
pub(super) static CATALOG_ITEM: FormSpec = FormSpec {
    key: FormKey::CatalogItem,
    label: t("Elemento de catálogo", "Catalog item"),
    resource_path: "catalogs/{catalog}/items",
    parent: None,
    period_date: PeriodDate::None,
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "catalog",
            t("Catálogo", "Catalog"),
            t(
                "Catálogo al que pertenece el elemento.",
                "The catalog the item belongs to.",
            ),
            FieldType::Choice {
                options: &CATALOG_CHOICES,
            },
        )
        .required(),
        FieldSpec::new(
            "code",
            t("Clave", "Code"),
            t(
                "Clave del elemento: mayúsculas, dígitos y guion bajo (por ejemplo, \
                 POSIBLE_VICTIMA, 19 o 19039). No cambia una vez usada.",
                "The item's code: capitals, digits and underscores (e.g. POSIBLE_VICTIMA, 19 \
                 or 19039). It does not change once used.",
            ),
            text(60),
        )
        .required()
        .rules(&[Rule::Code]),
        FieldSpec::new(
            "label_es",
            t("Etiqueta en español", "Spanish label"),
            t(
                "Nombre del elemento en español, con acentos.",
                "The item's name in Spanish, with accents.",
            ),
            text(300),
        )
        .required(),
        FieldSpec::new(
            "label_en",
            t("Etiqueta en inglés", "English label"),
            t(
                "Nombre del elemento en inglés.",
                "The item's name in English.",
            ),
            text(300),
        )
        .required(),
        FieldSpec::new(
            "parent_code",
            t("Clave del elemento padre", "Parent code"),
            t(
                "En catálogos jerárquicos, clave del elemento al que pertenece (la entidad de \
                 un municipio, la etapa de una determinación); vacío en los demás.",
                "In hierarchical catalogs, the code of the item this one belongs to (a \
                 municipality's entity, a determination's stage); empty in the others.",
            ),
            text(60),
        )
        .rules(&[Rule::Code, Rule::ParentItem("catalog")]),
        FieldSpec::new(
            "sort_order",
            t("Orden", "Sort order"),
            t(
                "Posición del elemento en las listas; los menores aparecen primero.",
                "The item's position in lists; lower numbers come first.",
            ),
            integer(0, 1_000_000),
        ),
        FieldSpec::new(
            "active",
            t("Activo", "Active"),
            t(
                "No para dar de baja el elemento: deja de aceptarse en registros nuevos, pero \
                 los registros que ya lo usan lo conservan.",
                "No to retire the item: new records no longer accept it, but records that \
                 already use it keep it.",
            ),
            FieldType::Boolean,
        ),
    ],
};

/// The roles a person's account may have (service accounts, role `system`,
/// are managed separately).
static ROLE_OPTIONS: [Choice; 5] = [
    Choice {
        code: "national_admin",
        label: t(
            "Administración nacional (Secretaría Técnica)",
            "National administrator (technical secretariat)",
        ),
    },
    Choice {
        code: "entity_admin",
        label: t("Administración estatal", "Entity administrator"),
    },
    Choice {
        code: "operator",
        label: t("Captura", "Operator"),
    },
    Choice {
        code: "analyst",
        label: t("Análisis", "Analyst"),
    },
    Choice {
        code: "auditor",
        label: t("Auditoría", "Auditor"),
    },
];

/// A person's user account.
pub(super) static USER: FormSpec = FormSpec {
    key: FormKey::User,
    label: t("Usuario", "User"),
    resource_path: "users",
    parent: None,
    period_date: PeriodDate::None,
    fields: &[
        EXTERNAL_FOLIO,
        FieldSpec::new(
            "username",
            t("Nombre de usuario", "Username"),
            t(
                "Nombre para iniciar sesión: minúsculas, dígitos, punto, guion y guion bajo, de \
                 3 a 64 caracteres (por ejemplo, oper.nl.fgj).",
                "Login name: lower-case letters, digits, dot, hyphen and underscore, 3 to 64 \
                 characters (e.g. oper.nl.fgj).",
            ),
            text(64),
        )
        .required()
        .rules(&[Rule::Username]),
        FieldSpec::new(
            "full_name",
            t("Nombre completo", "Full name"),
            t(
                "Nombre completo de la persona usuaria.",
                "The user's full name.",
            ),
            text(300),
        )
        .required()
        .personal(),
        FieldSpec::new(
            "email",
            t("Correo electrónico", "Email"),
            t(
                "Correo electrónico institucional de la persona usuaria.",
                "The user's institutional email address.",
            ),
            text(254),
        )
        .personal()
        .rules(&[Rule::Email]),
        FieldSpec::new(
            "role",
            t("Rol", "Role"),
            t(
                "Qué puede ver y hacer la persona usuaria en el sistema.",
                "What the user may see and do in the system.",
            ),
            FieldType::Choice {
                options: &ROLE_OPTIONS,
            },
        )
        .required(),
        FieldSpec::new(
            "institution_id",
            t("Institución", "Institution"),
            t(
                "Identificador (UUID) de la institución a la que pertenece la persona usuaria.",
                "Id (UUID) of the institution the user belongs to.",
            ),
            FieldType::Uuid,
        )
        .required(),
        FieldSpec::new(
            "active",
            t("Activo", "Active"),
            t(
                "No para dar de baja la cuenta: no podrá iniciar sesión y sus sesiones abiertas \
                 se revocan.",
                "No to deactivate the account: it can no longer log in and its open sessions \
                 are revoked.",
            ),
            FieldType::Boolean,
        ),
    ],
};
