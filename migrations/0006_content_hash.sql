-- Content hashes of the objects a statement read (issue "The shell for daily
-- work": provenance names its inputs *and their content*).
--
-- lcdb_content_hash: the SHA-256 of a stored vector's or matrix's content
-- (the stream `checksum` documents), computed once, the first time the object
-- is read by a statement that stores something, and kept while the object
-- lives: stored objects are never changed in place (a `let` over an existing
-- name writes a new row), so a hash found here is that object's. A trigger
-- forgets it with the object.
-- lcdb_provenance_input.input_sha256: the input's content hash when it was
-- read (a collection's is that of its definition), NULL in provenance
-- recorded before this version.

PRAGMA user_version = 6;

CREATE TABLE lcdb_content_hash (
    object_kind TEXT NOT NULL CHECK (object_kind IN ('vector', 'matrix')),
    object_id   INTEGER NOT NULL,
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (object_kind, object_id)
);

CREATE TRIGGER lcdb_vector_forget_hash AFTER DELETE ON lcdb_vector BEGIN
    DELETE FROM lcdb_content_hash WHERE object_kind = 'vector' AND object_id = OLD.id;
END;

CREATE TRIGGER lcdb_matrix_forget_hash AFTER DELETE ON lcdb_matrix BEGIN
    DELETE FROM lcdb_content_hash WHERE object_kind = 'matrix' AND object_id = OLD.id;
END;

ALTER TABLE lcdb_provenance_input ADD COLUMN input_sha256 TEXT;

-- Public query contract (README): provenance_inputs gains input_sha256.
DROP VIEW provenance_inputs;
CREATE VIEW provenance_inputs AS
SELECT coalesce(v.name, m.name) AS name, p.object_kind AS kind, i.input_name AS input, i.input_kind AS input_kind,
       CASE
           WHEN i.input_serial IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM lcdb_provenance q WHERE q.serial = i.input_serial)
           WHEN i.input_kind = 'collection' THEN NOT EXISTS (SELECT 1 FROM lcdb_collection c WHERE c.id = i.input_id AND c.created_at = i.input_created_at)
           WHEN i.input_kind = 'vector' THEN NOT EXISTS (SELECT 1 FROM lcdb_vector x WHERE x.id = i.input_id AND x.created_at = i.input_created_at)
           ELSE NOT EXISTS (SELECT 1 FROM lcdb_matrix x WHERE x.id = i.input_id AND x.created_at = i.input_created_at)
       END AS stale,
       i.input_sha256 AS input_sha256
FROM lcdb_provenance_input i
JOIN lcdb_provenance p ON p.serial = i.serial
LEFT JOIN lcdb_vector v ON p.object_kind = 'vector' AND v.id = p.object_id
LEFT JOIN lcdb_matrix m ON p.object_kind = 'matrix' AND m.id = p.object_id;
