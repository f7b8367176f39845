-- liverec metadata on PostgreSQL, version 3: a configuration change of one row is one
-- statement (one round trip): the version is bumped in a data-modifying CTE of the
-- change itself, through this function, which fails the whole statement when the
-- stored version is not the one the change was made on.

CREATE FUNCTION liverec_next_version(stored BIGINT, based_on BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF stored <> based_on THEN
        RAISE EXCEPTION 'the configuration changed under this change'
            USING ERRCODE = 'LR409';
    END IF;
    RETURN stored + 1;
END
$$;
