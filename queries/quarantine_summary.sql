-- 数据质量: rejected and flagged rows per unit, feed and reason.
SELECT
    unit,
    feed,
    severity,
    reason,
    count(*)                 AS rows,
    count(DISTINCT delivery) AS deliveries,
    min(file)                AS example_file,
    min(row)                 AS example_row
FROM quarantine
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 5 DESC
