-- Case- and accent-insensitive search over labels ("Nuevo Leon" finds
-- "Nuevo León") without the unaccent extension, which needs a superuser.
CREATE FUNCTION unaccent_lower(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT translate(lower(s), 'áéíóúüñàèìòùâêîôûäëïö', 'aeiouunaeiouaeiouaeio')
$$;
