//! The `users` table: add, change password, disable, list, and check a password.
//!
//! Checking is built so that an attacker learns nothing from the answer: an unknown name, a
//! wrong password and a disabled account all give `None`, and an unknown name still runs one
//! argon2 verification (against a fixed hash), so the three take the same time.

use super::Role;
use crate::state::Db;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use hmac::{Hmac, Mac};
use rusqlite::{OptionalExtension, params};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// SCRAM iteration count for new verifiers (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An account as every face shows it: no secret in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub unit: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub password_changed_at: String,
}

/// What the SQL endpoint needs to run SCRAM-SHA-256 (RFC 5802 / 7677) as the server.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// SASLprep (RFC 4013) as PostgreSQL applies it: a password that does not prepare is used as
/// its raw bytes.
fn prepared(password: &str) -> std::borrow::Cow<'_, str> {
    stringprep::saslprep(password).unwrap_or(std::borrow::Cow::Borrowed(password))
}

impl ScramVerifier {
    /// The verifier of `password` with this salt and iteration count.
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> ScramVerifier {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(prepared(password).as_bytes(), salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        ScramVerifier {
            salt: salt.to_vec(),
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Whether a client's proof for `auth_message` (client-first-bare "," server-first ","
    /// client-final-without-proof) comes from someone holding the password. Constant time in
    /// the proof's bytes.
    pub fn verify_proof(&self, auth_message: &[u8], client_proof: &[u8]) -> bool {
        if client_proof.len() != 32 {
            return false;
        }
        let signature = hmac(&self.stored_key, auth_message);
        let mut client_key = [0u8; 32];
        for i in 0..32 {
            client_key[i] = client_proof[i] ^ signature[i];
        }
        let candidate: [u8; 32] = Sha256::digest(client_key).into();
        candidate
            .iter()
            .zip(self.stored_key.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The server's signature the client checks in server-final-message.
    pub fn server_signature(&self, auth_message: &[u8]) -> [u8; 32] {
        hmac(&self.server_key, auth_message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("accounts in {path}")]
    Sqlite {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("an account named `{0}` exists already")]
    NameTaken(String),
    #[error("no account named `{0}`")]
    NoSuchAccount(String),
    #[error(
        "account name `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter"
    )]
    BadName(String),
    #[error("password refused: {0}")]
    WeakPassword(&'static str),
    #[error("hashing the password")]
    Hash(#[source] argon2::password_hash::Error),
    #[error("the system's random number source failed")]
    Random(#[source] getrandom::Error),
    #[error("account `{name}` holds an unreadable role `{role}`")]
    BadRole { name: String, role: String },
}

/// The accounts of one `sanhu.db`.
pub struct Accounts<'a> {
    db: &'a Db,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_password(name: &str, password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword("use at least 10 characters"));
    }
    if password.eq_ignore_ascii_case(name) {
        return Err(AccountError::WeakPassword(
            "the password is the account name",
        ));
    }
    if password.chars().any(|c| c.is_control()) {
        return Err(AccountError::WeakPassword(
            "control characters (line breaks, tabs) are not allowed",
        ));
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The secrets stored for a password: argon2id PHC string and SCRAM verifier.
fn secrets(password: &str) -> Result<(String, ScramVerifier), AccountError> {
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(AccountError::Hash)?
        .to_string();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AccountError::Random)?;
    Ok((hash, ScramVerifier::new(password, &salt, SCRAM_ITERATIONS)))
}

/// A hash checked when the name is unknown, so that answer takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password_with_salt(b"sanhu decoy password", b"sanhu-decoy-salt")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn argon2_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

const ACCOUNT_COLUMNS: &str = "id, name, unit, role, disabled, created_at, password_changed_at";

impl<'a> Accounts<'a> {
    pub fn new(db: &'a Db) -> Accounts<'a> {
        Accounts { db }
    }

    fn sqlite(&self, source: rusqlite::Error) -> AccountError {
        AccountError::Sqlite {
            path: self.db.path().to_path_buf(),
            source,
        }
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, String)> {
        let role: String = r.get(3)?;
        Ok((
            Account {
                id: r.get(0)?,
                name: r.get(1)?,
                unit: r.get(2)?,
                role: role.parse().unwrap_or(Role::Clerk),
                disabled: r.get::<_, i64>(4)? != 0,
                created_at: r.get(5)?,
                password_changed_at: r.get(6)?,
            },
            role,
        ))
    }

    fn checked((a, role): (Account, String)) -> Result<Account, AccountError> {
        // A role the CHECK constraint let in but this binary cannot read (edited by hand):
        // refuse rather than read it as the weakest role silently.
        if role.parse::<Role>().is_err() {
            return Err(AccountError::BadRole { name: a.name, role });
        }
        Ok(a)
    }

    /// Add an account. `unit` is checked against the project's units by the caller.
    pub fn add(
        &self,
        name: &str,
        unit: &str,
        role: Role,
        password: &SecretString,
    ) -> Result<Account, AccountError> {
        if !valid_name(name) {
            return Err(AccountError::BadName(name.to_string()));
        }
        check_password(name, password.expose_secret())?;
        let (hash, scram) = secrets(password.expose_secret())?;
        let at = now();
        let inserted = self.db.conn().execute(
            "INSERT INTO users (name, unit, role, password_hash, scram_salt, scram_iterations, \
             scram_stored_key, scram_server_key, created_at, password_changed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT (name) DO NOTHING",
            params![
                name,
                unit,
                role.as_str(),
                hash,
                scram.salt,
                scram.iterations,
                &scram.stored_key[..],
                &scram.server_key[..],
                at
            ],
        );
        match inserted.map_err(|e| self.sqlite(e))? {
            0 => Err(AccountError::NameTaken(name.to_string())),
            _ => self
                .get(name)?
                .ok_or_else(|| AccountError::NoSuchAccount(name.to_string())),
        }
    }

    /// Replace an account's password (both secrets at once).
    pub fn set_password(&self, name: &str, password: &SecretString) -> Result<(), AccountError> {
        check_password(name, password.expose_secret())?;
        let (hash, scram) = secrets(password.expose_secret())?;
        let n = self
            .db
            .conn()
            .execute(
                "UPDATE users SET password_hash = ?2, scram_salt = ?3, scram_iterations = ?4, \
                 scram_stored_key = ?5, scram_server_key = ?6, password_changed_at = ?7 WHERE name = ?1",
                params![
                    name,
                    hash,
                    scram.salt,
                    scram.iterations,
                    &scram.stored_key[..],
                    &scram.server_key[..],
                    now()
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        if n == 0 {
            return Err(AccountError::NoSuchAccount(name.to_string()));
        }
        Ok(())
    }

    /// Disable (or enable again) an account: a disabled account cannot log in anywhere.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), AccountError> {
        let n = self
            .db
            .conn()
            .execute(
                "UPDATE users SET disabled = ?2 WHERE name = ?1",
                params![name, disabled as i64],
            )
            .map_err(|e| self.sqlite(e))?;
        if n == 0 {
            return Err(AccountError::NoSuchAccount(name.to_string()));
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<Option<Account>, AccountError> {
        self.db
            .conn()
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE name = ?1"),
                [name],
                Self::row,
            )
            .optional()
            .map_err(|e| self.sqlite(e))?
            .map(Self::checked)
            .transpose()
    }

    pub fn get_by_id(&self, id: i64) -> Result<Option<Account>, AccountError> {
        self.db
            .conn()
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                Self::row,
            )
            .optional()
            .map_err(|e| self.sqlite(e))?
            .map(Self::checked)
            .transpose()
    }

    /// Every account, by name.
    pub fn list(&self) -> Result<Vec<Account>, AccountError> {
        let mut st = self
            .db
            .conn()
            .prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM users ORDER BY name"
            ))
            .map_err(|e| self.sqlite(e))?;
        let rows = st
            .query_map([], Self::row)
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        rows.into_iter().map(Self::checked).collect()
    }

    /// The account if `password` is its password and it is enabled; `None` otherwise, the same
    /// for an unknown name, a wrong password and a disabled account (and as slow).
    pub fn verify_password(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<Option<Account>, AccountError> {
        let found: Option<(String, bool)> = self
            .db
            .conn()
            .query_row(
                "SELECT password_hash, disabled FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        let (hash, disabled) = match &found {
            Some((h, d)) => (h.as_str(), *d),
            None => (decoy_hash(), true),
        };
        let matches = argon2_matches(hash, password.expose_secret());
        if !matches || disabled || found.is_none() {
            return Ok(None);
        }
        self.get(name)
    }

    /// The SCRAM verifier of an enabled account (`None` for unknown or disabled: the endpoint
    /// then runs the exchange against a decoy and fails it, so the answer is the same).
    pub fn scram_verifier(&self, name: &str) -> Result<Option<ScramVerifier>, AccountError> {
        // salt, iterations, stored key, server key, disabled
        type ScramRow = (Vec<u8>, u32, Vec<u8>, Vec<u8>, bool);
        let row: Option<ScramRow> = self
            .db
            .conn()
            .query_row(
                "SELECT scram_salt, scram_iterations, scram_stored_key, scram_server_key, disabled \
                 FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, i64>(4)? != 0,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        Ok(
            row.and_then(|(salt, iterations, stored, server, disabled)| {
                if disabled {
                    return None;
                }
                Some(ScramVerifier {
                    salt,
                    iterations,
                    stored_key: stored.try_into().ok()?,
                    server_key: server.try_into().ok()?,
                })
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    /// RFC 7677 section 3: user "user", password "pencil".
    #[test]
    fn scram_matches_the_rfc_7677_example() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = ScramVerifier::new("pencil", &salt, 4096);
        let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth_message = format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r={nonce}"
        );
        let proof = STANDARD
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        assert!(v.verify_proof(auth_message.as_bytes(), &proof));
        assert_eq!(
            STANDARD.encode(v.server_signature(auth_message.as_bytes())),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(!v.verify_proof(auth_message.as_bytes(), &wrong));
        assert!(!v.verify_proof(auth_message.as_bytes(), &proof[..31]));
        assert!(
            !ScramVerifier::new("pencil2", &salt, 4096)
                .verify_proof(auth_message.as_bytes(), &proof)
        );
    }

    #[test]
    fn accounts_add_check_change_disable_list() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let acc = Accounts::new(&db);
        let a = acc
            .add(
                "wang.li",
                "customs",
                Role::Clerk,
                &secret("海关报送2026年春季"),
            )
            .unwrap();
        assert_eq!(
            (a.name.as_str(), a.unit.as_str(), a.role, a.disabled),
            ("wang.li", "customs", Role::Clerk, false)
        );
        assert!(matches!(
            acc.add("wang.li", "ciq", Role::Clerk, &secret("another-long-one")),
            Err(AccountError::NameTaken(_))
        ));
        assert!(matches!(
            acc.add("1abc", "ciq", Role::Clerk, &secret("another-long-one")),
            Err(AccountError::BadName(_))
        ));
        assert!(matches!(
            acc.add("../etc", "ciq", Role::Clerk, &secret("another-long-one")),
            Err(AccountError::BadName(_))
        ));
        assert!(matches!(
            acc.add("zhao", "ciq", Role::Clerk, &secret("short")),
            Err(AccountError::WeakPassword(_))
        ));

        let ok = acc
            .verify_password("wang.li", &secret("海关报送2026年春季"))
            .unwrap();
        assert_eq!(ok.map(|a| a.id), Some(a.id));
        assert_eq!(
            acc.verify_password("wang.li", &secret("海关报送2026年夏季"))
                .unwrap(),
            None
        );
        assert_eq!(
            acc.verify_password("nobody", &secret("海关报送2026年春季"))
                .unwrap(),
            None
        );

        // Nothing stored is the password, or reversible to it.
        let (hash, salt): (String, Vec<u8>) = db
            .conn()
            .query_row(
                "SELECT password_hash, scram_salt FROM users WHERE name = 'wang.li'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains("海关报送"));
        let v = acc.scram_verifier("wang.li").unwrap().unwrap();
        assert_eq!(
            v,
            ScramVerifier::new("海关报送2026年春季", &salt, SCRAM_ITERATIONS)
        );

        acc.set_password("wang.li", &secret("新的口令-2026-12"))
            .unwrap();
        assert!(
            acc.verify_password("wang.li", &secret("海关报送2026年春季"))
                .unwrap()
                .is_none()
        );
        assert!(
            acc.verify_password("wang.li", &secret("新的口令-2026-12"))
                .unwrap()
                .is_some()
        );
        assert_ne!(acc.scram_verifier("wang.li").unwrap().unwrap(), v);

        acc.set_disabled("wang.li", true).unwrap();
        assert!(
            acc.verify_password("wang.li", &secret("新的口令-2026-12"))
                .unwrap()
                .is_none()
        );
        assert!(acc.scram_verifier("wang.li").unwrap().is_none());
        assert!(matches!(
            acc.set_disabled("nobody", true),
            Err(AccountError::NoSuchAccount(_))
        ));

        acc.add(
            "chen",
            "commerce",
            Role::Analyst,
            &secret("商务局分析-0001"),
        )
        .unwrap();
        let names: Vec<(String, Role, bool)> = acc
            .list()
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.role, a.disabled))
            .collect();
        assert_eq!(
            names,
            vec![
                ("chen".to_string(), Role::Analyst, false),
                ("wang.li".to_string(), Role::Clerk, true)
            ]
        );
    }
}
