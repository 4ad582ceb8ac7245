//! `sintra demo-data`: a synthetic country for frontend work and demos,
//! written into an empty database through the services layer (audit,
//! projections, rollups, the changes feed and duplicate checks all run, as
//! for records sent to the API).
//!
//! What it writes, deterministic by seed (same seed, same content; ids and
//! timestamps are new each time):
//!
//! - in each of the 32 entities, three institutions (the state's fiscalía,
//!   its victims' commission and its government secretariat, which keeps
//!   the state commission's records), each with an operator account that
//!   writes its records; in a few entities (CDMX, Jalisco, Estado de México,
//!   Nuevo León) an entity admin, an analyst and a state system's service
//!   account besides; a national admin and a national auditor at the
//!   Secretaría Técnica;
//! - the state commissions against trafficking, their sessions (the
//!   installation and then ordinary and extraordinary ones) and agreements:
//!   fulfilled, in progress and overdue, some with follow-ups;
//! - victims with realistic Mexican names (the duplicate module's labelled
//!   generator), spread by population, some captured twice with the errors
//!   real captures show (so duplicate pairs appear), with their attentions;
//! - investigations naming those victims, the criminal cases judicialized
//!   from some, their timelines, defendants and sentences.
//!
//! Every account's password is [`DEMO_PASSWORD`], one-time for people (it
//! logs in only to be changed, within `SINTRA_ONE_TIME_PASSWORD_HOURS`);
//! the service account's client secret is the same, for scripts.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use sintra_domain::access::{AccountKind, Actor, Caller, EntityCode, Role, FEDERAL_ENTITY};
use sintra_domain::duplicates::labelled;
use sintra_domain::duplicates::PersonFacts;
use sintra_domain::forms::FormKey;
use sintra_domain::i18n::Lang;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::org::{self, NewInstitution};
use sintra_persistence::users::NewUser;
use sintra_persistence::{db, schema, Pool, StoreError};
use sintra_services::records::write::{self, CreateOptions, Written};
use uuid::Uuid;

use crate::bootstrap::FIRST_INSTITUTION;
use crate::config::Config;

/// Every demo account's password (one-time for people).
pub const DEMO_PASSWORD: &str = "demo-sintra-cambiar";

/// The seed when none is given.
pub const DEFAULT_SEED: u64 = 20_261_207;

/// The last date anything is dated: no date lies in the future.
// A literal date, which is real.
#[allow(clippy::expect_used)]
fn last_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 28).expect("a valid date")
}

/// The entities that get every role's accounts.
const FEATURED: &[&str] = &["09", "14", "15", "19"];

/// How much to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoSize {
    /// A few hundred records: for tests (seconds in a debug build).
    Small,
    /// About 3,300 victims and the rest in proportion: for frontend work.
    Full,
}

struct Scale {
    /// Distinct people, then perturbed copies of some of them.
    people: usize,
    copies: usize,
    /// Years with sessions after the installation, and sessions per year.
    session_years: std::ops::RangeInclusive<i32>,
    sessions_per_year: u32,
    agreements_per_session: u32,
}

impl DemoSize {
    pub fn as_str(self) -> &'static str {
        match self {
            DemoSize::Small => "small",
            DemoSize::Full => "full",
        }
    }

    fn scale(self) -> Scale {
        match self {
            DemoSize::Small => Scale {
                people: 160,
                copies: 24,
                session_years: 2025..=2025,
                sessions_per_year: 1,
                agreements_per_session: 2,
            },
            DemoSize::Full => Scale {
                people: 3000,
                copies: 300,
                session_years: 2020..=2025,
                sessions_per_year: 3,
                agreements_per_session: 3,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub size: DemoSize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: DEFAULT_SEED,
            size: DemoSize::Full,
        }
    }
}

/// An account the demo created.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub username: String,
    pub role: Role,
    pub institution: String,
    pub entity_code: String,
}

/// What the demo wrote.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub institutions: usize,
    pub accounts: Vec<DemoAccount>,
    /// Records written per form.
    pub records: BTreeMap<&'static str, usize>,
    /// Victims whose write answered duplicate warnings.
    pub victims_with_warnings: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "la base de datos no está vacía ({0}): demo-data solo llena una base sin registros ni \
         instituciones (fuera de la Secretaría Técnica inicial); use otra DATABASE_URL"
    )]
    NotEmpty(String),
    #[error("SINTRA_ENV=production: demo-data no escribe datos ficticios en producción")]
    Production,
    #[error("{form} {folio}: {detail}")]
    Refused {
        form: &'static str,
        folio: String,
        detail: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Who writes an institution's records.
#[derive(Clone)]
struct Writer {
    caller: Caller,
}

/// One entity and its institutions.
struct Place {
    code: String,
    slug: String,
    /// «de Nuevo León», «de la Ciudad de México».
    of: String,
    population: i64,
    municipalities: Vec<(String, i64)>,
    fiscalia: Writer,
    ceav: Writer,
    gobierno: Writer,
}

/// Fills an empty database. Refuses when records or institutions (other
/// than the first admin's Secretaría Técnica) exist, and in production.
pub async fn fill(
    pool: &Pool,
    config: &Config,
    options: &DemoOptions,
) -> Result<DemoReport, DemoError> {
    if config.production {
        return Err(DemoError::Production);
    }
    let mut conn = db::conn(pool).await?;
    let records: i64 = schema::records::table
        .count()
        .get_result(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    let institutions: i64 = schema::institutions::table
        .filter(schema::institutions::name.ne(FIRST_INSTITUTION))
        .count()
        .get_result(&mut *conn)
        .await
        .map_err(StoreError::from)?;
    if records > 0 || institutions > 0 {
        return Err(DemoError::NotEmpty(format!(
            "{records} registros, {institutions} instituciones"
        )));
    }
    drop(conn);

    let mut demo = Demo {
        pool,
        seed: options.seed,
        scale: options.size.scale(),
        request_id: format!("demo-data-{}", options.seed),
        report: DemoReport::default(),
        password_hash: sintra_services::passwords::hash(DEMO_PASSWORD.to_string())
            .await
            .map_err(|e| anyhow::anyhow!("hash de la contraseña: {e}"))?,
        expiry: config.one_time_password_expiry(),
    };
    let places = demo.organization().await?;
    demo.commissions(&places).await?;
    let victims = demo.victims(&places).await?;
    demo.judicialization(&places, &victims).await?;
    Ok(demo.report)
}

struct Demo<'a> {
    pool: &'a Pool,
    seed: u64,
    scale: Scale,
    request_id: String,
    report: DemoReport,
    password_hash: String,
    expiry: chrono::DateTime<chrono::Utc>,
}

/// A victim as written: who holds it, where, when.
struct StoredVictim {
    id: Uuid,
    place: usize,
    detection: NaiveDate,
}

// Called with literal dates only, which are real.
#[allow(clippy::expect_used)]
fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `d` plus `from` to `from + days` days, never past the last date.
fn later(rng: &mut StdRng, d: NaiveDate, from: i64, days: i64) -> NaiveDate {
    (d + Duration::days(rng.random_range(from..=from + days))).min(last_date())
}

/// One of `items` by weight.
fn weighted<'t, T>(rng: &mut StdRng, items: &'t [(T, u32)]) -> &'t T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].0
}

/// A lower-case ASCII slug of an entity's abbreviation («Q. Roo» → qroo).
fn slug(abbreviation: &str) -> String {
    abbreviation
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn of_entity(code: &str, name: &str) -> String {
    match code {
        "09" => "de la Ciudad de México".into(),
        "15" => "del Estado de México".into(),
        _ => format!("de {name}"),
    }
}

impl Demo<'_> {
    fn rng(&self, section: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ section)
    }

    // The column refers to `entities`, whose codes all parse.
    #[allow(clippy::expect_used)]
    fn caller(&self, user_id: Uuid, username: &str, role: Role, inst: &org::Institution) -> Caller {
        let entity_code = EntityCode::parse(&inst.entity_code).expect("an entity's code");
        Caller {
            actor: Actor {
                user_id,
                username: username.to_string(),
                role,
                institution_id: inst.id,
                entity_code,
                token_id: Uuid::nil(),
            },
            request_id: self.request_id.clone(),
            ip: None,
            lang: Lang::Es,
        }
    }

    /// Creates an institution, audited as the national admin's.
    async fn institution(
        &mut self,
        admin: Option<&Caller>,
        entity_code: &str,
        name: String,
        institution_type: &str,
    ) -> Result<org::Institution, DemoError> {
        let new = NewInstitution {
            id: Uuid::now_v7(),
            entity_code: entity_code.into(),
            name,
            institution_type: institution_type.into(),
            created_by: admin.map(|a| a.actor.user_id),
            updated_by: admin.map(|a| a.actor.user_id),
        };
        let ctx = admin.map(AuditContext::for_caller).unwrap_or_default();
        let mut conn = db::conn(self.pool).await?;
        let created = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let created = org::insert_institution(conn, &new).await?;
                let entry = AuditEntry::modification(&ctx, AuditAction::Create, "institution")
                    .resource(created.id)
                    .changes(json!({
                        "entity_code": {"before": null, "after": created.entity_code},
                        "name": {"before": null, "after": created.name},
                        "institution_type": {"before": null, "after": created.institution_type},
                    }));
                audit::append(conn, &[entry]).await?;
                Ok(created)
            })
            .await?;
        self.report.institutions += 1;
        Ok(created)
    }

    /// Creates an account with the demo password, audited; returns the
    /// caller it acts as.
    async fn account(
        &mut self,
        admin: Option<&Caller>,
        inst: &org::Institution,
        username: &str,
        full_name: &str,
        role: Role,
    ) -> Result<Caller, DemoError> {
        let service = role == Role::System;
        let new = NewUser {
            id: Uuid::now_v7(),
            institution_id: inst.id,
            kind: if service {
                AccountKind::Service
            } else {
                AccountKind::Person
            },
            username: username.into(),
            full_name: full_name.into(),
            email: None,
            role,
            password_hash: self.password_hash.clone(),
            created_by: admin.map(|a| a.actor.user_id),
            updated_by: admin.map(|a| a.actor.user_id),
            one_time_password_expires_at: (!service).then_some(self.expiry),
        };
        let ctx = admin.map(AuditContext::for_caller).unwrap_or_default();
        let mut conn = db::conn(self.pool).await?;
        let row = conn
            .transaction::<_, StoreError, _>(async |conn| {
                sintra_services::users::insert_account(conn, &ctx, &new).await
            })
            .await?;
        self.report.accounts.push(DemoAccount {
            username: username.into(),
            role,
            institution: inst.name.clone(),
            entity_code: inst.entity_code.clone(),
        });
        Ok(self.caller(row.id, username, role, inst))
    }

    /// The operator account that writes an institution's records.
    async fn operator(
        &mut self,
        admin: &Caller,
        inst: &org::Institution,
        slug: &str,
        of: &str,
        what: &str,
    ) -> Result<Writer, DemoError> {
        let caller = self
            .account(
                Some(admin),
                inst,
                &format!("{slug}.{what}"),
                &format!("Operación {what} {of} (demostración)"),
                Role::Operator,
            )
            .await?;
        Ok(Writer { caller })
    }

    /// The Secretaría Técnica and its national accounts, then three
    /// institutions per entity with their accounts.
    async fn organization(&mut self) -> Result<Vec<Place>, DemoError> {
        let mut conn = db::conn(self.pool).await?;
        let entities = org::list_entities(&mut conn).await?;
        let existing = schema::institutions::table
            .filter(schema::institutions::name.eq(FIRST_INSTITUTION))
            .select(org::Institution::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(StoreError::from)?;
        #[derive(diesel::QueryableByName)]
        struct Municipality {
            #[diesel(sql_type = diesel::sql_types::Text)]
            code: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            entity: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            population: i64,
        }
        let municipalities: Vec<Municipality> = diesel::sql_query(
            "SELECT code, parent_code AS entity, COALESCE((extra->>'population')::bigint, 1) AS population \
             FROM catalog_items WHERE catalog = 'municipality' AND active AND parent_code IS NOT NULL \
             ORDER BY code",
        )
        .load(&mut *conn)
        .await
        .map_err(StoreError::from)?;
        drop(conn);

        let secretariat = match existing {
            Some(inst) => inst,
            None => {
                self.institution(
                    None,
                    FEDERAL_ENTITY.as_str(),
                    FIRST_INSTITUTION.into(),
                    "SECRETARIA_TECNICA",
                )
                .await?
            }
        };
        let admin = self
            .account(
                None,
                &secretariat,
                "nacional.admin",
                "Administración nacional (demostración)",
                Role::NationalAdmin,
            )
            .await?;
        self.account(
            Some(&admin),
            &secretariat,
            "nacional.auditoria",
            "Auditoría nacional (demostración)",
            Role::Auditor,
        )
        .await?;

        let mut places = Vec::new();
        for e in entities
            .iter()
            .filter(|e| e.code.as_str() != FEDERAL_ENTITY)
        {
            let of = of_entity(&e.code, &e.name);
            let slug = slug(&e.abbreviation);
            let fiscalia_name = match e.code.as_str() {
                "09" => "Fiscalía General de Justicia de la Ciudad de México".to_string(),
                "15" => "Fiscalía General de Justicia del Estado de México".to_string(),
                _ => format!("Fiscalía General del Estado {of}"),
            };
            let fiscalia = self
                .institution(Some(&admin), &e.code, fiscalia_name, "FISCALIA")
                .await?;
            let ceav = self
                .institution(
                    Some(&admin),
                    &e.code,
                    format!("Comisión Ejecutiva de Atención a Víctimas {of}"),
                    "COMISION_VICTIMAS",
                )
                .await?;
            let gobierno = self
                .institution(
                    Some(&admin),
                    &e.code,
                    format!("Secretaría General de Gobierno {of}"),
                    "SECRETARIA",
                )
                .await?;
            let fiscalia_writer = self
                .operator(&admin, &fiscalia, &slug, &of, "fiscalia")
                .await?;
            let ceav_writer = self.operator(&admin, &ceav, &slug, &of, "ceav").await?;
            let gobierno_writer = self
                .operator(&admin, &gobierno, &slug, &of, "gobierno")
                .await?;
            if FEATURED.contains(&e.code.as_str()) {
                for (role, what) in [(Role::EntityAdmin, "admin"), (Role::Analyst, "analista")] {
                    self.account(
                        Some(&admin),
                        &gobierno,
                        &format!("{slug}.{what}"),
                        &format!("{what} {of} (demostración)"),
                        role,
                    )
                    .await?;
                }
                self.account(
                    Some(&admin),
                    &fiscalia,
                    &format!("{slug}.sistema"),
                    &format!("Sistema de casos de la fiscalía {of} (demostración)"),
                    Role::System,
                )
                .await?;
            }
            places.push(Place {
                code: e.code.clone(),
                slug,
                of,
                population: e.population,
                municipalities: municipalities
                    .iter()
                    .filter(|m| m.entity == e.code)
                    .map(|m| (m.code.clone(), m.population.max(1)))
                    .collect(),
                fiscalia: fiscalia_writer,
                ceav: ceav_writer,
                gobierno: gobierno_writer,
            });
        }
        Ok(places)
    }

    /// Writes one record through the services layer, as the API does;
    /// answers its id (and, for people, whether it was warned about).
    async fn write(
        &mut self,
        writer: &Writer,
        form: FormKey,
        body: Value,
        parent: Option<Uuid>,
    ) -> Result<(Uuid, bool), DemoError> {
        let Value::Object(body) = body else {
            unreachable!("record bodies are objects");
        };
        let folio = body
            .get("external_folio")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let options = CreateOptions {
            parent,
            ..Default::default()
        };
        let written = write::create(self.pool, &writer.caller, form, body, options)
            .await
            .map_err(|e| DemoError::Refused {
                form: form.as_str(),
                folio: folio.clone(),
                detail: match e {
                    sintra_services::error::ServiceError::Validation(errors) => errors
                        .iter()
                        .map(|f| format!("{} {} ({})", f.field, f.code, f.message.es))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => format!("{other:?}"),
                },
            })?;
        let Written::Created { body, .. } = written else {
            return Err(DemoError::Other(anyhow::anyhow!(
                "{} {folio}: not created",
                form.as_str()
            )));
        };
        *self.report.records.entry(form.as_str()).or_default() += 1;
        let (record, warned) = match body.get("data") {
            Some(data) if form == FormKey::Victim => (
                data,
                body["warnings"].as_array().is_some_and(|w| !w.is_empty()),
            ),
            _ => (&body, false),
        };
        let id = record["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{} {folio}: no id in the answer", form.as_str()))?;
        Ok((id, warned))
    }

    /// A commission per entity, its sessions and their agreements.
    async fn commissions(&mut self, places: &[Place]) -> Result<(), DemoError> {
        let mut rng = self.rng(1);
        let years = self.scale.session_years.clone();
        let per_year = self.scale.sessions_per_year;
        let max_agreements = self.scale.agreements_per_session;
        for place in places {
            let w = place.gobierno.clone();
            let installed = date(rng.random_range(2011..=2019), rng.random_range(1..=12), 1)
                + Duration::days(rng.random_range(0..27));
            let kind = *weighted(&mut rng, &[("COMISION", 26), ("COMITE", 3), ("CONSEJO", 3)]);
            let prefix = place.slug.to_uppercase();
            let commission_folio = format!("{prefix}-CIT-{}", installed.year());
            let (commission, _) = self
                .write(
                    &w,
                    FormKey::Commission,
                    json!({
                        "external_folio": commission_folio,
                        "name": format!(
                            "Comisión Interinstitucional para Prevenir, Sancionar y Erradicar los Delitos en Materia de Trata de Personas {}",
                            place.of
                        ),
                        "kind": kind,
                        "entity_code": place.code,
                        "installation_date": iso(installed),
                        "legal_instrument": "Decreto publicado en el Periódico Oficial del Estado",
                        "publication_date": iso(installed - Duration::days(rng.random_range(5..40))),
                        "status": "ACTIVA",
                    }),
                    None,
                )
                .await?;
            // The installation session, then the ordinary and extraordinary ones.
            let mut dates = vec![("INSTALACION", installed)];
            for year in years.clone() {
                for n in 0..per_year {
                    let month = 1 + n * 12 / per_year + rng.random_range(0..(12 / per_year).max(1));
                    let d = date(year, month.min(12), rng.random_range(1..=28));
                    if d > installed && d <= last_date() {
                        let t = if rng.random_bool(0.15) {
                            "EXTRAORDINARIA"
                        } else {
                            "ORDINARIA"
                        };
                        dates.push((t, d));
                    }
                }
            }
            for (number, (session_type, held)) in dates.into_iter().enumerate() {
                let number = number + 1;
                let session_folio = format!("{prefix}-SES-{}-{number:02}", held.year());
                let (session, _) = self
                    .write(
                        &w,
                        FormKey::Session,
                        json!({
                            "external_folio": session_folio,
                            "commission_id": commission,
                            "number": number,
                            "session_type": session_type,
                            "date": iso(held),
                            "modality": weighted(&mut rng, &[("PRESENCIAL", 6), ("VIRTUAL", 2), ("HIBRIDA", 3)]),
                            "quorum": rng.random_bool(0.93),
                        }),
                        None,
                    )
                    .await?;
                for k in 1..=rng.random_range(1..=max_agreements) {
                    // Most are due within months; some of the last year's
                    // run into 2027, so pending agreements not yet due exist
                    // too (overdue is judged against today).
                    let due = if held.year() == 2025 && rng.random_bool(0.4) {
                        date(2027, rng.random_range(1..=6), 15)
                    } else {
                        held + Duration::days(rng.random_range(30..=270))
                    };
                    // Due dates passed: mostly fulfilled, some overdue.
                    let status = if due < last_date() {
                        *weighted(
                            &mut rng,
                            &[
                                ("CUMPLIDO", 55),
                                ("PENDIENTE", 20),
                                ("EN_PROCESO", 20),
                                ("CANCELADO", 5),
                            ],
                        )
                    } else {
                        *weighted(&mut rng, &[("PENDIENTE", 60), ("EN_PROCESO", 40)])
                    };
                    let (agreement, _) = self
                        .write(
                            &w,
                            FormKey::Agreement,
                            json!({
                                "external_folio": format!("{session_folio}-A{k}"),
                                "session_id": session,
                                "key": format!("CIT/{prefix}/{number:02}/{k}/{}", held.year()),
                                "text": AGREEMENT_TEXTS[rng.random_range(0..AGREEMENT_TEXTS.len())],
                                "due_date": iso(due),
                                "status": status,
                            }),
                            None,
                        )
                        .await?;
                    if matches!(status, "EN_PROCESO" | "CUMPLIDO") {
                        let on = later(&mut rng, held, 7, 120).min(due);
                        self.write(
                            &w,
                            FormKey::AgreementFollowUp,
                            json!({
                                "external_folio": format!("{session_folio}-A{k}-S1"),
                                "date": iso(on),
                                "progress": if status == "CUMPLIDO" {
                                    "Se entregó el producto comprometido a la comisión."
                                } else {
                                    "Se presentó un avance en la sesión; queda pendiente su entrega."
                                },
                                "status": status,
                            }),
                            Some(agreement),
                        )
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Victims spread by population, a tenth of them captured again with
    /// errors (often by the other institution of their entity), and the
    /// attentions the victims' commission gave them.
    async fn victims(&mut self, places: &[Place]) -> Result<Vec<StoredVictim>, DemoError> {
        let mut rng = self.rng(2);
        let set = labelled::generate(self.seed, self.scale.people, self.scale.copies);
        let weights: Vec<(usize, u32)> = places
            .iter()
            .enumerate()
            .map(|(i, p)| (i, u32::try_from(p.population / 10_000).unwrap_or(1).max(1)))
            .collect();
        // Where each original lives; a copy lives where its original does.
        let mut home: Vec<usize> = (0..set.people.len())
            .map(|_| *weighted(&mut rng, &weights))
            .collect();
        let mut copy_of = vec![None; set.people.len()];
        for pair in &set.duplicates {
            home[pair.copy] = home[pair.original];
            copy_of[pair.copy] = Some(pair.original);
        }
        let mut stored = Vec::with_capacity(set.people.len());
        let mut by_fiscalia = vec![false; set.people.len()];
        for (i, person) in set.people.iter().enumerate() {
            let place = &places[home[i]];
            // The other institution captures most copies.
            let fiscalia = match copy_of[i] {
                Some(original) => {
                    if rng.random_bool(0.7) {
                        !by_fiscalia[original]
                    } else {
                        by_fiscalia[original]
                    }
                }
                None => rng.random_bool(0.55),
            };
            by_fiscalia[i] = fiscalia;
            let writer = if fiscalia {
                place.fiscalia.clone()
            } else {
                place.ceav.clone()
            };
            let detection = set.detection_dates[i].min(last_date());
            let body = self.victim_body(&mut rng, place, i, person, detection, fiscalia);
            let (id, warned) = self.write(&writer, FormKey::Victim, body, None).await?;
            if warned {
                self.report.victims_with_warnings += 1;
            }
            stored.push(StoredVictim {
                id,
                place: home[i],
                detection,
            });
            // The victims' commission attends most of the people it registers.
            if !fiscalia && rng.random_bool(0.6) {
                let mut on = detection;
                for n in 1..=rng.random_range(1..=3) {
                    on = later(&mut rng, on, 0, 45);
                    let service = *weighted(
                        &mut rng,
                        &[
                            ("ATENCION_INMEDIATA", 8),
                            ("PSICOLOGICA", 8),
                            ("JURIDICA", 7),
                            ("MEDICA", 5),
                            ("TRABAJO_SOCIAL", 4),
                            ("ALOJAMIENTO_REFUGIO", 3),
                            ("AYUDA_HUMANITARIA", 2),
                            ("REINTEGRACION_FAMILIAR", 1),
                        ],
                    );
                    self.write(
                        &writer,
                        FormKey::Attention,
                        json!({
                            "external_folio": format!("{}-CEAV-AT-{i:05}-{n}", place.slug.to_uppercase()),
                            "victim_id": id,
                            "date": iso(on),
                            "service": service,
                        }),
                        None,
                    )
                    .await?;
                }
            }
        }
        Ok(stored)
    }

    fn victim_body(
        &self,
        rng: &mut StdRng,
        place: &Place,
        i: usize,
        person: &PersonFacts,
        detection: NaiveDate,
        fiscalia: bool,
    ) -> Value {
        let mut v = Map::new();
        let unit = if fiscalia { "FGE" } else { "CEAV" };
        v.insert(
            "external_folio".into(),
            format!("{}-{unit}-V-{i:05}", place.slug.to_uppercase()).into(),
        );
        let condition = *weighted(
            rng,
            &[("VICTIMA", 70), ("POSIBLE_VICTIMA", 25), ("OFENDIDO", 5)],
        );
        v.insert("condition".into(), condition.into());
        for (key, value) in [
            ("given_names", &person.given_names),
            ("first_surname", &person.first_surname),
            ("second_surname", &person.second_surname),
            ("curp", &person.curp),
            ("sex", &person.sex),
        ] {
            if let Some(value) = value {
                v.insert(key.into(), value.clone().into());
            }
        }
        match (person.birth_date, person.age_years) {
            (Some(birth), _) => {
                v.insert("birth_date".into(), iso(birth).into());
            }
            (None, Some(age)) => {
                v.insert("age_at_detection".into(), age.into());
            }
            _ => {}
        }
        let nationality = *weighted(
            rng,
            &[
                ("MEX", 86),
                ("GTM", 4),
                ("HND", 4),
                ("SLV", 2),
                ("VEN", 2),
                ("COL", 1),
                ("CUB", 1),
            ],
        );
        v.insert("nationality".into(), nationality.into());
        v.insert("detection_date".into(), iso(detection).into());
        v.insert("detection_entity_code".into(), place.code.clone().into());
        if !place.municipalities.is_empty() && rng.random_bool(0.85) {
            let weights: Vec<(&str, u32)> = place
                .municipalities
                .iter()
                .map(|(code, population)| {
                    (
                        code.as_str(),
                        u32::try_from(population / 1_000).unwrap_or(1).max(1),
                    )
                })
                .collect();
            v.insert(
                "detection_municipality_code".into(),
                (*weighted(rng, &weights)).into(),
            );
        }
        v.insert(
            "detection_source".into(),
            (*weighted(
                rng,
                &[
                    ("DENUNCIA", 30),
                    ("OPERATIVO", 20),
                    ("LINEA_NACIONAL", 8),
                    ("LLAMADA_EMERGENCIA", 8),
                    ("CANALIZACION", 10),
                    ("FAMILIAR_TERCERO", 8),
                    ("VERIFICACION_MIGRATORIA", 5),
                    ("PATRULLAJE_CIBERNETICO", 4),
                    ("AUTOIDENTIFICACION", 4),
                    ("NO_ESPECIFICADA", 3),
                ],
            ))
            .into(),
        );
        let form = *weighted(
            rng,
            &[
                ("EXPLOTACION_SEXUAL", 55),
                ("EXPLOTACION_LABORAL", 15),
                ("TRABAJO_FORZADO", 8),
                ("MENDICIDAD_FORZOSA", 7),
                ("MENORES_ACTIVIDADES_DELICTIVAS", 6),
                ("MATRIMONIO_FORZOSO", 4),
                ("CONDICION_SIERVO", 3),
                ("ADOPCION_ILEGAL", 2),
            ],
        );
        v.insert("exploitation_forms".into(), json!([form]));
        v.insert("exploitation_entity_code".into(), place.code.clone().into());
        v.insert(
            "recruitment_means".into(),
            json!([*weighted(
                rng,
                &[
                    ("OFERTA_EMPLEO_FALSA", 35),
                    ("RELACION_SENTIMENTAL", 20),
                    ("INTERNET_REDES", 15),
                    ("VULNERABILIDAD", 10),
                    ("VIOLENCIA_AMENAZA", 8),
                    ("SECUESTRO", 5),
                    ("NO_ESPECIFICADO", 7),
                ],
            )]),
        );
        v.insert(
            "recruiter_relation".into(),
            (*weighted(
                rng,
                &[
                    ("CONOCIDO", 25),
                    ("PAREJA", 20),
                    ("DESCONOCIDO", 20),
                    ("EMPLEADOR", 15),
                    ("FAMILIAR", 10),
                    ("AMISTAD", 5),
                    ("NO_ESPECIFICADA", 5),
                ],
            ))
            .into(),
        );
        Value::Object(v)
    }

    /// Investigations by each fiscalía naming its entity's victims, the
    /// cases judicialized from about half of them, their timelines,
    /// defendants and sentences.
    async fn judicialization(
        &mut self,
        places: &[Place],
        victims: &[StoredVictim],
    ) -> Result<(), DemoError> {
        let mut rng = self.rng(3);
        // The defendants' names: other generated people.
        let names = labelled::generate(self.seed ^ 0xDEF, victims.len().max(10), 0).people;
        let mut next_name = 0usize;
        for (p, place) in places.iter().enumerate() {
            let w = place.fiscalia.clone();
            let prefix = place.slug.to_uppercase();
            let mut own: Vec<&StoredVictim> = victims.iter().filter(|v| v.place == p).collect();
            own.sort_by_key(|v| v.detection);
            // About one investigation for every three victims, each naming
            // one to three of them detected close together.
            let mut at = 0usize;
            let mut n = 0usize;
            while at < own.len() {
                let take = rng.random_range(1..=3).min(own.len() - at);
                let group = &own[at..at + take];
                at += take;
                if rng.random_bool(0.35) {
                    continue;
                }
                n += 1;
                // `take` is at least 1: a group is never empty.
                let Some(latest) = group.iter().map(|v| v.detection).max() else {
                    continue;
                };
                let opened = later(&mut rng, latest, 0, 30);
                let year = opened.year();
                let folio = format!("{prefix}-CI-{year}-{n:04}");
                let fuero = *weighted(&mut rng, &[("COMUN", 9), ("FEDERAL", 1)]);
                let crimes = if rng.random_bool(0.7) {
                    json!(["LGT_ART_13"])
                } else {
                    json!(["LGT_ART_10", "LGT_ART_13"])
                };
                let judicialized =
                    rng.random_bool(0.5) && opened + Duration::days(15) < last_date();
                let mut body = json!({
                    "external_folio": folio,
                    "investigation_type": "CARPETA_INVESTIGACION",
                    "folio": format!("FGE-{prefix}/UIETP/{n:04}/{year}"),
                    "opening_date": iso(opened),
                    "fuero": fuero,
                    "crimes": crimes,
                    "stage": "INV_INICIAL",
                    "victim_ids": group.iter().map(|v| v.id.to_string()).collect::<Vec<_>>(),
                    "entity_code": place.code,
                });
                let determined = if judicialized {
                    Some(("JUDICIALIZADA", later(&mut rng, opened, 10, 200)))
                } else if rng.random_bool(0.3) {
                    Some(("ARCHIVO_TEMPORAL", later(&mut rng, opened, 30, 300)))
                } else {
                    None
                };
                if let Some((determination, on)) = determined {
                    body["determination"] = determination.into();
                    body["determination_date"] = iso(on).into();
                }
                let (investigation, _) = self.write(&w, FormKey::Investigation, body, None).await?;
                let Some(("JUDICIALIZADA", on)) = determined else {
                    continue;
                };
                self.case(
                    &mut rng,
                    &w,
                    &prefix,
                    n,
                    investigation,
                    on,
                    &names,
                    &mut next_name,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A criminal case judicialized `on`, its timeline, defendants and, when
    /// it got that far, their sentences.
    #[allow(clippy::too_many_arguments)]
    async fn case(
        &mut self,
        rng: &mut StdRng,
        w: &Writer,
        prefix: &str,
        n: usize,
        investigation: Uuid,
        on: NaiveDate,
        names: &[PersonFacts],
        next_name: &mut usize,
    ) -> Result<(), DemoError> {
        let year = on.year();
        let case_folio = format!("{prefix}-CP-{year}-{n:04}");
        // How far it got: a sentence after trial, an abbreviated one, or
        // still in investigation; a sentence needs a few months.
        let (mut stage, mut route) = match rng.random_range(0..100) {
            0..=34 => ("JUICIO", Some("JUICIO_ORAL")),
            35..=64 => ("INTERMEDIA", Some("PROCEDIMIENTO_ABREVIADO")),
            65..=84 => ("INV_COMPLEMENTARIA", None),
            _ => ("INV_INICIAL", None),
        };
        let sentenced = later(rng, on, 120, 600);
        if route.is_some() && sentenced < on + Duration::days(90) {
            (stage, route) = ("INV_COMPLEMENTARIA", None);
        }
        let sentenced = route.map(|_| sentenced);
        let (case, _) = self
            .write(
                w,
                FormKey::CriminalCase,
                json!({
                    "external_folio": case_folio,
                    "investigation_id": investigation,
                    "court": format!("Juzgado de Control y Tribunal de Enjuiciamiento, Distrito Judicial {}", 1 + n % 5),
                    "case_number": format!("{n}/{year}"),
                    "judicialized_date": iso(on),
                    "stage": stage,
                }),
                None,
            )
            .await?;
        // The timeline, oldest first.
        let mut timeline = vec![
            ("AUDIENCIA_INICIAL", later(rng, on, 1, 3)),
            ("VINCULACION", later(rng, on, 5, 5)),
        ];
        match (route, sentenced) {
            (Some("JUICIO_ORAL"), Some(s)) => {
                timeline.push(("ACUSACION", s - Duration::days(rng.random_range(40..60))));
                timeline.push((
                    "APERTURA_JUICIO",
                    s - Duration::days(rng.random_range(20..35)),
                ));
                timeline.push(("SENTENCIA", s));
            }
            (Some(_), Some(s)) => timeline.push(("SENTENCIA", s)),
            _ => {}
        }
        let mut last = on;
        for (k, (event_type, d)) in timeline.into_iter().enumerate() {
            let d = d.max(last).min(last_date());
            last = d;
            self.write(
                w,
                FormKey::ProceduralEvent,
                json!({
                    "external_folio": format!("{case_folio}-E{}", k + 1),
                    "event_type": event_type,
                    "date": iso(d),
                }),
                Some(case),
            )
            .await?;
        }
        for k in 1..=rng.random_range(1..=2) {
            let who = &names[*next_name % names.len()];
            *next_name += 1;
            let sex = match who.sex.as_deref() {
                Some("MUJER") => "MUJER",
                _ => "HOMBRE",
            };
            let defendant_folio = format!("{case_folio}-IMP{k}");
            let mut body = json!({
                "external_folio": defendant_folio,
                "criminal_case_id": case,
                "sex": sex,
                "age": rng.random_range(19..=62),
                "nationality": *weighted(rng, &[("MEX", 92), ("GTM", 3), ("HND", 2), ("COL", 2), ("VEN", 1)]),
                "precautionary_measures": [*weighted(rng, &[("PRISION_PREVENTIVA", 7), ("PRESENTACION_PERIODICA", 2), ("LOCALIZADOR", 1)])],
                "detained": rng.random_bool(0.7),
            });
            for (key, value) in [
                ("given_names", &who.given_names),
                ("first_surname", &who.first_surname),
                ("second_surname", &who.second_surname),
            ] {
                if let Some(value) = value {
                    body[key] = value.clone().into();
                }
            }
            let (defendant, _) = self.write(w, FormKey::Defendant, body, None).await?;
            let (Some(route), Some(on)) = (route, sentenced) else {
                continue;
            };
            let convicted = rng.random_bool(if route == "PROCEDIMIENTO_ABREVIADO" {
                1.0
            } else {
                0.7
            });
            let mut sentence = json!({
                "external_folio": format!("{defendant_folio}-SEN"),
                "defendant_id": defendant,
                "crime": "LGT_ART_13",
                "date": iso(on.min(last_date())),
                "sentence_type": if convicted { "CONDENATORIA" } else { "ABSOLUTORIA" },
                "route": route,
                "firmness": *weighted(rng, &[("FIRME", 6), ("IMPUGNADA", 4)]),
            });
            if convicted {
                sentence["prison_years"] = rng.random_range(5..=40).into();
                sentence["prison_months"] = rng.random_range(0..=11).into();
                sentence["fine"] = (rng.random_range(1..=50) * 1000).into();
                sentence["reparation_amount"] = (rng.random_range(5..=500) * 1000).into();
                sentence["reparation_paid"] = rng.random_bool(0.3).into();
            }
            self.write(w, FormKey::Sentence, sentence, None).await?;
        }
        Ok(())
    }
}

/// What state commissions agree on.
const AGREEMENT_TEXTS: &[&str] = &[
    "Elaborar el protocolo estatal de atención a víctimas de trata de personas.",
    "Actualizar el directorio de enlaces institucionales de la comisión.",
    "Presentar el programa estatal de capacitación para servidores públicos.",
    "Integrar el informe trimestral de víctimas atendidas para el SINTRA.",
    "Realizar una campaña de prevención en escuelas de educación media superior.",
    "Coordinar operativos de inspección laboral con la Secretaría del Trabajo.",
    "Instalar la mesa técnica de búsqueda de personas con la comisión local de búsqueda.",
    "Revisar el modelo de albergue y casa de medio camino con el DIF estatal.",
    "Capacitar al personal de la línea de emergencia en detección de posibles víctimas.",
    "Proponer la reforma a la ley estatal en materia de trata de personas.",
];
