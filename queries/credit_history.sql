-- Grades at each of the 27 week ends up to {{as_of}} (the as-of day and the 26 Sundays before
-- it), computed from the same evidence rows: the ground for the weekly changes.
WITH weeks AS (
    -- Date32 is days since 1970-01-01: step back k weeks in day numbers.
    SELECT arrow_cast(arrow_cast(DATE '{{as_of}}', 'Int32') - CAST(k * 7 AS INT), 'Date32') AS week_end
    FROM unnest(range(0, 27)) AS t(k)
),
-- The evidence counting at each week end, aggregated per enterprise that has any (a few
-- thousand groups), then spread over every registered enterprise by an equi-join: aggregating
-- the enterprise × week grid itself (string_agg per group) was the slow way.
counting AS (
    SELECT w.week_end, ev.uscc,
        sum(ev.points)                                      AS points,
        bool_or(ev.hard_trigger)                            AS hard,
        string_agg(ev.rule_id, ',' ORDER BY ev.rule_id, ev.source_key) AS rules
    FROM weeks w
    JOIN credit_events ev ON ev.event_date <= w.week_end AND ev.counts_until > w.week_end
    GROUP BY w.week_end, ev.uscc
),
pts AS (
    SELECT w.week_end, e.uscc,
        coalesce(c.points, 0)    AS points,
        coalesce(c.hard, false)  AS hard,
        c.rules
    FROM weeks w
    CROSS JOIN enterprise e
    LEFT JOIN counting c ON c.uscc = e.uscc AND c.week_end = w.week_end
)
SELECT week_end, iso_week(arrow_cast(CAST(week_end AS TIMESTAMP), 'Timestamp(µs, "UTC")')) AS week, uscc,
    {{credit_start}} + points AS score,
    CASE WHEN hard THEN 'D' WHEN {{credit_start}} + points >= {{grade_a}} THEN 'A' WHEN {{credit_start}} + points >= {{grade_b}} THEN 'B'
         WHEN {{credit_start}} + points >= {{grade_c}} THEN 'C' ELSE 'D' END AS grade,
    coalesce(rules, '') AS rules
FROM pts
