-- The quasi-diagonal form (Ollivier's; NNGeometry's PMatQuasiDiag): a block
-- of form 'quasidiag' has part 'diag' (side values, weight then bias) and
-- part 'cross' (B x r: the entries coupling output i's bias with its r
-- weights, for a layer whose bias has B entries and whose weight has a row of
-- r per bias entry; (B,) when the weight and bias have one shape, the norms).
-- A matrix whose blocks are all quasidiag has representation 'quasidiag'.
--
-- The CHECKs change by rebuilding the three matrix tables as 0007 did; the
-- views that read them are dropped first and recreated unchanged, and the
-- triggers on lcdb_matrix (dropped with it) are made again.

PRAGMA user_version = 8;

DROP VIEW matrices;
DROP VIEW matrix_tiles;
DROP VIEW matrix_blocks;
DROP VIEW matrix_parts;
DROP VIEW provenance;
DROP VIEW provenance_inputs;
DROP VIEW metadata;

CREATE TABLE lcdb_matrix_new (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    collection_id  INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE RESTRICT,
    representation TEXT NOT NULL CHECK (representation IN ('blockdiag', 'diag', 'kfac', 'ekfac', 'identity', 'eigen', 'quasidiag', 'mixed', 'lowrank', 'full')),
    dtype          TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    symmetric      INTEGER NOT NULL CHECK (symmetric IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    layout         TEXT NOT NULL DEFAULT 'full' CHECK (layout IN ('full', 'upper'))
);
INSERT INTO lcdb_matrix_new (id, name, collection_id, representation, dtype, symmetric, created_at, layout)
SELECT id, name, collection_id, representation, dtype, symmetric, created_at, layout FROM lcdb_matrix;
DROP TABLE lcdb_matrix;
ALTER TABLE lcdb_matrix_new RENAME TO lcdb_matrix;

CREATE TABLE lcdb_matrix_block_new (
    matrix_id INTEGER NOT NULL REFERENCES lcdb_matrix(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL CHECK (position >= 0),
    form      TEXT NOT NULL CHECK (form IN ('dense', 'diag', 'kfac', 'ekfac', 'identity', 'eigen', 'quasidiag', 'lowrank', 'rows')),
    PRIMARY KEY (matrix_id, position)
);
INSERT INTO lcdb_matrix_block_new (matrix_id, position, form) SELECT matrix_id, position, form FROM lcdb_matrix_block;
DROP TABLE lcdb_matrix_block;
ALTER TABLE lcdb_matrix_block_new RENAME TO lcdb_matrix_block;

CREATE TABLE lcdb_matrix_part_new (
    matrix_id INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    part      TEXT NOT NULL CHECK (part IN ('block', 'diag', 'A', 'G', 'U_A', 'U_G', 'D', 'scale', 'U', 'lambda', 'J', 'core', 'shift', 'rows', 'cross')),
    shape     TEXT NOT NULL,
    rows      INTEGER NOT NULL CHECK (rows > 0),
    columns   INTEGER NOT NULL CHECK (columns > 0),
    layout    TEXT NOT NULL CHECK (layout IN ('full', 'upper')),
    PRIMARY KEY (matrix_id, position, part),
    FOREIGN KEY (matrix_id, position) REFERENCES lcdb_matrix_block(matrix_id, position) ON DELETE CASCADE
);
INSERT INTO lcdb_matrix_part_new (matrix_id, position, part, shape, rows, columns, layout)
SELECT matrix_id, position, part, shape, rows, columns, layout FROM lcdb_matrix_part;
DROP TABLE lcdb_matrix_part;
ALTER TABLE lcdb_matrix_part_new RENAME TO lcdb_matrix_part;

CREATE VIEW matrices AS
SELECT m.name AS name, c.name AS collection, m.representation AS representation, m.dtype AS dtype,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t WHERE t.matrix_id = m.id) AS bytes,
       m.symmetric AS symmetric, m.created_at AS created_at, m.layout AS layout
FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id;

CREATE VIEW matrix_tiles AS
SELECT m.name AS matrix, l.name AS layer, t.part AS part, t.position AS position, l.numel AS side,
       t.row_start AS row_start, t.row_count AS row_count, m.dtype AS dtype, t.data AS data,
       p.layout AS layout, t.col_start AS col_start, p.columns - t.col_start AS col_count,
       p.rows AS part_rows, p.columns AS part_columns
FROM lcdb_matrix_tile t
JOIN lcdb_matrix m ON m.id = t.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = t.position
JOIN lcdb_matrix_part p ON p.matrix_id = t.matrix_id AND p.position = t.position AND p.part = t.part;

CREATE VIEW matrix_blocks AS
SELECT m.name AS matrix, l.name AS layer, b.position AS position, l.kind AS kind, l.numel AS side, b.form AS form,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t
        WHERE t.matrix_id = b.matrix_id AND t.position = b.position) AS bytes
FROM lcdb_matrix_block b
JOIN lcdb_matrix m ON m.id = b.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = b.position;

CREATE VIEW matrix_parts AS
SELECT m.name AS matrix, l.name AS layer, p.position AS position, b.form AS form, p.part AS part,
       p.shape AS shape, p.rows AS rows, p.columns AS columns, m.dtype AS dtype, p.layout AS layout
FROM lcdb_matrix_part p
JOIN lcdb_matrix_block b ON b.matrix_id = p.matrix_id AND b.position = p.position
JOIN lcdb_matrix m ON m.id = p.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = p.position;

CREATE TRIGGER lcdb_matrix_forget AFTER DELETE ON lcdb_matrix BEGIN
    DELETE FROM lcdb_provenance WHERE object_kind = 'matrix' AND object_id = OLD.id;
    DELETE FROM lcdb_metadata WHERE object_kind = 'matrix' AND object_id = OLD.id;
END;

CREATE TRIGGER lcdb_matrix_forget_hash AFTER DELETE ON lcdb_matrix BEGIN
    DELETE FROM lcdb_content_hash WHERE object_kind = 'matrix' AND object_id = OLD.id;
END;

-- Public query contract (README), unchanged.
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
       END AS stale,
       i.input_sha256 AS input_sha256
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
