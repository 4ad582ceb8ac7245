-- Organization, identity and tokens.
--
-- The API connects through the role `sintra_app` (see the pool's set-up):
-- it may read and write the application's tables but, from the audit
-- migration on, never rewrite the audit log. Roles are cluster-wide, so two
-- databases migrating at once may race to create it: the duplicate is ignored.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sintra_app') THEN
        CREATE ROLE sintra_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO sintra_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sintra_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sintra_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO sintra_app;

-- The 32 entidades federativas (INEGI keys) and '00' for the federal level.
CREATE TABLE entities (
    code         text PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
    name         text NOT NULL,
    abbreviation text NOT NULL,
    curp_key     text NOT NULL,
    population   bigint NOT NULL
);

CREATE TABLE institutions (
    id               uuid PRIMARY KEY,
    entity_code      text NOT NULL REFERENCES entities(code),
    name             text NOT NULL CHECK (length(name) BETWEEN 2 AND 300),
    institution_type text NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       uuid,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       uuid
);
CREATE UNIQUE INDEX institutions_entity_name ON institutions (entity_code, lower(name));

-- People and service accounts (state systems) alike: a service account is a
-- user of kind 'service' and role 'system' whose client secret is its password.
CREATE TABLE users (
    id                uuid PRIMARY KEY,
    institution_id    uuid NOT NULL REFERENCES institutions(id),
    kind              text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'service')),
    username          text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    full_name         text NOT NULL,
    email             text,
    role              text NOT NULL CHECK (role IN ('national_admin', 'entity_admin', 'operator', 'analyst', 'auditor', 'system')),
    password_hash     text NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        uuid,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        uuid,
    CHECK ((kind = 'service') = (role = 'system'))
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE INDEX users_institution ON users (institution_id);

-- Every access token ever issued, so a request can check its jti: logout and
-- deactivation revoke here, and a token unknown to this table is refused.
CREATE TABLE access_tokens (
    jti        uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX access_tokens_user ON access_tokens (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are single use and rotate; only their SHA-256 is stored.
-- A family is the chain of rotations from one login: reuse of a spent token
-- revokes the whole family (it was stolen, or replayed).
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    family_id   uuid NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- Failed logins by (lower-case) username, known or not, so an unknown user
-- is throttled exactly like a known one and the answer reveals nothing.
CREATE TABLE login_throttle (
    username         text PRIMARY KEY,
    failures         integer NOT NULL DEFAULT 0,
    last_failure_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz
);
