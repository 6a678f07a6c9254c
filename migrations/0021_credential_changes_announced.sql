-- Gateways keep the API keys they have checked for a short while. Whatever can take a key's
-- access away (a key revoked, changed or deleted; a merchant disabled or deleted) is announced
-- on commit, so that each gateway forgets what it kept at once. These are rare operator writes,
-- so the notification lock they take costs nothing on the hot paths.
CREATE FUNCTION notify_credentials_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('custody_credentials', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();

CREATE TRIGGER merchants_disabled AFTER UPDATE OF disabled ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();

CREATE TRIGGER merchants_deleted AFTER DELETE OR TRUNCATE ON merchants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_credentials_changed();
