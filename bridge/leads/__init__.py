"""Leads people and other systems change (issue #13): phones as people type them, CSV
imports, and the desk that commits a change as an event and waits until it is applied."""
