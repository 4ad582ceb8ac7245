-- Label overrides (issue 16, "ajuste de etiquetas"): the national admin
-- adjusts a form field's label, help text (Spanish and English) and order
-- without a release. `label_overrides` holds what is in force, one row per
-- overridden field; `label_override_versions` is the history, one row per
-- change (a set or a return to the built-in texts), insert-only. A field's
-- version is its number of changes: the `If-Match` of the next one. Field
-- keys never change: an override only changes what people read.
CREATE TABLE label_overrides (
    form       text NOT NULL,
    field      text NOT NULL,
    label_es   text,
    label_en   text,
    help_es    text,
    help_en    text,
    position   integer CHECK (position >= 1),
    version    integer NOT NULL CHECK (version >= 1),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid NOT NULL REFERENCES users(id),
    PRIMARY KEY (form, field)
);

CREATE TABLE label_override_versions (
    id          bigserial PRIMARY KEY,
    form        text NOT NULL,
    field       text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    -- 'set' (the override below is in force) or 'reset' (back to the
    -- built-in texts and order: the columns below are null).
    action      text NOT NULL CHECK (action IN ('set', 'reset')),
    label_es    text,
    label_en    text,
    help_es     text,
    help_en     text,
    position    integer,
    -- What was in force before: {label_es, label_en, help_es, help_en,
    -- position}, or null when it was the built-in.
    previous    jsonb,
    changed_by  uuid NOT NULL REFERENCES users(id),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    -- Two changes made from the same version: the second loses (412).
    CONSTRAINT label_override_versions_once UNIQUE (form, field, version)
);

-- The history is what the audit trail of labels rests on: the application
-- adds to it, never rewrites it.
REVOKE UPDATE, DELETE, TRUNCATE ON label_override_versions FROM sintra_app;
