"""The daemon: the composition root (`app.Daemon`), session supervision, background tasks,
read-side queries, metrics, systemd notify and the API token file.

`sessions.py` is the control interface the HTTP layer and the features use (SessionControl,
session states and views, their errors); everything else here is the daemon's own.
"""
