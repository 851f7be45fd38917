-- lcdb schema, version 1.
-- Tables are prefixed lcdb_ and belong to lcdb; the views at the end are the
-- public query contract (stable names and meanings, documented in README).
-- Numbers are raw little-endian IEEE 754 blobs: float32 (4 bytes) or float64
-- (8 bytes), in the collection's flattening order (row-major, weight then bias).

PRAGMA application_id = 1279476802; -- 0x4C434442, "LCDB": marks the file as lcdb's
PRAGMA user_version = 1;            -- the schema version (the last migration applied)

CREATE TABLE lcdb_collection (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per layer, in collection order. Shapes and hyperparameters are JSON text.
CREATE TABLE lcdb_layer (
    collection_id   INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position >= 0),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    weight_shape    TEXT NOT NULL,
    bias_shape      TEXT,
    numel           INTEGER NOT NULL CHECK (numel > 0),
    param_offset    INTEGER NOT NULL CHECK (param_offset >= 0),
    PRIMARY KEY (collection_id, position),
    UNIQUE (collection_id, name)
);

-- A vector's values, one row per layer and chunk (a layer longer than a chunk
-- is split; concatenate chunks in order to get the layer's weight then bias).
CREATE TABLE lcdb_vector (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    collection_id INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE RESTRICT,
    dtype         TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE lcdb_vector_chunk (
    vector_id   INTEGER NOT NULL REFERENCES lcdb_vector(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,  -- layer position in the collection
    chunk       INTEGER NOT NULL,  -- 0, 1, ... within the layer
    start       INTEGER NOT NULL,  -- first element, counted from the layer's start
    count       INTEGER NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (vector_id, position, chunk)
);

-- A matrix over a collection. representation: how its parts are laid out
-- ('blockdiag': one dense numel x numel block per layer, part 'block'; the
-- other names are reserved for later representations).
CREATE TABLE lcdb_matrix (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    collection_id  INTEGER NOT NULL REFERENCES lcdb_collection(id) ON DELETE RESTRICT,
    representation TEXT NOT NULL CHECK (representation IN ('blockdiag', 'diag', 'kfac', 'dense', 'eye')),
    dtype          TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    symmetric      INTEGER NOT NULL CHECK (symmetric IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Row panels ("tiles") of each part: rows row_start .. row_start + row_count - 1
-- of the block of the layer at `position`, each row `numel` values, row-major.
CREATE TABLE lcdb_matrix_tile (
    matrix_id  INTEGER NOT NULL REFERENCES lcdb_matrix(id) ON DELETE CASCADE,
    part       TEXT NOT NULL DEFAULT 'block',
    position   INTEGER NOT NULL,
    row_start  INTEGER NOT NULL,
    row_count  INTEGER NOT NULL CHECK (row_count > 0),
    data       BLOB NOT NULL,
    PRIMARY KEY (matrix_id, part, position, row_start)
);

-- Public query contract.
CREATE VIEW collections AS
SELECT c.name AS name,
       (SELECT count(*) FROM lcdb_layer l WHERE l.collection_id = c.id) AS layer_count,
       (SELECT coalesce(sum(l.numel), 0) FROM lcdb_layer l WHERE l.collection_id = c.id) AS numel,
       c.created_at AS created_at
FROM lcdb_collection c;

CREATE VIEW layers AS
SELECT c.name AS collection, l.position AS position, l.name AS name, l.kind AS kind,
       l.numel AS numel, l.param_offset AS param_offset, l.weight_shape AS weight_shape,
       l.bias_shape AS bias_shape, l.hyperparameters AS hyperparameters
FROM lcdb_layer l JOIN lcdb_collection c ON c.id = l.collection_id;

CREATE VIEW vectors AS
SELECT v.name AS name, c.name AS collection, v.dtype AS dtype,
       (SELECT coalesce(sum(l.numel), 0) FROM lcdb_layer l WHERE l.collection_id = c.id) AS numel,
       v.created_at AS created_at
FROM lcdb_vector v JOIN lcdb_collection c ON c.id = v.collection_id;

CREATE VIEW vector_chunks AS
SELECT v.name AS vector, l.name AS layer, k.position AS position, k.chunk AS chunk,
       k.start AS start, k.count AS count, v.dtype AS dtype, k.data AS data
FROM lcdb_vector_chunk k
JOIN lcdb_vector v ON v.id = k.vector_id
JOIN lcdb_layer l ON l.collection_id = v.collection_id AND l.position = k.position;

CREATE VIEW matrices AS
SELECT m.name AS name, c.name AS collection, m.representation AS representation, m.dtype AS dtype,
       (SELECT coalesce(sum(length(t.data)), 0) FROM lcdb_matrix_tile t WHERE t.matrix_id = m.id) AS bytes,
       m.symmetric AS symmetric, m.created_at AS created_at
FROM lcdb_matrix m JOIN lcdb_collection c ON c.id = m.collection_id;

CREATE VIEW matrix_tiles AS
SELECT m.name AS matrix, l.name AS layer, t.part AS part, t.position AS position, l.numel AS side,
       t.row_start AS row_start, t.row_count AS row_count, m.dtype AS dtype, t.data AS data
FROM lcdb_matrix_tile t
JOIN lcdb_matrix m ON m.id = t.matrix_id
JOIN lcdb_layer l ON l.collection_id = m.collection_id AND l.position = t.position;
