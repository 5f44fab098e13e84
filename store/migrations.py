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


@MIGRATIONS()
def m004_attribution(db: Database) -> None:
    """Rotator visitors and clicks, the identity-upgrade log, partner channels, lead click ids."""
    db.executescript(
        """
        ALTER TABLE leads ADD COLUMN fbclid TEXT;
        ALTER TABLE leads ADD COLUMN gclid TEXT;

        CREATE TABLE visitors (
            code TEXT PRIMARY KEY,                  -- K-XXXX
            workspace TEXT NOT NULL,
            rotator TEXT NOT NULL,
            number TEXT NOT NULL,                   -- the admin number the click was sent to
            state TEXT NOT NULL DEFAULT 'waiting',  -- waiting | upgraded | expired
            source TEXT,
            utm_source TEXT,
            utm_medium TEXT,
            utm_campaign TEXT,
            utm_term TEXT,
            utm_content TEXT,
            fbclid TEXT,
            gclid TEXT,
            referrer TEXT,
            landed_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            lead_phone TEXT,
            inbox_id INTEGER,
            upgraded_at TEXT
        );
        CREATE INDEX visitors_waiting ON visitors (expires_at) WHERE state = 'waiting';
        CREATE INDEX visitors_number ON visitors (rotator, number, state);

        CREATE TABLE rotator_clicks (
            rotator TEXT NOT NULL,
            number TEXT NOT NULL,
            day TEXT NOT NULL,                      -- UTC date
            clicks INTEGER NOT NULL DEFAULT 0,      -- redirects to this number (bots included)
            bots INTEGER NOT NULL DEFAULT 0,        -- of which bot-like user agents
            PRIMARY KEY (rotator, number, day)
        );

        CREATE TABLE attribution_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            code TEXT NOT NULL,
            outcome TEXT NOT NULL,                  -- upgraded | ignored
            reason TEXT,                            -- why ignored (engine.attribution)
            inbox_id INTEGER,
            lead_phone TEXT,
            detail TEXT
        );
        CREATE INDEX attribution_log_code ON attribution_log (code, id);

        CREATE TABLE partner_channels (
            source TEXT NOT NULL,
            channel TEXT NOT NULL,
            verified_at TEXT,                       -- last successful GET verification handshake
            last_signed_at TEXT,                    -- last request whose signature/secret was right
            requests INTEGER NOT NULL DEFAULT 0,
            messages INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, channel)
        );
        """
    )


@MIGRATIONS()
def m002_outbox_delivery(db: Database) -> None:
    """Outbox delivery state: lane, lease, retry window, dead-letter snippet, delivery time."""
    db.executescript(
        """
        ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT '';  -- delivery lane
        ALTER TABLE outbox ADD COLUMN lease_until TEXT;        -- claimed by the delivery loop until
        ALTER TABLE outbox ADD COLUMN sending_since TEXT;      -- replies: handed to the worker at
        ALTER TABLE outbox ADD COLUMN retry_since TEXT;        -- start of the give-up window
        ALTER TABLE outbox ADD COLUMN delivered_at TEXT;
        ALTER TABLE outbox ADD COLUMN response_snippet TEXT;   -- size-capped, for the dead letter
        ALTER TABLE outbox ADD COLUMN external_id TEXT;        -- e.g. the WhatsApp message id of a reply
        UPDATE outbox SET retry_since = created_at;
        UPDATE outbox SET target = CASE
            WHEN kind = 'reply' THEN 'reply:' || COALESCE(json_extract(payload, '$.session'), '')
            WHEN json_extract(payload, '$.endpoint') IS NOT NULL
                THEN 'endpoint:' || json_extract(payload, '$.endpoint')
            ELSE 'url:' || COALESCE(json_extract(payload, '$.url'), '')
        END;
        CREATE INDEX outbox_lead ON outbox (lead_phone, kind, created_at);
        CREATE INDEX outbox_target ON outbox (target, state);
        """
    )


@MIGRATIONS()
def m003_events(db: Database) -> None:
    """Events and voucher campaigns, their codes, check-ins and check-in attempts."""
    db.executescript(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            number TEXT NOT NULL,                   -- the admin number attendees write to
            mode TEXT NOT NULL,                     -- ticket | open | voucher
            starts_at TEXT NOT NULL,                -- ISO 8601 with offset; start included
            ends_at TEXT NOT NULL,                  -- end excluded
            max_uses INTEGER NOT NULL DEFAULT 1,    -- voucher uses per code
            prefix TEXT NOT NULL UNIQUE,            -- first part of every code: EVT7-…
            keyword TEXT NOT NULL,                  -- CHECKIN / REDEEM, pre-filled by the QR
            tag TEXT,                               -- added to the lead on check-in
            status TEXT,                            -- lead status set on check-in
            capacity INTEGER,                       -- expected attendance of an open event
            texts TEXT NOT NULL DEFAULT '{}',       -- custom reply texts by kind
            created_at TEXT NOT NULL
        );

        CREATE TABLE event_codes (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            code TEXT NOT NULL UNIQUE,              -- compact, upper case, check character last
            name TEXT,
            phone TEXT,
            email TEXT,
            max_uses INTEGER,                       -- NULL: unlimited (an open event's shared code)
            created_at TEXT NOT NULL
        );
        CREATE INDEX event_codes_event ON event_codes (event_id, id);

        -- One row per check-in. The UNIQUE keys are the exactly-once guard, also across
        -- processes: a code's use slot (ticket: 1; voucher: 1..max_uses) and, in open
        -- events, the phone. Undo clears both keys, so the slot can be used again.
        CREATE TABLE checkins (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
            code_id INTEGER NOT NULL REFERENCES event_codes (id) ON DELETE CASCADE,
            slot INTEGER,
            phone_key TEXT,
            phone TEXT,
            name TEXT,
            at TEXT NOT NULL,                       -- when it counts (the message's time), UTC
            recorded_at TEXT NOT NULL,
            source TEXT NOT NULL,                   -- whatsapp | manual
            inbox_id INTEGER,
            undone_at TEXT,
            UNIQUE (code_id, slot),
            UNIQUE (event_id, phone_key)
        );
        CREATE INDEX checkins_event ON checkins (event_id, id);
        CREATE INDEX checkins_phone ON checkins (phone);

        CREATE TABLE checkin_attempts (
            id INTEGER PRIMARY KEY,
            event_id INTEGER REFERENCES events (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            phone TEXT,
            code TEXT,
            result TEXT NOT NULL,                   -- engine.attendance.Result
            inbox_id INTEGER,
            replied INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX checkin_attempts_event ON checkin_attempts (event_id, result);
        CREATE INDEX checkin_attempts_phone ON checkin_attempts (phone, at);
        """
    )


@MIGRATIONS()
def m005_history_by_message(db: Database) -> None:
    """Rule runs and lead changes found through their message, not a per-lead index.

    A (lead_phone, id) index takes its inserts all over the B-tree (one random page per
    sender), so every batch rewrote most of it; inbox ids only grow, so an index on
    inbox_id takes its inserts at the end. The few rows without a message (edits by hand,
    lead events) keep a small partial index by lead.
    """
    db.executescript(
        """
        DROP INDEX rule_runs_lead;
        DROP INDEX lead_changes_lead;
        CREATE INDEX rule_runs_inbox ON rule_runs (inbox_id);
        CREATE INDEX rule_runs_lead_direct ON rule_runs (lead_phone, id) WHERE inbox_id IS NULL;
        CREATE INDEX lead_changes_inbox ON lead_changes (inbox_id);
        CREATE INDEX lead_changes_lead_direct ON lead_changes (lead_phone, id) WHERE inbox_id IS NULL;
        """
    )


@MIGRATIONS()
def m006_lead_aliases(db: Database) -> None:
    """Business-scoped user ids (Cloud API usernames) that belong to a phone's lead.

    Recorded when a message carries both; a later message with only the id then lands on
    the phone's lead (store/identities.py).
    """
    db.executescript(
        """
        CREATE TABLE lead_aliases (
            alias TEXT PRIMARY KEY,
            phone TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS()
def m007_lead_events(db: Database) -> None:
    """Changes people and systems make to leads are inbox rows too (issue #13).

    `kind` tells a message from a change (`change`): one ordered stream, so a change and a
    message for the same lead apply in arrival order under the same guarantees.
    `lead_changes.changed_by` says who made a change: message, rule:<names>, dashboard,
    api, import or cli.
    """
    db.executescript(
        """
        ALTER TABLE inbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
        ALTER TABLE lead_changes ADD COLUMN changed_by TEXT;
        """
    )


@MIGRATIONS()
def m008_history_sync(db: Database) -> None:
    """The phone's history sync per admin number: messages and chats stored so far (store/history_sync.py)."""
    db.executescript(
        """
        CREATE TABLE history_sync (
            session TEXT PRIMARY KEY,
            messages INTEGER NOT NULL DEFAULT 0,
            chats INTEGER NOT NULL DEFAULT 0,
            too_old INTEGER NOT NULL DEFAULT 0,
            sync_type TEXT,
            progress INTEGER,
            updated_at TEXT
        );
        CREATE TABLE history_chats (
            session TEXT NOT NULL,
            chat TEXT NOT NULL,
            PRIMARY KEY (session, chat)
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m009_talkback(db: Database) -> None:
    """Messages sent by people (API, CLI, a lead's page) and event webhook subscriptions.

    `priority`: a person's message (1) is claimed before automatic replies (0) of the same
    number's lane. `external_id` is indexed so an echo of a message the bridge sent (same
    WhatsApp id) is recognised after a restart. Idempotency keys of POST /api/messages live
    24 h; subscriptions made on the dashboard live here (config.toml ones are read-only).
    """
    db.executescript(
        """
        ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX outbox_external ON outbox (external_id) WHERE external_id IS NOT NULL;

        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,              -- SHA-256 of the request it answered
            outbox_id INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );

        CREATE TABLE subscriptions (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            secret TEXT,
            events TEXT NOT NULL,                   -- JSON list of event types
            numbers TEXT,                           -- JSON list of admin numbers, NULL = all
            created_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS()
def m010_no_rule_run_index_by_rule(db: Database) -> None:
    """Drop the index of rule runs by rule: nothing reads rule runs by rule (the lead page and
    Activity go by message, lead or error), and a heavy rule set writes eight runs a message,
    each one an entry in that index too (scripts/bench.py: ~8% of a heavy replay)."""
    db.executescript("DROP INDEX IF EXISTS rule_runs_rule;")
