-- 单位报送情况, as of {{as_of}}: per unit, the plan's tasks it holds, progress reports due and
-- received for the as-of week, and its feeds' deliveries (on time, late, missing) over the
-- periods judged so far.
WITH held AS (
    SELECT trim(u) AS unit, count(*) AS tasks_held
    FROM (SELECT unnest(string_to_array(units, ';')) AS u FROM task_registry)
    GROUP BY trim(u)
),
received AS (
    SELECT unit, count(DISTINCT task_id) AS reports_received
    FROM task_progress
    WHERE period = '{{as_of_week}}' AND reported_on <= DATE '{{as_of}}'
    GROUP BY unit
),
feeds AS (
    SELECT unit,
        count(*)                                                   AS feeds_due,
        sum(CASE WHEN timeliness = 'on_time' THEN 1 ELSE 0 END)    AS feeds_on_time,
        sum(CASE WHEN timeliness = 'late' THEN 1 ELSE 0 END)       AS feeds_late,
        sum(CASE WHEN timeliness = 'missing' THEN 1 ELSE 0 END)    AS feeds_missing
    FROM feed_timeliness
    GROUP BY unit
)
SELECT
    u.code AS unit, u.name AS unit_name,
    coalesce(h.tasks_held, 0)        AS tasks_held,
    coalesce(h.tasks_held, 0)        AS reports_due,
    coalesce(r.reports_received, 0)  AS reports_received,
    coalesce(f.feeds_due, 0)         AS feeds_due,
    coalesce(f.feeds_on_time, 0)     AS feeds_on_time,
    coalesce(f.feeds_late, 0)        AS feeds_late,
    coalesce(f.feeds_missing, 0)     AS feeds_missing,
    DATE '{{as_of}}'                 AS as_of
FROM units u
LEFT JOIN held h ON h.unit = u.code
LEFT JOIN received r ON r.unit = u.code
LEFT JOIN feeds f ON f.unit = u.code
ORDER BY u.code
