//! How the domain's stored types map to their `text` columns, with the
//! `diesel` feature (which persistence turns on; the domain itself does no
//! I/O). Read checked: a stored value outside the type's vocabulary is a
//! deserialization error, never a value; written as its `as_str` text,
//! the same the API shows. Each type's two impls call the two generic
//! steps below (diesel's traits admit no blanket impl from here).

use std::str::FromStr;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::access::{AccountKind, EntityCode, Role};
use crate::duplicates::{MatchLevel, PairStatus};
use crate::import_jobs::ImportState;
use crate::periods::{PeriodAction, PeriodStatus};

/// Reads a `text` value as a `T`, refusing what `T` does not spell.
fn read<T: FromStr>(value: PgValue<'_>, what: &str) -> deserialize::Result<T> {
    let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
    text.parse::<T>()
        .map_err(|_| format!("not a stored {what}: {text:?}").into())
}

/// Writes a value as its text.
fn write<'b>(text: &'static str, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
    <str as ToSql<Text, Pg>>::to_sql(text, out)
}

impl FromSql<Text, Pg> for EntityCode {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<EntityCode> {
        read(value, "EntityCode")
    }
}

impl ToSql<Text, Pg> for EntityCode {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for Role {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Role> {
        read(value, "Role")
    }
}

impl ToSql<Text, Pg> for Role {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for AccountKind {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<AccountKind> {
        read(value, "AccountKind")
    }
}

impl ToSql<Text, Pg> for AccountKind {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for MatchLevel {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<MatchLevel> {
        read(value, "MatchLevel")
    }
}

impl ToSql<Text, Pg> for MatchLevel {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for PairStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<PairStatus> {
        read(value, "PairStatus")
    }
}

impl ToSql<Text, Pg> for PairStatus {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for ImportState {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<ImportState> {
        read(value, "ImportState")
    }
}

impl ToSql<Text, Pg> for ImportState {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for PeriodStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<PeriodStatus> {
        read(value, "PeriodStatus")
    }
}

impl ToSql<Text, Pg> for PeriodStatus {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for PeriodAction {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<PeriodAction> {
        read(value, "PeriodAction")
    }
}

impl ToSql<Text, Pg> for PeriodAction {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        write(self.as_str(), out)
    }
}
