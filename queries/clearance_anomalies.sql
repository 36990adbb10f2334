-- 通关时间异常: a segment whose end is before its start across two feeds (e.g. gate-out before
-- customs release). Left out of the statistics; listed here with both times and both files.
SELECT entry_id, 'arrival_to_declared' AS segment, arrival_at AS from_at, declared_at AS to_at,
       logistics_file AS from_file, customs_file AS to_file, hours_between(arrival_at, declared_at) AS hours
FROM clearance_times
WHERE hours_between(arrival_at, declared_at) < 0
UNION ALL
SELECT entry_id, 'released_to_gate_out', released_at, gate_out_at,
       customs_file, logistics_file, hours_between(released_at, gate_out_at)
FROM clearance_times
WHERE hours_between(released_at, gate_out_at) < 0
UNION ALL
SELECT entry_id, 'arrival_to_gate_out', arrival_at, gate_out_at,
       logistics_file AS f1, logistics_file AS f2, hours_between(arrival_at, gate_out_at)
FROM clearance_times
WHERE hours_between(arrival_at, gate_out_at) < 0
