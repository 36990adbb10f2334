-- 信息报告制度: per unit, feed and weekly period, was the delivery on time, late or missing,
-- as of {{as_of}}. Our rule: a feed's delivery for ISO week W is due at its `due` weekday and
-- time (local) in week W+1; the first file of that feed the unit drops during week W+1 counts
-- for W (its time is the file's modification time). Nothing during W+1 → missing.
-- Periods whose due time is after {{as_of}} are not judged yet.
WITH d AS (
    SELECT feed, unit, arrow_cast(to_timestamp_micros(file_mtime), 'Timestamp(µs, "UTC")') AS delivered_at,
           rows_accepted, rows_rejected
    FROM deliveries
    WHERE status = 'ingested'
)
SELECT
    e.unit, e.feed, e.period, e.due_at,
    min(d.delivered_at)                                                     AS delivered_at,
    CASE WHEN min(d.delivered_at) IS NULL THEN 'missing'
         WHEN min(d.delivered_at) <= e.due_at THEN 'on_time'
         ELSE 'late' END                                                    AS timeliness,
    count(d.delivered_at)                                                   AS files,
    coalesce(sum(d.rows_accepted), 0)                                       AS rows_accepted,
    coalesce(sum(d.rows_rejected), 0)                                       AS rows_rejected
FROM feed_due e
LEFT JOIN d ON d.feed = e.feed AND d.unit = e.unit AND d.delivered_at >= e.window_start AND d.delivered_at < e.window_end
WHERE e.due_at <= arrow_cast(TIMESTAMP '{{as_of_end_utc}}', 'Timestamp(µs, "UTC")')
GROUP BY e.unit, e.feed, e.period, e.due_at
