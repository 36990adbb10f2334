//! The models the engine itself reads, and the columns it reads of them. A user may edit or
//! delete any SQL file under `queries/`; these few are also read by sanhu's own code, so
//! `sanhu validate` checks that they exist and still give these columns. Declared here, once.

/// A model the engine reads, the columns it needs, and what needs them.
pub struct Contract {
    pub model: &'static str,
    pub columns: &'static [&'static str],
    pub used_by: &'static str,
}

pub const CONTRACTS: &[Contract] = &[
    Contract {
        model: "feed_timeliness",
        columns: &["unit", "feed", "period", "due_at", "timeliness"],
        used_by: "`sanhu status` (jobs::status)",
    },
    Contract {
        model: "credit_library",
        columns: &[
            "uscc",
            "name",
            "official_category",
            "score",
            "grade",
            "hard_trigger",
            "rule_set_version",
            "rating_basis",
            "declarations_12m",
            "value_12m_cny",
            "penalties_12m",
            "tax_overdue_days",
        ],
        used_by: "`sanhu explain credit` (jobs::explain_credit)",
    },
    Contract {
        model: "credit_evidence",
        columns: &[
            "uscc",
            "rule_id",
            "points",
            "hard_trigger",
            "title",
            "source_table",
            "source_key",
            "event_date",
            "counts_until",
        ],
        used_by: "`sanhu explain credit` (jobs::explain_credit)",
    },
];
