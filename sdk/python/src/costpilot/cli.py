"""``costpilot``: log in with a personal API token, read spend, forecasts and alerts, push events.

Exit codes: 0 ok, 1 an error (or rejected events on push), 2 ``status`` found an open spike.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Callable

import httpx

from costpilot._version import __version__
from costpilot.api import Api, ApiError
from costpilot.client import DEFAULT_URL, MAX_BATCH, PUSH_PATH

OPEN_SPIKE_EXIT = 2


def config_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or str(Path.home()), ".config")
    return Path(base) / "costpilot" / "config.json"


def load_config(env: Mapping[str, str]) -> dict[str, Any]:
    path = config_path(env)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_config(env: Mapping[str, str], config: Mapping[str, Any]) -> Path:
    """Writes the config readable by its owner only (0600; its folder 0700)."""
    path = config_path(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dict(config), f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


# --- output -----------------------------------------------------------------------------------


def _is_money(value: str) -> bool:
    try:
        Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return False
    return True


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[str] = ()) -> str:
    """A plain text table; columns named in ``right`` (money, counts) are right-aligned."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    align_right = {i for i, h in enumerate(headers) if h in set(right)}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in align_right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]  # type: ignore[arg-type]
    return "\n".join(out)


def _money(value: Any) -> str:
    """Two decimals at least, all the exact digits kept (0.000345 stays 0.000345)."""
    if value is None:
        return ""
    amount = Decimal(str(value))
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return f"{amount:,f}"


def align_points(amounts: Sequence[str]) -> list[str]:
    """Pads amounts on the right so that, right-aligned, their decimal points line up."""
    decimals = [len(a.partition(".")[2]) if "." in a else -1 for a in amounts]
    widest = max(decimals, default=0)
    return [a + " " * (widest - d) if d >= 0 else a + " " * (widest + 1) for a, d in zip(amounts, decimals)]


# --- commands ---------------------------------------------------------------------------------


class Context:
    def __init__(self, args: argparse.Namespace, env: Mapping[str, str], out: IO[str], err: IO[str],
                 transport: httpx.BaseTransport | None) -> None:
        self.args, self.env, self.out, self.err, self.transport = args, env, out, err, transport
        self.config = load_config(env)

    @property
    def url(self) -> str:
        return self.args.url or self.env.get("COSTPILOT_URL") or self.config.get("url") or DEFAULT_URL

    def api(self) -> Api:
        token = self.env.get("COSTPILOT_TOKEN") or self.config.get("token")
        if not token:
            raise SystemExit("not logged in: run `costpilot login` (or set COSTPILOT_TOKEN)")
        return Api(token, self.url, transport=self.transport)

    def workspace(self, api: Api) -> str:
        chosen = self.args.workspace or self.env.get("COSTPILOT_WORKSPACE") or self.config.get("workspace_id")
        if chosen:
            return chosen
        workspaces = api.me().get("workspaces", [])
        if not workspaces:
            raise SystemExit("this account has no workspace")
        return workspaces[0]["workspace_id"]

    def print(self, text: str) -> None:
        self.out.write(text + "\n")


def cmd_login(ctx: Context) -> int:
    token = ctx.args.token or ctx.env.get("COSTPILOT_TOKEN") or getpass.getpass("Personal API token (cpat_...): ")
    token = token.strip()
    me = Api(token, ctx.url, transport=ctx.transport).me()
    workspaces = me.get("workspaces", [])
    workspace = ctx.args.workspace or (workspaces[0]["workspace_id"] if workspaces else None)
    path = save_config(ctx.env, {"url": ctx.url, "token": token, "workspace_id": workspace})
    ctx.print(f"Logged in as {me.get('email')} at {ctx.url} (workspace {workspace}); token saved to {path}")
    return 0


def cmd_spend(ctx: Context) -> int:
    api = ctx.api()
    a = ctx.args
    result = api.usage(ctx.workspace(api), from_=a.from_, to=a.to, group_by=a.group_by, granularity=a.granularity)
    dims = [d for d in (a.group_by or "").split(",") if d]
    if a.format == "json" or a.json:
        ctx.print(json.dumps(result, indent=2))
        return 0
    rows = [[p["period"], *[p["group"].get(d) or "" for d in dims], p["spend"], p.get("currency", "")]
            for p in result.get("series", [])]
    if a.format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["period", *dims, "spend", "currency"])
        writer.writerows(rows)
        ctx.out.write(buf.getvalue())
        return 0
    body = [[r[0], *r[1:-2], _money(r[-2]), r[-1]] for r in rows]
    for total in result.get("totals", []):
        body.append(["total", *[""] * len(dims), _money(total["spend"]), total["currency"]])
    for row, amount in zip(body, align_points([row[-2] for row in body])):
        row[-2] = amount
    ctx.print(table(["period", *dims, "spend", "currency"], body, right=["spend"]))
    return 0


def cmd_forecast(ctx: Context) -> int:
    api = ctx.api()
    result = api.forecast(ctx.workspace(api), budget=ctx.args.budget, horizon=ctx.args.horizon)
    if ctx.args.json:
        ctx.print(json.dumps(result, indent=2))
        return 0
    end = result.get("period_end")
    if not end:
        ctx.print(result.get("message") or "no forecast yet")
        return 0
    period = result.get("period", {})
    rows = [["spent so far", _money(end["spent_so_far"])], ["projected", _money(end["projected"])],
            ["80% interval", f"{_money(end['lower'])} - {_money(end['upper'])}"]]
    if end.get("budget"):
        rows.append(["budget", _money(end["budget"])])
        if end.get("probability_over_budget") is not None:
            rows.append(["chance over budget", f"{end['probability_over_budget'] * 100:.0f}%"])
    ctx.print(f"Forecast for the {period.get('kind', 'period')} {period.get('start', '')}..{period.get('end', '')}"
              f" ({result.get('currency', 'USD')}), risk: {result.get('risk')}")
    ctx.print(table(["", "amount"], rows, right=["amount"]))
    return 0


def cmd_alerts(ctx: Context) -> int:
    api = ctx.api()
    alerts = api.alerts(ctx.workspace(api)).get("alerts", [])
    if ctx.args.json:
        ctx.print(json.dumps(alerts, indent=2))
        return 0
    rows = [[a.get("name"), a.get("kind"), a.get("status"), _money(a.get("amount")) if a.get("amount") else "",
             a.get("alert_id")] for a in alerts]
    ctx.print(table(["name", "kind", "status", "amount", "id"], rows, right=["amount"]))
    return 0


def open_spikes(history: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Spike firings nobody acknowledged yet (test notifications aside)."""
    return [f for f in history.get("firings", [])
            if f.get("kind") == "spike" and f.get("status") == "open" and not f.get("test")]


def cmd_status(ctx: Context) -> int:
    api = ctx.api()
    spikes = open_spikes(api.alert_history(ctx.workspace(api), limit=100))
    if ctx.args.json:
        ctx.print(json.dumps({"open_spikes": spikes}, indent=2))
    elif spikes:
        rows = [[f.get("fired_at"), f.get("alert_name"), f.get("headline"), _money(f.get("figure"))] for f in spikes]
        ctx.print(f"{len(spikes)} open spike(s):")
        ctx.print(table(["fired at", "alert", "what", "amount"], rows, right=["amount"]))
    else:
        ctx.print("No open spikes.")
    return OPEN_SPIKE_EXIT if spikes else 0


def _progress(err: IO[str], done: int, total: int) -> None:
    if not getattr(err, "isatty", lambda: False)():
        return
    width = 30
    filled = width * done // max(total, 1)
    err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        err.write("\n")
    err.flush()


def cmd_push(ctx: Context) -> int:
    key = ctx.args.ingest_key or ctx.env.get("COSTPILOT_INGEST_KEY")
    if not key:
        raise SystemExit("push needs an ingest key: --ingest-key or COSTPILOT_INGEST_KEY")
    lines: list[tuple[int, str]] = []
    source = sys.stdin if ctx.args.file == "-" else open(ctx.args.file, encoding="utf-8")  # noqa: SIM115
    with source:
        for number, line in enumerate(source, 1):
            if line.strip():
                lines.append((number, line.strip()))
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    problems: list[str] = []
    with httpx.Client(base_url=ctx.url, transport=ctx.transport, timeout=60, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as http:
        for start in range(0, len(lines), MAX_BATCH):
            chunk = lines[start:start + MAX_BATCH]
            events, numbers = [], []
            for number, line in chunk:
                try:
                    events.append(json.loads(line))
                    numbers.append(number)
                except ValueError:
                    counts["rejected"] += 1
                    problems.append(f"line {number}: not valid JSON")
            if events:
                response = http.post(PUSH_PATH, content=json.dumps({"events": events}))
                payload = response.json() if response.headers.get("content-type", "").startswith(
                    "application/json") else {}
                if "events" not in payload:
                    message = (payload.get("error") or {}).get("message") or response.text[:200]
                    raise SystemExit(f"push failed at line {numbers[0]}: HTTP {response.status_code} {message}")
                for outcome in payload["events"]:
                    counts[outcome["status"]] += 1
                    if outcome["status"] == "rejected":
                        problems.append(f"line {numbers[outcome['index']]}: {outcome.get('reason')}")
            _progress(ctx.err, start + len(chunk), len(lines))
    if ctx.args.json:
        ctx.print(json.dumps({"summary": counts, "problems": problems}, indent=2))
    else:
        ctx.print(table(["accepted", "duplicate", "rejected"],
                        [[counts["accepted"], counts["duplicate"], counts["rejected"]]],
                        right=["accepted", "duplicate", "rejected"]))
        for problem in problems[:20]:
            ctx.print(problem)
        if len(problems) > 20:
            ctx.print(f"... and {len(problems) - 20} more")
    return 1 if counts["rejected"] else 0


def parser() -> argparse.ArgumentParser:
    def shared(parser: argparse.ArgumentParser, default: Any) -> argparse.ArgumentParser:
        parser.add_argument("--url", default=default, help=f"API base URL (COSTPILOT_URL; default {DEFAULT_URL})")
        parser.add_argument("--workspace", default=default,
                            help="workspace id (default: the logged-in one, else your first)")
        parser.add_argument("--json", action="store_true", default=default or False, help="machine-readable output")
        return parser

    # the shared options work before or after the command (costpilot --json spend / costpilot spend --json)
    common = shared(argparse.ArgumentParser(add_help=False), argparse.SUPPRESS)
    p = shared(argparse.ArgumentParser(prog="costpilot", description="CostPilot from the shell."), None)
    p.add_argument("--version", action="version", version=f"costpilot {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    real_add = sub.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return real_add(name, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    login = sub.add_parser("login", help="store a personal API token (create one in the API: POST /api/me/tokens)")
    login.add_argument("--token", help="the token (prompted for if not given)")
    login.set_defaults(run=cmd_login)
    spend = sub.add_parser("spend", help="spend by period and group")
    spend.add_argument("--from", dest="from_", help="first UTC day, YYYY-MM-DD")
    spend.add_argument("--to", help="last UTC day, YYYY-MM-DD")
    spend.add_argument("--group-by", help="comma-separated: provider, model, project, feature, customer")
    spend.add_argument("--granularity", choices=["day", "week", "month"], default="day")
    spend.add_argument("--format", choices=["table", "csv", "json"], default="table")
    spend.set_defaults(run=cmd_spend)
    forecast = sub.add_parser("forecast", help="the period-end projection")
    forecast.add_argument("--budget", help="a budget to compare with")
    forecast.add_argument("--horizon", type=int, default=None)
    forecast.set_defaults(run=cmd_forecast)
    alerts = sub.add_parser("alerts", help="alert rules")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    alerts_sub.add_parser("list", help="list alert rules", parents=[common]).set_defaults(run=cmd_alerts)
    push = sub.add_parser("push", help="push usage events from a JSON Lines file ('-' for stdin)")
    push.add_argument("file")
    push.add_argument("--ingest-key", help="ingest key (COSTPILOT_INGEST_KEY)")
    push.set_defaults(run=cmd_push)
    status = sub.add_parser("status", help=f"open spikes now (exit code {OPEN_SPIKE_EXIT} if any)")
    status.set_defaults(run=cmd_status)
    return p


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None, out: IO[str] | None = None,
         err: IO[str] | None = None, transport: httpx.BaseTransport | None = None) -> int:
    args = parser().parse_args(argv)
    ctx = Context(args, os.environ if env is None else env, out or sys.stdout, err or sys.stderr, transport)
    run: Callable[[Context], int] = args.run
    try:
        return run(ctx)
    except ApiError as e:
        ctx.err.write(f"costpilot: {e.message} ({e.status} {e.code})\n")
        return 1
    except httpx.HTTPError as e:
        ctx.err.write(f"costpilot: cannot reach {ctx.url}: {e}\n")
        return 1
    except SystemExit as e:
        if isinstance(e.code, str):
            ctx.err.write(f"costpilot: {e.code}\n")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
