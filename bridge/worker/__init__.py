"""Session workers: one OS process per WhatsApp admin number.

neonize 0.5.2 can abort or wedge the whole Python process (neonize-notes §7), so the
daemon never imports it. The supervisor starts one worker per admin number:

    python -m bridge.worker --kind neonize|sim --phone 6281100000001 \\
        --session-db /abs/path/data/sessions/6281100000001.sqlite3 [--log-level INFO]

and speaks `bridge.protocol` (v1) with it: daemon -> worker on the worker's stdin,
worker -> daemon on its stdout. stderr carries the worker's own logs as structlog JSON
lines. `bridge.worker.neonize_worker` (lifecycle, commands) and `bridge.worker.neonize_events`
(its event handlers) are the only modules of the project that import neonize;
`bridge.worker.sim_worker` is a simulator speaking the same protocol.

Exit codes (`bridge.protocol.ExitCode`):

====  =====================================================================
   0  clean stop: `stop` frame, stdin EOF (the daemon is gone) or SIGTERM
   1  unexpected internal error in the worker (reported as FAILED crashed)
   2  bad command-line arguments (nothing is started; do not restart)
   3  wrong number: a phone other than --phone was linked; it was logged out
   4  logged out: the device was unlinked (from the phone, the server or a
      `logout` command); the session file is kept but useless (a `logout`
      that could not reach the server deletes it instead, so no credentials
      survive); report LOGGED_OUT and do not restart
   5  stream replaced: the same session connected elsewhere; do not auto-restart
   6  temporary ban or client outdated; do not restart quickly
  75  EX_TEMPFAIL: the connection failed (e.g. no network, reported as
      DISCONNECTED network/connect_failure); restart with backoff in a FRESH
      process (neonize leaks a DB handle per connect(), notes §7)
 134  Go runtime abort (a real neonize crash is seen by Popen as -6 / SIGABRT;
      the simulator's `sim_crash` exits with 134)
====  =====================================================================

Environment knobs (all optional):
- WABRIDGE_WORKER_PROXY: proxy URL for the neonize connection
  (``socks5://host:port`` or ``http://host:port``); tests point it at a closed or
  silent loopback port so no test ever reaches the network.
- WABRIDGE_SIM_QR_SECONDS: simulator QR lifetimes "first,next" (default "60,20").
- NEONIZE_BOT_TAG: defaults to "off" in the neonize worker, so replies are sent as
  ordinary messages rather than tagged as bot messages (notes §3).
"""

from bridge.protocol import ExitCode

__all__ = ["ExitCode"]
