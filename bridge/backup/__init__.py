"""Backups: `wabridge backup`/`restore` (snapshot.py), the data dir's lock (lock.py) and
continuous replication with Litestream beside the daemon (litestream.py)."""
