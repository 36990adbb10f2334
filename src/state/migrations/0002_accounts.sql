-- Accounts of the portal and the SQL endpoint: one login per person, acting for one unit in
-- one role. Passwords are never stored: `password_hash` is an argon2id PHC string (the portal
-- checks it), and the SCRAM-SHA-256 verifier (salt, iterations, StoredKey, ServerKey, as
-- PostgreSQL keeps them) lets the SQL endpoint authenticate without holding anything a client
-- could log in with.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    unit                TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('clerk', 'analyst', 'office', 'admin')),
    password_hash       TEXT NOT NULL,
    scram_salt          BLOB NOT NULL,
    scram_iterations    INTEGER NOT NULL,
    scram_stored_key    BLOB NOT NULL,
    scram_server_key    BLOB NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
