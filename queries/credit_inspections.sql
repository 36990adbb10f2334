-- Customs inspections with the consignee they concern, for the credit rules.
SELECT i.inspection_id, d.consignee_uscc AS uscc, local_date(coalesce(i.finished_at, i.started_at, d.declared_at)) AS inspected_on, i.result
FROM customs_inspection i
JOIN customs_declaration d ON d.entry_id = i.entry_id
WHERE d.consignee_uscc IS NOT NULL
