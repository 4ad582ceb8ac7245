DROP FUNCTION unaccent_lower(text);
