"""DuckDB SQL of the columnar rebuild: the rules of `handoffs`, `invoices`, `work_items`,
`sync` and `dims`, set-wise over the whole log.

Inputs (loaded by `metrics.facts.columnar`): `obj` (objects, with the JSON fragments of the
attributes the builders read as `f_<name>` text), `ev`, `eo`, `lk` (links) and `att` (sync
attempts), timestamps naive UTC. Values the Python builders derive with Python semantics
(`str()` of a JSON value, truthiness, `date.fromisoformat`, `object_id` hashes) come from small
mapping tables computed in Python over the distinct inputs: `kind_map`, `pass_map`,
`instant_map`, `date_map`, `pid_map`, `mid_map`. Where the builders' result depends on the order
rows come back from the store (several `part_of`/`bills`/`reissued_as`/`settled_by` links where
one is used, projects tied on creation time and key, a record failing several times a day with
different objects), the smallest id, or the earliest attempt, wins (`arg_min_null` over the
attempt's (time, number, key): the first value in that order, NULL included, as `first` gives
it, without a window or an ordered aggregate to hold in memory).
"""

from __future__ import annotations

FRAGMENTS = (
    "no_project_required",
    "touchless",
    "kind",
    "billing_type",
    "project_code",
    "milestone_id",
    "period_end",
    "project_id",
    "billable",
    "status",
    "work_date",
    "invoice_id",
)
ACTIVITIES = (
    "deal.won",
    "deal.lost",
    "deal.reopened",
    "project.created",
    "work.logged",
    "work.approved",
    "work.written_off",
    "milestone.accepted",
    "invoice.created",
    "invoice.posted",
    "invoice.sent",
    "invoice.voided",
    "payment.received",
)
QUALIFIERS = ("deal", "project", "invoice", "milestone", "payment", "work_item")
LINKS = ("provisions", "part_of", "billed_on", "settled_by", "bills", "reissued_as")

MACROS = """
CREATE MACRO jstr(f) AS CASE WHEN json_type(f) = 'VARCHAR' THEN json_extract_string(f, '$') END;
CREATE MACRO jnull(f) AS f IS NULL OR f = 'null';
CREATE MACRO dim(p, own) AS CASE WHEN p <> '' THEN p ELSE own END;
"""

# Times per object, qualifier and activity: first, last and how many.
TIMES = """
CREATE TABLE ot AS
SELECT eo.object_id, eo.qualifier, ev.activity, min(ev.occurred_at) AS first_at,
  max(ev.occurred_at) AS last_at, count(*) AS n
FROM eo JOIN ev ON ev.id = eo.event_id GROUP BY ALL;
"""

# Invoice → project: the `bills` link whose target's key equals `project_code` (a missing
# target "equals" a missing code, as `None == None`), else the smallest.
INVOICE_PROJECT = """
CREATE TABLE inv_proj AS
WITH cand AS (
  SELECT l.from_id AS invoice_id, l.to_id AS project_id,
    coalesce(CASE WHEN c.id IS NULL THEN jnull(i.f_project_code)
                  ELSE jstr(i.f_project_code) = c.source_key END, false) AS matching
  FROM lk l JOIN obj i ON i.id = l.from_id AND i.type = 'invoice'
  LEFT JOIN obj c ON c.id = l.to_id
  WHERE l.qualifier = 'bills'),
pick AS (
  SELECT invoice_id, coalesce(min(project_id) FILTER (matching), min(project_id)) AS project_id
  FROM cand GROUP BY 1)
SELECT k.invoice_id, p.id, p.source_system, p.legal_entity, p.practice, p.customer
FROM pick k JOIN obj p ON p.id = k.project_id AND p.type = 'project';
"""

PASS = """
CASE WHEN json_type({f}) = 'VARCHAR' THEN json_extract_string({f}, '$') WHEN jnull({f}) THEN NULL
  ELSE (SELECT m.value FROM pass_map m WHERE m.fragment = {f}) END
"""


def passthrough(fragment: str) -> str:
    """SQL: a JSON attribute as the builders store it in a text column."""
    return PASS.format(f=fragment).strip()


HANDOFFS = """
CREATE TABLE f_handoffs AS
WITH st AS (
  SELECT object_id AS deal_id,
    min(first_at) FILTER (activity = 'deal.won') AS won_at,
    max(last_at) FILTER (activity = 'deal.won') AS last_won,
    sum(n) FILTER (activity = 'deal.won') AS wins,
    max(last_at) FILTER (activity = 'deal.lost') AS last_lost
  FROM ot WHERE qualifier = 'deal' AND activity IN ('deal.won', 'deal.lost') GROUP BY 1),
starts AS (
  SELECT l.from_id AS deal_id, l.to_id AS project_id, p.source_key AS project_key,
    t.first_at AS created_at,
    CASE p.f_touchless WHEN 'true' THEN true WHEN 'false' THEN false END AS touchless
  FROM lk l JOIN st ON st.deal_id = l.from_id AND st.won_at IS NOT NULL
  JOIN ot t ON t.object_id = l.to_id AND t.qualifier = 'project'
    AND t.activity = 'project.created'
  LEFT JOIN obj p ON p.id = l.to_id AND p.type = 'project'
  WHERE l.qualifier = 'provisions'),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY deal_id
      ORDER BY created_at, coalesce(project_key, ''), project_id) AS rn,
    count(*) OVER (PARTITION BY deal_id) AS projects
  FROM starts)
SELECT st.deal_id, d.source_key AS deal_key, d.legal_entity, d.practice, d.customer, d.owner,
  d.currency, d.amount, st.won_at, st.wins,
  CASE WHEN d.f_no_project_required = 'true' THEN 'no_project_required'
       WHEN st.last_lost > st.last_won THEN 'reopened_lost' END AS excluded,
  r.project_id, r.project_key, r.created_at AS project_created_at,
  coalesce(r.projects, 0) AS projects, r.touchless
FROM st
LEFT JOIN obj d ON d.id = st.deal_id AND d.type = 'deal'
LEFT JOIN ranked r ON r.deal_id = st.deal_id AND r.rn = 1
WHERE st.won_at IS NOT NULL;
"""

INVOICES = """
CREATE TABLE f_invoices AS
WITH inv AS (SELECT * FROM obj WHERE type = 'invoice'),
life AS (
  SELECT object_id AS invoice_id,
    min(first_at) FILTER (activity = 'invoice.created') AS created_at,
    min(first_at) FILTER (activity = 'invoice.posted') AS posted_at,
    min(first_at) FILTER (activity = 'invoice.sent') AS sent_at,
    min(first_at) FILTER (activity = 'invoice.voided') AS voided_at
  FROM ot WHERE qualifier = 'invoice' GROUP BY 1),
reissue AS (
  SELECT to_id AS invoice_id, min(from_id) AS reissue_of
  FROM lk WHERE qualifier = 'reissued_as' GROUP BY 1),
paid AS (
  SELECT l.from_id AS invoice_id, max(t.last_at) AS paid_at
  FROM lk l JOIN ot t ON t.object_id = l.to_id AND t.qualifier = 'payment'
    AND t.activity = 'payment.received'
  WHERE l.qualifier = 'settled_by' GROUP BY 1),
counts AS (
  SELECT to_id AS invoice_id, count(*) AS n FROM lk WHERE qualifier = 'billed_on' GROUP BY 1),
approved AS (
  SELECT l.to_id AS invoice_id, max(ev.occurred_at) AS last_approved_at
  FROM lk l
  JOIN eo ON eo.object_id = l.from_id AND eo.qualifier = 'work_item'
  JOIN ev ON ev.id = eo.event_id AND ev.activity = 'work.approved'
  LEFT JOIN life c ON c.invoice_id = l.to_id
  WHERE l.qualifier = 'billed_on' AND (c.posted_at IS NULL OR ev.occurred_at <= c.posted_at)
  GROUP BY 1),
ms AS (
  SELECT i.id AS invoice_id, m.id AS milestone_id
  FROM inv i LEFT JOIN inv_proj p ON p.invoice_id = i.id
  JOIN mid_map m ON m.system = coalesce(p.source_system, 'psa') AND m.fragment = i.f_milestone_id
  WHERE m.truthy),
accepted AS (
  SELECT ms.invoice_id, min(t.first_at) AS accepted_at
  FROM ms JOIN ot t ON t.object_id = ms.milestone_id AND t.qualifier = 'milestone'
    AND t.activity = 'milestone.accepted'
  GROUP BY 1)
SELECT i.id AS invoice_id, i.source_key AS invoice_key,
  coalesce((SELECT k.value FROM kind_map k WHERE k.fragment = i.f_kind), 'invoice') AS kind,
  {billing_type} AS billing_type,
  dim(p.legal_entity, i.legal_entity) AS legal_entity, dim(p.practice, i.practice) AS practice,
  dim(p.customer, i.customer) AS customer, i.currency, i.amount, p.id AS project_id,
  ms.milestone_id, r.reissue_of, coalesce(cn.n, 0) AS work_items,
  pe.at AS period_end_at, ap.last_approved_at, a.accepted_at AS milestone_accepted_at,
  CASE WHEN ms.milestone_id IS NOT NULL THEN a.accepted_at
       ELSE greatest(pe.at, ap.last_approved_at) END AS trigger_at,
  c.created_at, c.posted_at, c.sent_at, c.voided_at, pd.paid_at
FROM inv i
LEFT JOIN inv_proj p ON p.invoice_id = i.id
LEFT JOIN life c ON c.invoice_id = i.id
LEFT JOIN reissue r ON r.invoice_id = i.id
LEFT JOIN paid pd ON pd.invoice_id = i.id
LEFT JOIN counts cn ON cn.invoice_id = i.id
LEFT JOIN approved ap ON ap.invoice_id = i.id
LEFT JOIN ms ON ms.invoice_id = i.id
LEFT JOIN accepted a ON a.invoice_id = i.id
LEFT JOIN instant_map pe ON pe.fragment = i.f_period_end;
""".replace("{billing_type}", passthrough("i.f_billing_type"))

WORK_ITEMS = """
CREATE TABLE f_work_chain AS
WITH RECURSIVE linked AS (
  SELECT l.from_id AS item_id, l.to_id AS invoice_id
  FROM lk l JOIN obj w ON w.id = l.from_id AND w.type = 'work_item'
  WHERE l.qualifier = 'billed_on'),
chain(root, invoice_id) AS (
  SELECT DISTINCT invoice_id, invoice_id FROM linked
  UNION
  SELECT c.root, r.from_id FROM chain c
  JOIN lk r ON r.qualifier = 'reissued_as' AND r.to_id = c.invoice_id)
SELECT l.item_id, l.invoice_id AS linked_id, c.invoice_id
FROM linked l JOIN chain c ON c.root = l.invoice_id;

CREATE TABLE f_work_billing AS
WITH inv AS (
  SELECT object_id AS invoice_id,
    min(first_at) FILTER (activity = 'invoice.posted') AS posted_at,
    min(first_at) FILTER (activity = 'invoice.voided') AS voided_at
  FROM ot WHERE qualifier = 'invoice' AND activity IN ('invoice.posted', 'invoice.voided')
  GROUP BY 1)
SELECT DISTINCT c.item_id AS work_item_id, c.invoice_id, i.posted_at, i.voided_at
FROM f_work_chain c LEFT JOIN inv i ON i.invoice_id = c.invoice_id;

CREATE TABLE f_work_items AS
WITH wi AS (SELECT * FROM obj WHERE type = 'work_item'),
part_of AS (
  SELECT from_id AS item_id, min(to_id) AS pid FROM lk WHERE qualifier = 'part_of' GROUP BY 1),
po AS (
  SELECT w.id AS item_id, CASE WHEN coalesce(m.truthy, false) THEN m.id ELSE pt.pid END AS pid
  FROM wi w
  LEFT JOIN pid_map m ON m.system = w.source_system AND m.fragment = w.f_project_id
  LEFT JOIN part_of pt ON pt.item_id = w.id),
proj AS (SELECT po.item_id, p.* FROM po JOIN obj p ON p.id = po.pid AND p.type = 'project'),
times AS (
  SELECT object_id AS item_id,
    min(first_at) FILTER (activity = 'work.logged') AS logged_at,
    min(first_at) FILTER (activity = 'work.approved') AS approved_at,
    max(last_at) FILTER (activity = 'work.approved') AS last_approved_at,
    min(first_at) FILTER (activity = 'work.written_off') AS written_off_at
  FROM ot WHERE qualifier = 'work_item' GROUP BY 1),
current AS (
  SELECT c.item_id, min(c.linked_id) AS invoice_id
  FROM (SELECT DISTINCT item_id, linked_id FROM f_work_chain) c
  JOIN wi w ON w.id = c.item_id
  LEFT JOIN obj o ON o.id = c.linked_id
  WHERE CASE WHEN o.id IS NULL THEN jnull(w.f_invoice_id)
             ELSE jstr(w.f_invoice_id) = o.source_key END
  GROUP BY 1)
SELECT w.id AS work_item_id, w.source_key AS work_item_key, {kind} AS kind,
  p.id AS project_id, dim(p.legal_entity, w.legal_entity) AS legal_entity,
  dim(p.practice, w.practice) AS practice, dim(p.customer, w.customer) AS customer,
  w.currency, w.amount, coalesce(w.f_billable = 'true', false) AS billable,
  {status} AS status, wd.day AS work_date, t.logged_at, t.approved_at, t.last_approved_at,
  t.written_off_at, cu.invoice_id,
  CASE WHEN b.voided_at IS NULL THEN b.posted_at END AS billed_at
FROM wi w
LEFT JOIN proj p ON p.item_id = w.id
LEFT JOIN times t ON t.item_id = w.id
LEFT JOIN current cu ON cu.item_id = w.id
LEFT JOIN f_work_billing b ON b.work_item_id = w.id AND b.invoice_id = cu.invoice_id
LEFT JOIN date_map wd ON wd.fragment = w.f_work_date;
""".replace("{kind}", passthrough("w.f_kind")).replace("{status}", passthrough("w.f_status"))

# The values the sidebar filters offer (`filter_values.offered`).
FILTER_VALUES = """
CREATE TABLE f_case_dimensions AS
SELECT DISTINCT dimension, value FROM (
  SELECT 'legal_entity' AS dimension, legal_entity AS value FROM f_handoffs
  UNION ALL SELECT 'practice', practice FROM f_handoffs
  UNION ALL SELECT 'customer', customer FROM f_handoffs
  UNION ALL SELECT 'legal_entity', legal_entity FROM f_invoices
  UNION ALL SELECT 'practice', practice FROM f_invoices
  UNION ALL SELECT 'customer', customer FROM f_invoices
  UNION ALL SELECT 'legal_entity', legal_entity FROM f_work_items
  UNION ALL SELECT 'practice', practice FROM f_work_items
  UNION ALL SELECT 'customer', customer FROM f_work_items)
WHERE value <> '';
"""

# Dimensions of the objects sync attempts concern (`dims.object_dims`).
SYNC_DIMS = """
CREATE TABLE sdims AS
WITH objs AS (
  SELECT o.* FROM obj o WHERE o.id IN (SELECT object_id FROM att WHERE object_id IS NOT NULL)),
invoice_of AS (
  SELECT l.to_id AS pay_id, min(l.from_id) AS invoice_id
  FROM lk l JOIN objs o ON o.id = l.to_id AND o.type = 'payment'
  WHERE l.qualifier = 'settled_by' GROUP BY 1),
owners AS (
  SELECT o.id, o.type, coalesce(i.invoice_id, o.id) AS owner_id,
    CASE WHEN i.invoice_id IS NULL THEN o.legal_entity ELSE w.legal_entity END AS legal_entity,
    CASE WHEN i.invoice_id IS NULL THEN o.practice ELSE w.practice END AS practice,
    CASE WHEN i.invoice_id IS NULL THEN o.customer ELSE w.customer END AS customer
  FROM objs o LEFT JOIN invoice_of i ON i.pay_id = o.id LEFT JOIN obj w ON w.id = i.invoice_id),
project_of AS (
  SELECT from_id AS child, coalesce(min(to_id) FILTER (qualifier = 'part_of'),
                                    min(to_id) FILTER (qualifier = 'bills')) AS pid
  FROM lk WHERE qualifier IN ('part_of', 'bills')
    AND from_id IN (SELECT owner_id FROM owners) GROUP BY 1)
SELECT o.id AS object_id,
  CASE WHEN o.type IN ('deal', 'project') THEN o.legal_entity
       ELSE dim(p.legal_entity, o.legal_entity) END AS legal_entity,
  CASE WHEN o.type IN ('deal', 'project') THEN o.practice
       ELSE dim(p.practice, o.practice) END AS practice,
  CASE WHEN o.type IN ('deal', 'project') THEN o.customer
       ELSE dim(p.customer, o.customer) END AS customer
FROM owners o
LEFT JOIN project_of po ON po.child = o.owner_id
LEFT JOIN obj p ON p.id = po.pid AND p.type = 'project';

CREATE TABLE sat AS
SELECT a.*, CAST(a.started_at AS DATE) AS day,
  coalesce(nullif(a.trace_key, ''), a.source_key) AS record, a.status = 'failed' AS failed,
  a.attempt_number <= 1 AS first, d.object_id IS NOT NULL AS has_dims,
  d.legal_entity, d.practice, d.customer
FROM att a LEFT JOIN sdims d ON d.object_id = a.object_id;
"""

SYNC = """
CREATE TABLE f_sync_daily AS
SELECT day, integration, flow, coalesce(legal_entity, '') AS legal_entity,
  coalesce(practice, '') AS practice, coalesce(customer, '') AS customer,
  CASE WHEN failed THEN coalesce(nullif(error_class, ''), 'unknown') ELSE '' END AS error_class,
  CASE WHEN failed THEN coalesce(error_signature, '') ELSE '' END AS error_signature,
  count(*) AS attempts, count(*) FILTER (first) AS first_attempts,
  count(*) FILTER (first AND failed) AS failed_first_attempts,
  count(*) FILTER (NOT first) AS retries, count(*) FILTER (NOT first AND failed) AS failed_retries,
  count(*) FILTER (status = 'running') AS running
FROM sat GROUP BY ALL;

CREATE TABLE f_sync_failures AS
SELECT day, integration, flow, trace_key, error_class, error_signature,
  d.legal_entity, d.practice, d.customer, failures
FROM (
  SELECT day, integration, flow, record AS trace_key,
    coalesce(nullif(error_class, ''), 'unknown') AS error_class,
    coalesce(error_signature, '') AS error_signature, count(*) AS failures,
    arg_min_null({'legal_entity': legal_entity, 'practice': practice, 'customer': customer},
                 (started_at, attempt_number, source_key)) AS d
  FROM sat WHERE failed GROUP BY ALL);
"""

# One part of the sync traces: the groups of one share of the keys (`{part}`, a condition on
# `hash(integration, flow, record)`), so that the aggregation's memory grows with a part, not
# with the whole history; the runner creates the table with the first part and inserts the rest.
TRACES = """
WITH t AS (
  SELECT *, (started_at, attempt_number, source_key) AS k FROM sat
  WHERE trace_key IS NOT NULL AND {part}),
agg AS (
  SELECT integration, flow, record,
    arg_min_null(object_id, k) FILTER (object_id IS NOT NULL) AS object_id,
    arg_min_null({'legal_entity': legal_entity, 'practice': practice, 'customer': customer}, k)
      FILTER (has_dims) AS d,
    count(*) AS attempts, count(*) FILTER (failed) AS failures,
    min(started_at) AS first_attempt_at,
    arg_min_null(started_at, k) FILTER (failed) AS first_failed_at,
    arg_min_null(error_class, k) FILTER (failed) AS first_error_class,
    arg_min_null(error_signature, k) FILTER (failed) AS first_error_signature,
    max(started_at) AS latest_attempt_at,
    arg_max_null({'status': status, 'error_class': error_class, 'error_signature': error_signature},
                 k) AS latest
  FROM t GROUP BY ALL)
SELECT a.record AS trace_key, a.integration, a.flow, a.object_id, a.d.legal_entity,
  a.d.practice, a.d.customer, a.attempts, a.failures, a.first_attempt_at, a.first_failed_at,
  a.first_error_class, a.first_error_signature,
  (SELECT min(t.started_at) FROM t WHERE t.integration = a.integration AND t.flow = a.flow
     AND t.record = a.record AND t.status = 'success' AND t.started_at > a.first_failed_at)
    AS resolved_at,
  a.latest_attempt_at, a.latest.status AS latest_status,
  CASE WHEN a.latest.status = 'failed' THEN a.latest.error_class END AS latest_error_class,
  CASE WHEN a.latest.status = 'failed' THEN a.latest.error_signature END
    AS latest_error_signature
FROM agg a
"""
TRACE_PART_ROWS = 500_000  # sync attempts with a trace key per part of `TRACES`


def statements(script: str) -> list[str]:
    """The statements of a script (none of them contains a `;` in a literal)."""
    return [s.strip() for s in script.split(";") if s.strip()]
