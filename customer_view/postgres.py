"""The customer view in one statement on PostgreSQL: the database builds the JSON.

A view made of a dozen small queries spends most of its time on round trips; here
PostgreSQL assembles the same document (see `customer_view.service`) in one query, and
Python only adds what depends on the clock. The tests hold both ways to the same answer.
"""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

_NAME = (
    "COALESCE(NULLIF({t}.organisation_name, ''), NULLIF(concat_ws(' ', "
    "NULLIF({t}.first_name, ''), NULLIF({t}.last_name, '')), ''), '?')"
)
_ADDRESS = (
    "NULLIF(concat_ws(', ', NULLIF(concat_ws(' ', NULLIF(mp.street, ''), "
    "NULLIF(mp.house_number, '')), ''), NULLIF(concat_ws(' ', NULLIF(mp.postcode, ''), "
    "NULLIF(mp.city, '')), '')), '')"
)
_TS = "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
_TICKET = """json_build_object(
    'id', t.id, 'number', t.number, 'kind', t.kind, 'category', t.category,
    'priority', t.priority, 'status', t.status, 'subject', t.subject,
    'created_at', {created},
    'due', {due},
    'breaches', t.breaches)""".format(
    created=_TS.format(c="t.created_at"),
    due=_TS.format(
        c="CASE WHEN t.first_responded_at IS NULL THEN t.first_response_due "
        "ELSE t.resolution_due END"
    ),
)

VIEW = text(
    f"""
WITH p AS (SELECT * FROM partner WHERE id = :pid),
points AS (
    SELECT DISTINCT mp.* FROM partner_role r JOIN metering_point mp ON mp.id = r.metering_point_id
    WHERE r.partner_id = :pid
),
links AS (
    SELECT cmp.metering_point_id, c.number, c.kind, c.status, c.legal_entity,
           le.name AS entity_name
    FROM contract_metering_point cmp
    JOIN contract c ON c.id = cmp.contract_id
    JOIN legal_entity le ON le.code = c.legal_entity
    WHERE cmp.metering_point_id IN (SELECT id FROM points)
),
visible AS (
    SELECT pt.id, (:kind = 'dso' OR EXISTS (
        SELECT 1 FROM links l WHERE l.metering_point_id = pt.id AND l.kind = 'supply'
        AND l.legal_entity = :entity AND l.status = 'active')) AS grid
    FROM points pt
),
acts AS (
    SELECT a.id, a.channel, a.direction, a.occurred_at, a.subject, a.text,
           a.duration_seconds, a.state, a.ticket_id
    FROM activity a WHERE a.partner_id = :pid AND a.legal_entity = :entity
)
SELECT json_build_object(
  'partner', (SELECT json_build_object(
      'id', p.id, 'external_id', p.external_id, 'kind', p.kind,
      'display_name', {_NAME.format(t="p")},
      'first_name', p.first_name, 'last_name', p.last_name,
      'organisation_name', p.organisation_name, 'tax_number', p.tax_number,
      'registration_number', p.registration_number, 'segment', p.segment,
      'language', p.language, 'merged_into_id', p.merged_into_id) FROM p),
  'roles', COALESCE((SELECT json_agg(json_build_object(
      'role', r.role,
      'metering_point', CASE WHEN mp.id IS NULL THEN NULL
                        ELSE json_build_object('id', mp.id, 'eimm', mp.eimm) END,
      'contract', c.number,
      'for_partner', CASE WHEN o.id IS NULL THEN NULL ELSE json_build_object('id', o.id,
          'name', trim(COALESCE(o.organisation_name,
                  COALESCE(o.first_name, '') || ' ' || COALESCE(o.last_name, '')))) END,
      'valid_from', r.valid_from, 'valid_to', r.valid_to,
      'current', r.valid_to IS NULL OR r.valid_to >= CURRENT_DATE) ORDER BY r.role, r.id)
      FROM partner_role r
      LEFT JOIN metering_point mp ON mp.id = r.metering_point_id
      LEFT JOIN contract c ON c.id = r.contract_id
      LEFT JOIN partner o ON o.id = r.for_partner_id
      WHERE r.partner_id = :pid), '[]'::json),
  'acting_for_this_partner', COALESCE((SELECT json_agg(json_build_object(
      'role', r.role, 'partner', json_build_object('id', o.id,
          'name', trim(COALESCE(o.organisation_name,
                  COALESCE(o.first_name, '') || ' ' || COALESCE(o.last_name, '')))))
      ORDER BY r.id)
      FROM partner_role r JOIN partner o ON o.id = r.partner_id
      WHERE r.for_partner_id = :pid), '[]'::json),
  'contact_points', COALESCE((SELECT json_agg(json_build_object(
      'kind', cp.kind, 'value', cp.value, 'display', cp.display,
      'is_primary', cp.is_primary, 'valid_to', cp.valid_to)
      ORDER BY cp.kind, cp.is_primary DESC, cp.id)
      FROM contact_point cp WHERE cp.partner_id = :pid), '[]'::json),
  'metering_points', COALESCE((SELECT json_agg(json_build_object(
      'id', mp.id, 'eimm', mp.eimm, 'gsrn', mp.gsrn,
      'address', COALESCE({_ADDRESS}, ''),
      'dso_area', mp.dso_area, 'status', mp.status, 'tariff_model', mp.tariff_model,
      'supplier', (SELECT l.entity_name FROM links l WHERE l.metering_point_id = mp.id
                   AND l.kind = 'supply' AND l.status = 'active' ORDER BY l.number LIMIT 1),
      'contracts', COALESCE((SELECT json_agg(l.number ORDER BY l.number) FROM links l
                   WHERE l.metering_point_id = mp.id AND l.kind IN :kinds), '[]'::json),
      'grid_data_visible', v.grid,
      'connection_power_kw', CASE WHEN v.grid THEN mp.connection_power_kw END,
      'meters', CASE WHEN v.grid THEN COALESCE((SELECT json_agg(json_build_object(
                   'serial', d.serial, 'type', d.type, 'registers', d.registers,
                   'installed_on', d.installed_on, 'removed_on', d.removed_on,
                   'last_reading', d.last_reading, 'last_reading_on', d.last_reading_on)
                   ORDER BY d.id)
                   FROM meter_device d WHERE d.metering_point_id = mp.id), '[]'::json)
                 ELSE '[]'::json END) ORDER BY mp.eimm)
      FROM points mp JOIN visible v ON v.id = mp.id), '[]'::json),
  'contracts', COALESCE((SELECT json_agg(json_build_object(
      'number', c.number, 'kind', c.kind, 'legal_entity', c.legal_entity,
      'product', c.product, 'status', c.status, 'starts_on', c.starts_on,
      'ends_on', c.ends_on, 'source', c.source)
      ORDER BY c.starts_on DESC NULLS LAST, c.id)
      FROM contract c WHERE c.partner_id = :pid AND c.kind IN :kinds), '[]'::json),
  'offers', CASE WHEN :kind = 'supplier' THEN COALESCE((SELECT json_agg(json_build_object(
      'id', f.id, 'product', f.product, 'price_eur_kwh', f.price_eur_kwh,
      'status', f.status, 'valid_until', f.valid_until) ORDER BY f.id DESC)
      FROM offer f WHERE f.partner_id = :pid AND f.legal_entity = :entity), '[]'::json)
      ELSE '[]'::json END,
  'opportunities', CASE WHEN :kind = 'supplier' THEN COALESCE((SELECT json_agg(
      json_build_object('id', o.id, 'stage', o.stage,
                        'expected_value_eur', o.expected_value_eur) ORDER BY o.id DESC)
      FROM opportunity o WHERE o.partner_id = :pid AND o.legal_entity = :entity), '[]'::json)
      ELSE '[]'::json END,
  'tickets', json_build_object(
      'open', COALESCE((SELECT json_agg({_TICKET} ORDER BY t.created_at DESC) FROM ticket t
          WHERE t.partner_id = :pid AND t.legal_entity = :entity
          AND t.status IN ('new', 'open', 'pending_customer')), '[]'::json),
      'recent', COALESCE((SELECT json_agg({_TICKET} ORDER BY t.created_at DESC) FROM (
          SELECT * FROM ticket t WHERE t.partner_id = :pid AND t.legal_entity = :entity
          AND t.status NOT IN ('new', 'open', 'pending_customer')
          ORDER BY t.created_at DESC LIMIT :recent) t), '[]'::json)),
  'timeline', json_build_object(
      'total', (SELECT count(*) FROM acts),
      'items', COALESCE((SELECT json_agg(json_build_object(
          'id', a.id, 'channel', a.channel, 'direction', a.direction,
          'occurred_at', {_TS.format(c="a.occurred_at")}, 'subject', a.subject,
          'excerpt', substr(a.text, 1, :excerpt), 'duration_seconds', a.duration_seconds,
          'state', a.state,
          'ticket', CASE WHEN a.ticket_id IS NULL THEN NULL
                    ELSE json_build_object('id', a.ticket_id, 'number', t.number) END)
          ORDER BY a.occurred_at DESC, a.id DESC)
          FROM (SELECT * FROM acts WHERE (CAST(:before_id AS BIGINT) IS NULL
                OR (occurred_at, id) < (CAST(:before_at AS TIMESTAMPTZ), :before_id))
                ORDER BY occurred_at DESC, id DESC LIMIT :page) a
          LEFT JOIN ticket t ON t.id = a.ticket_id), '[]'::json)),
  'documents', COALESCE((SELECT json_agg(json_build_object(
      'id', d.id, 'filename', d.filename, 'content_type', d.content_type, 'size', d.size,
      'kind', d.kind, 'channel', d.channel,
      'created_at', {_TS.format(c="d.created_at")}) ORDER BY d.created_at DESC, d.id DESC)
      FROM (SELECT doc.*, a.channel FROM document doc JOIN acts a ON a.id = doc.activity_id
            ORDER BY doc.created_at DESC, doc.id DESC LIMIT :documents) d), '[]'::json)
)::text
FROM p
"""
).bindparams(bindparam("kinds", expanding=True))


async def fetch_view(
    db: AsyncSession,
    partner_id: int,
    *,
    entity: str,
    kind: str,
    kinds: tuple[str, ...],
    before: tuple[datetime, int] | None,
    page: int,
    recent: int,
    documents: int,
    excerpt: int,
) -> dict[str, Any] | None:
    """Return the raw view document of one partner, or None when there is no such partner."""
    found = await db.scalar(
        VIEW,
        {
            "pid": partner_id,
            "entity": entity,
            "kind": kind,
            "kinds": list(kinds) or ["-"],
            "before_at": before[0] if before else None,
            "before_id": before[1] if before else None,
            "page": page,
            "recent": recent,
            "documents": documents,
            "excerpt": excerpt,
        },
    )
    return json.loads(found) if found is not None else None
