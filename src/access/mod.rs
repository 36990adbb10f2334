//! Access: who is asking. The accounts behind the portal and the SQL endpoint, and the roles
//! they act in.
//!
//! An account acts for one unit in one role ([`Role`]): a clerk for her unit only; an analyst
//! (commerce bureau) reads both editions of the reports and the lake; the office (联席会议办公室)
//! sees every unit's progress and compliance; an admin manages accounts and sees runs and the
//! quarantine. What a unit may *see* of the lake is the sharing matrix's business
//! (`config::sharing`); this module only answers "who is this, and are they who they say".
//!
//! Accounts live in the `users` table of `sanhu.db` (see `state`). A password is never kept:
//! only its argon2id hash, for the portal, and its SCRAM-SHA-256 verifier (salt, iterations,
//! StoredKey, ServerKey — what PostgreSQL itself stores), for the SQL endpoint. The verifier
//! lets the endpoint check a client's proof without holding anything a client could log in
//! with; a SaltedPassword (what pgwire's bundled SCRAM source asks for) would be such a thing.

pub mod accounts;

pub use accounts::{Account, AccountError, Accounts, ScramVerifier};

use std::fmt;
use std::str::FromStr;

/// What an account may do, whatever its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Acts for one unit: its deliveries, receipts, packages, templates.
    Clerk,
    /// Commerce-bureau analyst: both editions of the reports, read-only SQL over the lake.
    Analyst,
    /// The joint-meeting office: every unit's progress and compliance.
    Office,
    /// Manages accounts; sees runs and the quarantine across units.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Clerk, Role::Analyst, Role::Office, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Analyst => "analyst",
            Role::Office => "office",
            Role::Admin => "admin",
        }
    }

    /// The role's name as the portal shows it.
    pub fn title(self) -> &'static str {
        match self {
            Role::Clerk => "报送员",
            Role::Analyst => "分析员",
            Role::Office => "联席会议办公室",
            Role::Admin => "管理员",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (use clerk, analyst, office or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_by_name() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!(
            "root".parse::<Role>().unwrap_err().to_string(),
            "unknown role `root` (use clerk, analyst, office or admin)"
        );
    }
}
