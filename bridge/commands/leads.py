"""`wabridge leads export|create|set|import|delete`: export leads; change them (lead_changes.py)."""

from __future__ import annotations

import argparse
import csv
import json
from typing import TextIO

from bridge.commands import lead_changes
from bridge.commands.common import Context, write_output
from bridge.csv_cells import csv_cell
from store.leads import LEAD_COLUMNS, LeadQuery, iter_leads


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    """Write leads to stdout (or --output) in the lead export format."""
    filters = {k: v for k, v in (("status", args.status), ("source", args.source),
                                 ("utm_campaign", args.campaign), ("tag", args.tag)) if v}

    def write(handle: TextIO) -> int:
        count = 0
        if args.format == "csv":
            writer = csv.DictWriter(handle, fieldnames=list(LEAD_COLUMNS))
            writer.writeheader()
            for lead in iter_leads(ctx.db, LeadQuery(filters)):
                row = lead.to_dict()
                row["tags"] = ",".join(row["tags"])
                writer.writerow({k: "" if v is None else csv_cell(v) for k, v in row.items()})
                count += 1
        else:
            for lead in iter_leads(ctx.db, LeadQuery(filters)):
                handle.write(json.dumps(lead.to_dict(), ensure_ascii=False) + "\n")
                count += 1
        return count

    return write_output(args.output, write, "lead(s)")


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register `leads`."""
    leads = sub.add_parser("leads", help="export, create, change, import and delete leads")
    lsub = leads.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = lsub.add_parser("export", parents=[common], help="every lead as JSON Lines (default) or CSV")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--status", help="only leads in this status")
    p.add_argument("--source", help="only leads from this source")
    p.add_argument("--campaign", help="only leads with this utm_campaign")
    p.add_argument("--tag", help="only leads with this tag")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)
    lead_changes.add_parsers(lsub, common)
