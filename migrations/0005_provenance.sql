-- Provenance and metadata (issue "The shell for daily work").
--
-- lcdb_provenance: how each stored vector and matrix was made: the statement
-- as typed, the lcdb version and the time. `serial` never repeats (SQLite
-- reuses a deleted row's id; AUTOINCREMENT does not), so an input is known to
-- be the very object that was read.
-- lcdb_provenance_input: the stored objects that statement read, by kind and
-- name, with what identified them then (their provenance serial when they had
-- one, else their id and creation time). The view provenance_inputs marks an
-- input stale when that object is gone: dropped or replaced since.
-- lcdb_metadata: the user's own key = value pairs on any object.
-- Triggers delete an object's provenance and metadata with it (drop, replace).

PRAGMA user_version = 5;

CREATE TABLE lcdb_provenance (
    serial       INTEGER PRIMARY KEY AUTOINCREMENT,
    object_kind  TEXT NOT NULL CHECK (object_kind IN ('vector', 'matrix')),
    object_id    INTEGER NOT NULL,
    statement    TEXT NOT NULL,
    lcdb_version TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (object_kind, object_id)
);

CREATE TABLE lcdb_provenance_input (
    serial           INTEGER NOT NULL REFERENCES lcdb_provenance(serial) ON DELETE CASCADE,
    input_kind       TEXT NOT NULL CHECK (input_kind IN ('collection', 'vector', 'matrix')),
    input_name       TEXT NOT NULL,
    input_serial     INTEGER,
    input_id         INTEGER NOT NULL,
    input_created_at TEXT NOT NULL,
    PRIMARY KEY (serial, input_kind, input_name)
);

CREATE TABLE lcdb_metadata (
    object_kind TEXT NOT NULL CHECK (object_kind IN ('collection', 'vector', 'matrix')),
    object_id   INTEGER NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (object_kind, object_id, key)
);

CREATE TRIGGER lcdb_vector_forget AFTER DELETE ON lcdb_vector BEGIN
    DELETE FROM lcdb_provenance WHERE object_kind = 'vector' AND object_id = OLD.id;
    DELETE FROM lcdb_metadata WHERE object_kind = 'vector' AND object_id = OLD.id;
END;

CREATE TRIGGER lcdb_matrix_forget AFTER DELETE ON lcdb_matrix BEGIN
    DELETE FROM lcdb_provenance WHERE object_kind = 'matrix' AND object_id = OLD.id;
    DELETE FROM lcdb_metadata WHERE object_kind = 'matrix' AND object_id = OLD.id;
END;

CREATE TRIGGER lcdb_collection_forget AFTER DELETE ON lcdb_collection BEGIN
    DELETE FROM lcdb_metadata WHERE object_kind = 'collection' AND object_id = OLD.id;
END;

-- Public query contract (README).
CREATE VIEW provenance AS
SELECT coalesce(v.name, m.name) AS name, p.object_kind AS kind, p.statement AS statement,
       p.lcdb_version AS lcdb_version, p.created_at AS created_at
FROM lcdb_provenance p
LEFT JOIN lcdb_vector v ON p.object_kind = 'vector' AND v.id = p.object_id
LEFT JOIN lcdb_matrix m ON p.object_kind = 'matrix' AND m.id = p.object_id;

CREATE VIEW provenance_inputs AS
SELECT coalesce(v.name, m.name) AS name, p.object_kind AS kind, i.input_name AS input, i.input_kind AS input_kind,
       CASE
           WHEN i.input_serial IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM lcdb_provenance q WHERE q.serial = i.input_serial)
           WHEN i.input_kind = 'collection' THEN NOT EXISTS (SELECT 1 FROM lcdb_collection c WHERE c.id = i.input_id AND c.created_at = i.input_created_at)
           WHEN i.input_kind = 'vector' THEN NOT EXISTS (SELECT 1 FROM lcdb_vector x WHERE x.id = i.input_id AND x.created_at = i.input_created_at)
           ELSE NOT EXISTS (SELECT 1 FROM lcdb_matrix x WHERE x.id = i.input_id AND x.created_at = i.input_created_at)
       END AS stale
FROM lcdb_provenance_input i
JOIN lcdb_provenance p ON p.serial = i.serial
LEFT JOIN lcdb_vector v ON p.object_kind = 'vector' AND v.id = p.object_id
LEFT JOIN lcdb_matrix m ON p.object_kind = 'matrix' AND m.id = p.object_id;

CREATE VIEW metadata AS
SELECT coalesce(c.name, v.name, m.name) AS name, d.object_kind AS kind, d.key AS key, d.value AS value
FROM lcdb_metadata d
LEFT JOIN lcdb_collection c ON d.object_kind = 'collection' AND c.id = d.object_id
LEFT JOIN lcdb_vector v ON d.object_kind = 'vector' AND v.id = d.object_id
LEFT JOIN lcdb_matrix m ON d.object_kind = 'matrix' AND m.id = d.object_id;
