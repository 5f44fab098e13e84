"""Versioned schema migrations (sqlite-utils `Migrations`). Never edit an applied one:
add `m00N_…` below it. An older database is upgraded in place when it is opened.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("wabridge")


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    """Inbox, leads, rules, rule runs, lead changes and the outbox."""
    db.executescript(
        """
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            session TEXT NOT NULL,
            chat TEXT NOT NULL,
            message_id TEXT NOT NULL,
            lead_phone TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            received_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',  -- pending | done | error
            processed_at TEXT,
            fired INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            UNIQUE (session, chat, message_id)
        );
        CREATE INDEX inbox_pending ON inbox (id) WHERE state = 'pending';
        CREATE INDEX inbox_lead ON inbox (lead_phone, id);

        CREATE TABLE leads (
            phone TEXT PRIMARY KEY,
            jid TEXT NOT NULL,
            name TEXT,
            status TEXT NOT NULL,
            priority TEXT,
            score REAL NOT NULL DEFAULT 0,
            source TEXT,
            notes TEXT,
            city TEXT,
            region TEXT,
            country TEXT,
            utm_source TEXT,
            utm_medium TEXT,
            utm_campaign TEXT,
            utm_term TEXT,
            utm_content TEXT,
            ctwa_clid TEXT,
            ad_source_id TEXT,
            ad_source_url TEXT,
            value_actual REAL,
            value_potential REAL,
            tags TEXT NOT NULL DEFAULT '[]',
            chat_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX leads_status ON leads (status);

        CREATE TABLE rules (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            enabled INTEGER NOT NULL DEFAULT 1,
            priority INTEGER NOT NULL DEFAULT 100,
            trigger TEXT NOT NULL,
            spec TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE rule_runs (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            rule_id INTEGER NOT NULL,
            rule_name TEXT NOT NULL,
            trigger TEXT NOT NULL,
            inbox_id INTEGER,
            lead_phone TEXT,
            fired INTEGER NOT NULL,
            error TEXT,
            notes TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX rule_runs_rule ON rule_runs (rule_id, id);
        CREATE INDEX rule_runs_lead ON rule_runs (lead_phone, id);

        CREATE TABLE lead_changes (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            lead_phone TEXT NOT NULL,
            inbox_id INTEGER,
            changes TEXT NOT NULL  -- {"field": [old, new], ...}
        );
        CREATE INDEX lead_changes_lead ON lead_changes (lead_phone, id);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                    -- webhook | reply
            idempotency_key TEXT NOT NULL UNIQUE,  -- stable across retries
            state TEXT NOT NULL DEFAULT 'pending', -- pending | delivered | failed | dead
            rule_id INTEGER,
            lead_phone TEXT,
            inbox_id INTEGER,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_status INTEGER,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
        """
    )
