//! The sharing matrix (`sharing.toml`): which unit receives which table, columns and rows.
//!
//! Parsed and checked here with the rest of the configuration; the exchange stage applies it.
//! A column classified `restricted` in its schema reaches only the units it names: an entry that
//! asks for such a column by name is a configuration error (with its line), and `["*"]` simply
//! never includes it.

use super::spec::Classification;
use super::{Problem, Schema, SourceText};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

pub const SHARING_FILE: &str = "sharing.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingFile {
    #[serde(default)]
    pub share: Vec<ShareSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareSpec {
    /// A unit code, or `*` for every unit.
    pub unit: Spanned<String>,
    /// A canonical table or model, or `*` for every one.
    pub table: Spanned<String>,
    pub columns: Spanned<Vec<String>>,
    #[serde(default)]
    pub filter: Option<String>,
    pub rule: String,
}

/// One resolved grant: a unit receives these columns of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub unit: String,
    pub table: String,
    /// None: every column the unit may see.
    pub columns: Option<Vec<String>>,
    pub filter: Option<String>,
    pub rule: String,
}

/// Whether `unit` may see column `name` of a table (for models: by name, conservatively —
/// a model column named like a restricted column of any schema is restricted the same way).
pub fn may_see(schemas: &BTreeMap<String, Schema>, table: &str, column: &str, unit: &str) -> bool {
    let restricted: Vec<&super::Column> = match schemas.get(table) {
        Some(s) => s.columns.iter().filter(|c| c.name == column).collect(),
        None => schemas
            .values()
            .flat_map(|s| s.columns.iter())
            .filter(|c| c.name == column)
            .collect(),
    };
    restricted
        .iter()
        .filter(|c| c.classification == Classification::Restricted)
        .all(|c| c.restricted_to.iter().any(|u| u == unit))
}

/// Check the matrix and expand it into grants per unit.
pub fn resolve(
    src: &SourceText,
    file: &SharingFile,
    units: &[String],
    schemas: &BTreeMap<String, Schema>,
    models: &BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Vec<Grant> {
    let mut grants = Vec::new();
    for s in &file.share {
        let unit_list: Vec<String> = match s.unit.get_ref().as_str() {
            "*" => units.to_vec(),
            u if units.iter().any(|x| x == u) => vec![u.to_string()],
            u => {
                problems.push(src.problem(s.unit.span(), format!("unknown unit `{u}`")));
                continue;
            }
        };
        let tables: Vec<String> = match s.table.get_ref().as_str() {
            "*" => schemas
                .keys()
                .cloned()
                .chain(models.iter().cloned())
                .collect(),
            t if schemas.contains_key(t) || models.contains(t) => vec![t.to_string()],
            t => {
                problems.push(src.problem(
                    s.table.span(),
                    format!("table `{t}` is neither a schema nor a model"),
                ));
                continue;
            }
        };
        let all = s.columns.get_ref().iter().any(|c| c == "*");
        for table in &tables {
            if !all && let Some(schema) = schemas.get(table) {
                for c in s.columns.get_ref() {
                    if schema.column_index(c).is_none() && !c.starts_with('_') {
                        problems.push(src.problem(
                            s.columns.span(),
                            format!("column `{c}` is not a column of `{table}`"),
                        ));
                    }
                }
            }
            for unit in &unit_list {
                if !all {
                    for c in s.columns.get_ref() {
                        if !may_see(schemas, table, c, unit) {
                            problems.push(src.problem(
                                s.columns.span(),
                                format!("column `{table}.{c}` is restricted and unit `{unit}` is not among the units it may reach"),
                            ));
                        }
                    }
                }
                grants.push(Grant {
                    unit: unit.clone(),
                    table: table.clone(),
                    columns: if all {
                        None
                    } else {
                        Some(s.columns.get_ref().clone())
                    },
                    filter: s.filter.clone(),
                    rule: s.rule.clone(),
                });
            }
        }
    }
    grants
}
