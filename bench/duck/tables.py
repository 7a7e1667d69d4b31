"""The tables DuckDB derives from the Parquet files (``DIR``) before any KPI: events per object
and their first and last times, objects, links and FX rates into the reporting currency
(`SETUP`); each won deal's handoff to its project (`HANDOFFS`); each invoice's trigger, posting,
payment and re-issue (`INVOICES`); billable work and the invoices that billed it (`WORK`); sync
attempts, failure traces and each flow's daily failures against its baseline (`SYNC`)."""

SETUP = """
CREATE TEMP TABLE ev AS
  SELECT eo.object_id, eo.qualifier, e.activity, e.occurred_at
  FROM 'DIR/events.parquet' e JOIN 'DIR/event_objects.parquet' eo ON eo.event_id = e.id;
CREATE TEMP TABLE firsts AS
  SELECT object_id, qualifier, activity, min(occurred_at) AS first_at, max(occurred_at) AS last_at
  FROM ev GROUP BY ALL;
CREATE TEMP TABLE obj AS SELECT * FROM 'DIR/objects.parquet';
CREATE TEMP TABLE links AS SELECT * FROM 'DIR/object_links.parquet';
CREATE TEMP TABLE fx AS
  WITH direct AS (SELECT base AS currency, day, rate FROM 'DIR/fx_rates.parquet'
                  WHERE quote = $reporting AND rate > 0),
  inverse AS (SELECT quote AS currency, day, 1 / rate AS rate FROM 'DIR/fx_rates.parquet'
              WHERE base = $reporting AND rate > 0)
  SELECT * FROM direct UNION ALL
  SELECT * FROM inverse i WHERE NOT EXISTS (
    SELECT 1 FROM direct d WHERE d.currency = i.currency AND d.day = i.day);
"""

HANDOFFS = """
CREATE TEMP TABLE handoffs AS
WITH stages AS (
  SELECT object_id AS deal_id,
    min(occurred_at) FILTER (activity = 'deal.won') AS won_at,
    max(occurred_at) FILTER (activity = 'deal.won') AS last_won,
    max(occurred_at) FILTER (activity = 'deal.lost') AS last_lost
  FROM ev WHERE qualifier = 'deal' AND activity IN ('deal.won', 'deal.lost', 'deal.reopened')
  GROUP BY 1),
starts AS (
  SELECT l.from_object_id AS deal_id, f.first_at AS created_at,
    CASE WHEN json_type(p.attributes, '$.touchless') = 'BOOLEAN'
         THEN json_extract_string(p.attributes, '$.touchless') = 'true' END AS touchless,
    row_number() OVER (PARTITION BY l.from_object_id
                       ORDER BY f.first_at, coalesce(p.source_key, '')) AS n
  FROM links l
  JOIN firsts f ON f.object_id = l.to_object_id AND f.qualifier = 'project'
    AND f.activity = 'project.created'
  LEFT JOIN obj p ON p.id = l.to_object_id AND p.type = 'project'
  WHERE l.qualifier = 'provisions')
SELECT s.deal_id, d.legal_entity, d.currency, d.amount, s.won_at,
  CASE WHEN json_type(d.attributes, '$.no_project_required') = 'BOOLEAN'
        AND json_extract_string(d.attributes, '$.no_project_required') = 'true'
       THEN 'no_project_required'
       WHEN s.last_lost > s.last_won THEN 'reopened_lost' END AS excluded,
  p.created_at, p.touchless
FROM stages s
LEFT JOIN obj d ON d.id = s.deal_id AND d.type = 'deal'
LEFT JOIN starts p ON p.deal_id = s.deal_id AND p.n = 1
WHERE s.won_at IS NOT NULL;
"""

INVOICES = """
CREATE TEMP TABLE invoices AS
WITH inv AS (
  SELECT id, source_key, legal_entity, currency, amount,
    coalesce(nullif(json_extract_string(attributes, '$.kind'), ''), 'invoice') AS kind,
    json_extract_string(attributes, '$.project_code') AS project_code,
    nullif(json_extract_string(attributes, '$.milestone_id'), '') AS milestone_key,
    try_cast(left(json_extract_string(attributes, '$.period_end'), 10) AS DATE) AS period_end
  FROM obj WHERE type = 'invoice'),
candidates AS (
  SELECT l.from_object_id AS invoice_id, l.to_object_id AS project_id,
    (o.source_key IS NOT DISTINCT FROM i.project_code) AS matching
  FROM links l JOIN inv i ON i.id = l.from_object_id
  LEFT JOIN obj o ON o.id = l.to_object_id
  WHERE l.qualifier = 'bills'),
project_of AS (
  SELECT invoice_id, coalesce(min(project_id) FILTER (matching), min(project_id)) AS project_id
  FROM candidates GROUP BY 1),
reissue AS (SELECT to_object_id AS invoice_id, max(from_object_id) AS reissue_of
            FROM links WHERE qualifier = 'reissued_as' GROUP BY 1),
paid AS (
  SELECT l.from_object_id AS invoice_id, max(f.last_at) AS paid_at
  FROM links l JOIN firsts f ON f.object_id = l.to_object_id AND f.qualifier = 'payment'
    AND f.activity = 'payment.received'
  WHERE l.qualifier = 'settled_by' GROUP BY 1),
lifecycle AS (
  SELECT object_id AS invoice_id,
    min(first_at) FILTER (activity = 'invoice.created') AS created_at,
    min(first_at) FILTER (activity = 'invoice.posted') AS posted_at,
    min(first_at) FILTER (activity = 'invoice.sent') AS sent_at,
    min(first_at) FILTER (activity = 'invoice.voided') AS voided_at
  FROM firsts WHERE qualifier = 'invoice' GROUP BY 1),
approvals AS (
  SELECT l.to_object_id AS invoice_id, max(e.occurred_at) AS last_approved_at
  FROM links l
  JOIN ev e ON e.object_id = l.from_object_id AND e.qualifier = 'work_item'
    AND e.activity = 'work.approved'
  LEFT JOIN lifecycle c ON c.invoice_id = l.to_object_id
  WHERE l.qualifier = 'billed_on' AND (c.posted_at IS NULL OR e.occurred_at <= c.posted_at)
  GROUP BY 1),
accepted AS (
  SELECT i.id AS invoice_id, min(f.first_at) AS accepted_at
  FROM inv i
  LEFT JOIN project_of po ON po.invoice_id = i.id
  LEFT JOIN obj p ON p.id = po.project_id AND p.type = 'project'
  JOIN obj m ON m.type = 'milestone' AND m.source_key = i.milestone_key
    AND m.source_system = coalesce(p.source_system, 'psa')
  JOIN firsts f ON f.object_id = m.id AND f.qualifier = 'milestone'
    AND f.activity = 'milestone.accepted'
  GROUP BY 1)
SELECT i.id, i.kind, i.currency, i.amount,
  coalesce(nullif(p.legal_entity, ''), i.legal_entity) AS legal_entity,
  r.reissue_of, c.created_at, c.posted_at, c.sent_at, c.voided_at, pd.paid_at,
  CASE WHEN i.milestone_key IS NOT NULL THEN a.accepted_at
       ELSE greatest(CAST(i.period_end + 1 AS TIMESTAMP), ap.last_approved_at) END AS trigger_at
FROM inv i
LEFT JOIN project_of po ON po.invoice_id = i.id
LEFT JOIN obj p ON p.id = po.project_id AND p.type = 'project'
LEFT JOIN reissue r ON r.invoice_id = i.id
LEFT JOIN lifecycle c ON c.invoice_id = i.id
LEFT JOIN paid pd ON pd.invoice_id = i.id
LEFT JOIN approvals ap ON ap.invoice_id = i.id
LEFT JOIN accepted a ON a.invoice_id = i.id;
"""

WORK = """
CREATE TEMP TABLE work AS
WITH item AS (
  SELECT id, source_system, currency, amount,
    json_extract_string(attributes, '$.status') AS status,
    nullif(json_extract_string(attributes, '$.project_id'), '') AS project_key,
    try_cast(left(json_extract_string(attributes, '$.work_date'), 10) AS DATE) AS work_date
  FROM obj WHERE type = 'work_item' AND json_type(attributes, '$.billable') = 'BOOLEAN'
    AND json_extract_string(attributes, '$.billable') = 'true'),
times AS (
  SELECT object_id AS id,
    min(first_at) FILTER (activity = 'work.logged') AS logged_at,
    min(first_at) FILTER (activity = 'work.approved') AS approved_at,
    min(first_at) FILTER (activity = 'work.written_off') AS written_off_at
  FROM firsts WHERE qualifier = 'work_item' GROUP BY 1)
SELECT i.id, i.currency, i.amount, i.status, i.work_date, t.logged_at, t.approved_at,
  t.written_off_at
FROM item i LEFT JOIN times t ON t.id = i.id;
CREATE TEMP TABLE billing AS
WITH RECURSIVE chain(item_id, invoice_id) AS (
  SELECT from_object_id, to_object_id FROM links WHERE qualifier = 'billed_on'
  UNION
  SELECT c.item_id, r.from_object_id FROM chain c
  JOIN links r ON r.qualifier = 'reissued_as' AND r.to_object_id = c.invoice_id)
SELECT c.item_id,
  min(f.first_at) FILTER (f.activity = 'invoice.posted') AS posted_at,
  min(f.first_at) FILTER (f.activity = 'invoice.voided') AS voided_at
FROM chain c JOIN firsts f ON f.object_id = c.invoice_id AND f.qualifier = 'invoice'
GROUP BY c.item_id, c.invoice_id;
"""

SYNC = """
CREATE TEMP TABLE att AS
  SELECT *, CAST(started_at AS DATE) AS day, coalesce(trace_key, source_key) AS record,
    attempt_number <= 1 AS first, status = 'failed' AS failed
  FROM 'DIR/sync_attempts.parquet';
CREATE TEMP TABLE traces AS
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY integration, flow, trace_key
    ORDER BY attempt_number DESC, started_at DESC, source_key DESC) AS latest
  FROM att WHERE trace_key IS NOT NULL),
agg AS (
  SELECT integration, flow, trace_key, min(started_at) FILTER (failed) AS first_failed_at,
    max(started_at) AS latest_attempt_at, any_value(status) FILTER (latest = 1) AS latest_status
  FROM ranked GROUP BY ALL)
SELECT a.*, (SELECT min(r.started_at) FROM ranked r WHERE r.integration = a.integration
    AND r.flow = a.flow AND r.trace_key = a.trace_key AND r.status = 'success'
    AND r.started_at > a.first_failed_at) AS resolved_at
FROM agg a WHERE a.first_failed_at IS NOT NULL;
CREATE TEMP TABLE per_day AS
WITH daily AS (
  SELECT integration, flow, day, count(*) FILTER (first AND failed) AS fff
  FROM att GROUP BY ALL),
span AS (SELECT integration, flow, min(day) - 28 AS lo, max(day) AS hi FROM daily GROUP BY ALL),
grid AS (
  SELECT s.integration, s.flow, CAST(d.day AS DATE) AS day
  FROM span s, LATERAL generate_series(s.lo, s.hi, INTERVAL 1 DAY) d(day)),
dense AS (
  SELECT g.integration, g.flow, g.day, coalesce(x.fff, 0) AS fff, x.fff IS NOT NULL AS present
  FROM grid g
  LEFT JOIN daily x ON x.integration = g.integration AND x.flow = g.flow AND x.day = g.day),
windowed AS (
  SELECT *, median(fff) OVER w AS baseline, mad(fff) OVER w AS spread FROM dense
  WINDOW w AS (PARTITION BY integration, flow ORDER BY day
               ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING))
SELECT * , baseline + 3.0 * greatest(1.4826 * spread, 1.0) AS threshold
FROM windowed WHERE present;
"""
