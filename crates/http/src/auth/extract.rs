//! The `Authenticated` extractor: the caller the guard middleware resolved
//! from the bearer token, carried as the one [`Caller`] value the services
//! take.

use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use sintra_domain::access::{Actor, Caller, Permission};
use sintra_persistence::audit::AuditContext;

use crate::error::ApiError;
use crate::middleware::RequestMeta;

/// The caller of a request: a [`Caller`], extracted by actix.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
}

impl Deref for Authenticated {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl Authenticated {
    /// Refuses with 403 unless the actor's role has the permission.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.actor.can(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    pub fn audit_context(&self) -> AuditContext {
        AuditContext::for_caller(&self.caller)
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ext = req.extensions();
        ready(match (ext.get::<Actor>(), ext.get::<RequestMeta>()) {
            (Some(actor), Some(meta)) => Ok(Authenticated {
                caller: Caller {
                    actor: actor.clone(),
                    request_id: meta.request_id.clone(),
                    ip: meta.ip.clone(),
                    lang: meta.lang,
                },
            }),
            _ => Err(ApiError::Unauthenticated),
        })
    }
}

/// Request id and peer address, for audit rows of unauthenticated requests
/// (the token endpoint).
impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<RequestMeta>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::internal("request metadata missing: middleware not installed")
                }),
        )
    }
}
