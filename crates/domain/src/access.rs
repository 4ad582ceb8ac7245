//! Who may do what, and see which records (DESIGN.md §3).
//!
//! This is the one place that decides. Handlers ask [`authorize`] before they
//! act and hand the actor's [`Scope`] to every persistence query, which
//! filters inside SQL: a record outside the scope is indistinguishable from
//! one that does not exist. Deny by default: a permission not granted in
//! [`Role::allows`] is refused.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

pub use crate::entity::EntityCode;

/// The federal level's entity code.
pub const FEDERAL_ENTITY: EntityCode = EntityCode::FEDERAL;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Secretaría Técnica of the Comisión Intersecretarial: sees and changes everything.
    NationalAdmin,
    /// A state commission's technical secretariat: its entity's records and users.
    EntityAdmin,
    /// Records of its own institution.
    Operator,
    /// Aggregates of its scope only; never personal data.
    Analyst,
    /// The audit log only.
    Auditor,
    /// A state system's service account: records of its institution, by API.
    System,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::NationalAdmin,
        Role::EntityAdmin,
        Role::Operator,
        Role::Analyst,
        Role::Auditor,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::NationalAdmin => "national_admin",
            Role::EntityAdmin => "entity_admin",
            Role::Operator => "operator",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }

    /// The permission table of DESIGN.md §3. Anything not listed is refused.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ReadCatalogs | ReadForms | ReadOwnAccount => true,
            ManageCatalogs | ManageCuts | ReadAllEntities => self == NationalAdmin,
            // Labels are the country's forms: one wording for every entity.
            ManageLabels => self == NationalAdmin,
            ManageInstitutions | ManageUsers => matches!(self, NationalAdmin | EntityAdmin),
            ManageServiceAccounts => matches!(self, NationalAdmin | EntityAdmin),
            ReadInstitutions => self != System,
            ReadUsers => matches!(self, NationalAdmin | EntityAdmin | Auditor),
            ReadAudit => matches!(self, NationalAdmin | Auditor),
            ReadRecords | ReadPersonalData | ImportExcel | ExportExcel => {
                matches!(self, NationalAdmin | EntityAdmin | Operator | System)
            }
            WriteRecords => matches!(self, NationalAdmin | EntityAdmin | Operator | System),
            ReadAggregates => matches!(self, NationalAdmin | EntityAdmin | Operator | Analyst),
            // Cuts freeze figures per entity: an institution's scope has none.
            ReadCuts => matches!(self, NationalAdmin | EntityAdmin | Analyst),
            // Whoever sends or reads data of an entity may see whether its
            // quarters are open; auditors have the audit log.
            ReadPeriods => matches!(
                self,
                NationalAdmin | EntityAdmin | Operator | Analyst | System
            ),
            // Which step each of the two may take: `periods::PeriodAction::allowed`.
            ManagePeriods => matches!(self, NationalAdmin | EntityAdmin),
        }
    }

    /// Roles an actor may give to a user it manages. Nobody grants a role
    /// above what their own position allows, so nobody can raise their own.
    pub fn may_grant(self, role: Role) -> bool {
        match self {
            Role::NationalAdmin => true,
            Role::EntityAdmin => matches!(role, Role::EntityAdmin | Role::Operator | Role::Analyst),
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

/// Who an account is for: a person, who logs in with a password, or a state
/// system (a service account), which logs in with client credentials. A
/// login of one kind never opens an account of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Person,
    Service,
}

impl AccountKind {
    pub const ALL: [AccountKind; 2] = [AccountKind::Person, AccountKind::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Person => "person",
            AccountKind::Service => "service",
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountKind {
    type Err = UnknownAccountKind;

    fn from_str(s: &str) -> Result<AccountKind, UnknownAccountKind> {
        AccountKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(UnknownAccountKind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown account kind")]
pub struct UnknownAccountKind;

/// Everything an actor can ask to do. Routes name one; the policy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ReadCatalogs,
    ManageCatalogs,
    /// Read and change the label overrides of form fields (their history
    /// names who changed them).
    ManageLabels,
    ReadForms,
    ReadOwnAccount,
    ReadAllEntities,
    ReadInstitutions,
    ManageInstitutions,
    ReadUsers,
    ManageUsers,
    ManageServiceAccounts,
    ReadAudit,
    ReadRecords,
    ReadPersonalData,
    WriteRecords,
    ImportExcel,
    ExportExcel,
    ReadAggregates,
    ManageCuts,
    /// A quarterly cut's frozen figures: the country's for the national
    /// admin, the entity's for its admin and analysts (withheld small
    /// counts for analysts).
    ReadCuts,
    /// The quarters of the actor's entity (all of them, nationally).
    ReadPeriods,
    /// Submit (entity admin), close or reopen (national admin) a quarter.
    ManagePeriods,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    pub institution_id: Uuid,
    /// The entity of the actor's institution.
    pub entity_code: EntityCode,
    /// The access token's id, so logout can revoke it.
    pub token_id: Uuid,
}

/// Which records an actor may see: applied inside every persistence query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every record of the country.
    National,
    /// Every record of one entity.
    Entity(EntityCode),
    /// Every record of one institution.
    Institution(Uuid),
}

impl Actor {
    /// The records this actor may read or change: by role, as DESIGN.md §3.
    /// Auditors and analysts get their institution's entity for aggregates;
    /// what they may *read* record by record is refused by [`Permission`].
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::NationalAdmin => Scope::National,
            Role::EntityAdmin | Role::Analyst => Scope::Entity(self.entity_code),
            Role::Auditor if self.entity_code == FEDERAL_ENTITY => Scope::National,
            Role::Auditor => Scope::Entity(self.entity_code),
            Role::Operator | Role::System => Scope::Institution(self.institution_id),
        }
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    /// Where this actor may point a record's links besides its parent.
    /// Institution-scoped callers (operators, state systems) reach their
    /// whole entity here, so a fiscalía can link a victim another
    /// institution of its state attends: by id only (folios are per
    /// institution), and the link shows nothing but the id.
    pub fn link_scope(&self) -> Scope {
        match self.scope() {
            Scope::Institution(_) => Scope::Entity(self.entity_code),
            other => other,
        }
    }

    /// Whether this actor may record information belonging to an entity:
    /// the national level anywhere, everyone else only in their own entity.
    pub fn may_record_in(&self, entity_code: EntityCode) -> bool {
        match self.scope() {
            Scope::National => true,
            Scope::Entity(e) => e == entity_code,
            Scope::Institution(_) => self.entity_code == entity_code,
        }
    }

    /// Whether this actor may register federal records (the Comisión
    /// Intersecretarial): the national level and federal institutions.
    pub fn may_record_federal(&self) -> bool {
        self.scope() == Scope::National || self.entity_code == FEDERAL_ENTITY
    }
}

/// The caller of a use case, as one value from the handler down: the actor
/// and what the audit log and human-facing messages need of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub request_id: String,
    pub ip: Option<String>,
    pub lang: crate::i18n::Lang,
}

impl Scope {
    /// Whether a record of this entity and institution lies in the scope.
    pub fn contains(&self, entity_code: EntityCode, institution_id: Uuid) -> bool {
        match self {
            Scope::National => true,
            Scope::Entity(e) => *e == entity_code,
            Scope::Institution(i) => *i == institution_id,
        }
    }

    /// Whether the scope covers a whole entity (used for institution and
    /// user administration, which works per entity).
    pub fn covers_entity(&self, entity_code: EntityCode) -> bool {
        match self {
            Scope::National => true,
            Scope::Entity(e) => *e == entity_code,
            Scope::Institution(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> EntityCode {
        EntityCode::parse(text).unwrap()
    }

    fn actor(role: Role, entity: &str) -> Actor {
        Actor {
            user_id: Uuid::nil(),
            username: "x".into(),
            role,
            institution_id: Uuid::from_u128(7),
            entity_code: code(entity),
            token_id: Uuid::nil(),
        }
    }

    #[test]
    fn scope_follows_the_role() {
        assert_eq!(actor(Role::NationalAdmin, "00").scope(), Scope::National);
        assert_eq!(
            actor(Role::EntityAdmin, "19").scope(),
            Scope::Entity(code("19"))
        );
        assert_eq!(
            actor(Role::Operator, "19").scope(),
            Scope::Institution(Uuid::from_u128(7))
        );
        assert_eq!(
            actor(Role::System, "19").scope(),
            Scope::Institution(Uuid::from_u128(7))
        );
    }

    #[test]
    fn analysts_and_auditors_never_read_personal_data_or_write() {
        for role in [Role::Analyst, Role::Auditor] {
            assert!(!role.allows(Permission::ReadPersonalData));
            assert!(!role.allows(Permission::ReadRecords));
            assert!(!role.allows(Permission::WriteRecords));
            assert!(!role.allows(Permission::ExportExcel));
        }
        assert!(Role::Auditor.allows(Permission::ReadAudit));
        assert!(!Role::Analyst.allows(Permission::ReadAudit));
    }

    #[test]
    fn entity_admins_cannot_grant_national_roles() {
        assert!(!Role::EntityAdmin.may_grant(Role::NationalAdmin));
        assert!(!Role::EntityAdmin.may_grant(Role::Auditor));
        assert!(!Role::EntityAdmin.may_grant(Role::System));
        assert!(Role::EntityAdmin.may_grant(Role::Operator));
        for role in [Role::Operator, Role::Analyst, Role::Auditor, Role::System] {
            assert!(Role::ALL.iter().all(|r| !role.may_grant(*r)));
        }
    }

    #[test]
    fn recording_stays_in_the_callers_entity() {
        assert!(actor(Role::NationalAdmin, "00").may_record_in(code("19")));
        assert!(actor(Role::EntityAdmin, "19").may_record_in(code("19")));
        assert!(!actor(Role::EntityAdmin, "19").may_record_in(code("20")));
        assert!(actor(Role::Operator, "19").may_record_in(code("19")));
        assert!(!actor(Role::Operator, "19").may_record_in(code("00")));
        assert!(actor(Role::Operator, "00").may_record_federal());
        assert!(!actor(Role::EntityAdmin, "19").may_record_federal());
        assert_eq!(
            actor(Role::Operator, "19").link_scope(),
            Scope::Entity(code("19"))
        );
        assert_eq!(
            actor(Role::NationalAdmin, "00").link_scope(),
            Scope::National
        );
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn account_kinds_round_trip_through_their_stored_names() {
        for kind in AccountKind::ALL {
            assert_eq!(kind.as_str().parse::<AccountKind>(), Ok(kind));
            // The name serde writes (audit details) is the stored one.
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::String(kind.as_str().into()))
            );
        }
        assert!("robot".parse::<AccountKind>().is_err());
    }
}
