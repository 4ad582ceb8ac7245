//! The `Authenticated` extractor: the actor the guard middleware resolved
//! from the bearer token.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};
use sintra_domain::access::{Actor, Permission};
use sintra_persistence::audit::AuditContext;

use crate::error::ApiError;
use crate::middleware::RequestMeta;

/// The caller, with what the audit log needs to know about the request.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub meta: RequestMeta,
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
        AuditContext::for_actor(
            &self.actor,
            Some(self.meta.request_id.clone()),
            self.meta.ip.clone(),
        )
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ext = req.extensions();
        ready(match (ext.get::<Actor>(), ext.get::<RequestMeta>()) {
            (Some(actor), Some(meta)) => Ok(Authenticated {
                actor: actor.clone(),
                meta: meta.clone(),
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
                .ok_or(ApiError::Internal),
        )
    }
}
