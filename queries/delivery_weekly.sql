-- 数据报送情况: what each unit delivered for each ISO week. As in feed_timeliness, a file
-- dropped during week X is the delivery for week X-1 (data are sent the week after).
SELECT
    iso_week(arrow_cast(to_timestamp_micros(file_mtime), 'Timestamp(µs, "UTC")') - INTERVAL '7 days') AS week,
    unit,
    coalesce(feed, '(未识别)')                               AS feed,
    count(*)                                                 AS files,
    sum(CASE WHEN status = 'ingested' THEN 1 ELSE 0 END)     AS files_ingested,
    sum(CASE WHEN status = 'quarantined' THEN 1 ELSE 0 END)  AS files_quarantined,
    sum(CASE WHEN status = 'duplicate' THEN 1 ELSE 0 END)    AS files_duplicate,
    sum(rows_accepted)                                       AS rows_accepted,
    sum(rows_rejected)                                       AS rows_rejected,
    sum(rows_warned)                                         AS rows_warned
FROM deliveries
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
