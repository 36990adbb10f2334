-- 一次查验 and 监管互认, per ISO week of the customs declaration (local time).
--   joint_inspection_rate = declarations inspected by customs and CIQ together
--                           / declarations inspected by both
--   mutual_recognition_rate = CIQ-inspected declarations customs released without its own
--                             inspection / CIQ-inspected declarations
WITH ci AS (
    SELECT entry_id, max(CASE WHEN joint_with_ciq THEN 1 ELSE 0 END) AS joint
    FROM customs_inspection
    GROUP BY entry_id
),
q AS (
    SELECT entry_id, max(CASE WHEN joint_inspection THEN 1 ELSE 0 END) AS joint
    FROM ciq_declaration
    WHERE inspected_at IS NOT NULL AND entry_id IS NOT NULL
    GROUP BY entry_id
),
d AS (
    SELECT
        iso_week(d.declared_at)  AS week,
        d.released_at IS NOT NULL AS released,
        ci.entry_id IS NOT NULL  AS by_customs,
        q.entry_id IS NOT NULL   AS by_ciq,
        coalesce(ci.joint, 0) = 1 OR coalesce(q.joint, 0) = 1 AS together
    FROM customs_declaration d
    LEFT JOIN ci ON ci.entry_id = d.entry_id
    LEFT JOIN q  ON q.entry_id = d.entry_id
),
w AS (
    SELECT
        week,
        count(*)                                                                  AS declarations,
        sum(CASE WHEN by_customs AND by_ciq THEN 1 ELSE 0 END)                    AS inspected_by_both,
        sum(CASE WHEN by_customs AND by_ciq AND together THEN 1 ELSE 0 END)       AS inspected_together,
        sum(CASE WHEN by_ciq THEN 1 ELSE 0 END)                                   AS ciq_inspected,
        sum(CASE WHEN by_ciq AND NOT by_customs AND released THEN 1 ELSE 0 END)   AS recognised_by_customs
    FROM d
    GROUP BY week
)
SELECT
    week, declarations, inspected_by_both, inspected_together,
    CASE WHEN inspected_by_both > 0 THEN round(CAST(inspected_together AS DOUBLE) / inspected_by_both, 4) END AS joint_inspection_rate,
    ciq_inspected, recognised_by_customs,
    CASE WHEN ciq_inspected > 0 THEN round(CAST(recognised_by_customs AS DOUBLE) / ciq_inspected, 4) END AS mutual_recognition_rate
FROM w
