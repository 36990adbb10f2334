-- 任务督办: each task of the plan's registry, as of {{as_of}} (reports after it are not seen).
-- Our rules (DOMAIN.md §6), in this order:
--   已完成  every responsible unit's latest report says 已完成
--   逾期    past its deadline and not done (days_overdue counts from the deadline)
--   未报送  no unit has reported on it yet
--   预警    deadline within 30 days and percent < 80, or no report for 2 weeks (14 days)
--   正常推进 otherwise
-- percent is the mean of the responsible units' latest percents (a unit that never reported counts 0).
WITH reg AS (
    SELECT task_id, section, title, lead_unit, units, deadline, target FROM task_registry
),
task_units AS (
    SELECT task_id, trim(u) AS unit
    FROM (SELECT task_id, unnest(string_to_array(units, ';')) AS u FROM reg)
),
reports AS (
    SELECT task_id, unit, period, reported_on, status, percent,
           row_number() OVER (PARTITION BY task_id, unit ORDER BY reported_on DESC, period DESC) AS rn
    FROM task_progress
    WHERE reported_on <= DATE '{{as_of}}'
),
latest AS (
    SELECT tu.task_id, tu.unit, r.status, coalesce(r.percent, CASE WHEN r.status = '已完成' THEN 100.0 ELSE 0.0 END) AS percent, r.reported_on
    FROM task_units tu
    LEFT JOIN reports r ON r.task_id = tu.task_id AND r.unit = tu.unit AND r.rn = 1
),
agg AS (
    SELECT task_id,
        count(*)                                                   AS units_total,
        sum(CASE WHEN status = '已完成' THEN 1 ELSE 0 END)         AS units_done,
        sum(CASE WHEN status = '受阻' THEN 1 ELSE 0 END)           AS units_blocked,
        round(avg(coalesce(percent, 0.0)), 1)                      AS percent,
        max(reported_on)                                           AS last_reported_on,
        string_agg(CASE WHEN reported_on IS NULL OR reported_on < DATE '{{as_of}}' - INTERVAL '14 days' THEN unit END, ';') AS silent_units
    FROM latest
    GROUP BY task_id
)
SELECT
    r.task_id, r.section, r.title, r.lead_unit, r.units, r.deadline, r.target,
    CASE
        WHEN a.units_done = a.units_total THEN '已完成'
        WHEN r.deadline IS NOT NULL AND r.deadline < DATE '{{as_of}}' THEN '逾期'
        WHEN a.last_reported_on IS NULL THEN '未报送'
        WHEN (r.deadline IS NOT NULL AND r.deadline <= DATE '{{as_of}}' + INTERVAL '30 days' AND a.percent < 80)
             OR a.last_reported_on < DATE '{{as_of}}' - INTERVAL '14 days' THEN '预警'
        ELSE '正常推进'
    END AS status,
    a.percent,
    a.last_reported_on,
    CASE WHEN a.units_done < a.units_total AND r.deadline < DATE '{{as_of}}'
         THEN CAST(DATE '{{as_of}}' - r.deadline AS BIGINT) ELSE 0 END AS days_overdue,
    a.units_blocked,
    a.silent_units,
    DATE '{{as_of}}' AS as_of
FROM reg r
JOIN agg a ON a.task_id = r.task_id
ORDER BY r.task_id
