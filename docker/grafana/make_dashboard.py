#!/usr/bin/env python3
"""Writes docker/grafana/sallyport-dashboard.json (Grafana 10+, Prometheus data source).

The dashboard is generated so that every panel has the same shape, ids and grid positions stay
consistent, and tests/ship/test_observability.py can check that the committed JSON is this
script's output. Run it after editing a panel:  python3 docker/grafana/make_dashboard.py
"""
import json
import os
import sys

# Scrape labels from Kubernetes service discovery; "All" matches series without them too.
SEL = 'namespace=~"$namespace", pod=~"$pod"'
DS = {"type": "prometheus", "uid": "${datasource}"}


def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(kind, title, exprs, unit="short", width=8, description="", stack=False):
    """exprs: list of (expr, legend). kind: timeseries | stat | table | bargauge."""
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(exprs)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "_width": width,
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    elif kind == "table":
        for t in p["targets"]:
            t["format"] = "table"
            t["instant"] = True
    elif kind == "bargauge":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "orientation": "horizontal", "displayMode": "gradient"}
    return p


def rate(family, by, extra=""):
    inner = f"{family}{{{SEL}{extra}}}"
    return f"sum by ({by}) (rate({inner}[$__rate_interval]))"


def quantiles(family, by=""):
    group = f"{by}, le" if by else "le"
    return [(f"histogram_quantile({q}, sum by ({group}) (rate({family}_bucket{{{SEL}}}[$__rate_interval])))",
             f"p{int(q * 100)}" + (f" {{{{{by}}}}}" if by else "")) for q in (0.5, 0.9, 0.99)]


ROWS = [
    ("Overview", [
        panel("stat", "Sidecars up", [(f"count(sallyport_build_info{{{SEL}}})", "")], width=4),
        panel("table", "Versions", [(f"sum by (namespace, pod, version) (sallyport_build_info{{{SEL}}})", "")],
              width=8),
        panel("timeseries", "Resident memory", [(f"sallyport_process_resident_memory_bytes{{{SEL}}}",
                                                 "{{namespace}}/{{pod}}")], unit="bytes", width=6,
              description="Target: under 64 MB with the full OISD list loaded."),
        panel("timeseries", "Open file descriptors", [(f"sallyport_process_open_fds{{{SEL}}}",
                                                       "{{namespace}}/{{pod}}")], width=6),
        panel("timeseries", "Uptime", [(f"time() - sallyport_process_start_time_seconds{{{SEL}}}",
                                        "{{namespace}}/{{pod}}")], unit="s", width=8),
        panel("timeseries", "Admin API requests", [(rate("sallyport_admin_requests_total", "route, code"),
                                                    "{{route}} {{code}}")], unit="reqps", width=8),
        panel("timeseries", "Config reloads (SIGHUP)", [(f"sum by (result) (increase(sallyport_config_reloads_total{{{SEL}}}[$__range]))",
                                                         "{{result}}")], width=8),
    ]),
    ("Egress proxy", [
        panel("timeseries", "Decisions by reason",
              [(rate("sallyport_egress_decisions_total", "decision, reason"), "{{decision}} {{reason}}")],
              unit="reqps", width=12, stack=True,
              description="allow / deny / would_deny (report mode) with the fixed reason set (blocklist:*, tld:high-risk, ip:metadata, ...)."),
        panel("bargauge", "Top deny reasons (range)",
              [(f'topk(10, sum by (reason) (increase(sallyport_egress_decisions_total{{{SEL}, decision=~"deny|would_deny"}}[$__range])))',
                "{{reason}}")], width=12),
        panel("timeseries", "Requests by method", [(rate("sallyport_egress_requests_total", "method"), "{{method}}")],
              unit="reqps", width=8),
        panel("timeseries", "Bytes relayed", [(rate("sallyport_egress_bytes_total", "direction"), "{{direction}}")],
              unit="Bps", width=8),
        panel("timeseries", "Open client connections", [(f"sum by (namespace, pod) (sallyport_egress_connections_active{{{SEL}}})",
                                                         "{{namespace}}/{{pod}}")], width=8),
        panel("timeseries", "Upstream connect latency", quantiles("sallyport_egress_upstream_connect_seconds"),
              unit="s", width=12),
        panel("timeseries", "Proxy errors by kind", [(rate("sallyport_egress_errors_total", "kind"), "{{kind}}")],
              unit="reqps", width=12),
    ]),
    ("Inference gateway", [
        panel("timeseries", "Requests by route, provider, status",
              [(rate("sallyport_gateway_requests_total", "route, provider, status"), "{{route}} {{provider}} {{status}}")],
              unit="reqps", width=12),
        panel("timeseries", "Upstream latency (to response header)", quantiles("sallyport_gateway_upstream_seconds"),
              unit="s", width=12),
        panel("timeseries", "Upstream errors by provider and kind",
              [(rate("sallyport_gateway_upstream_errors_total", "provider, kind"), "{{provider}} {{kind}}")],
              unit="reqps", width=8),
        panel("timeseries", "In flight", [(f"sum by (namespace, pod) (sallyport_gateway_in_flight{{{SEL}}})",
                                           "{{namespace}}/{{pod}}")], width=8),
        panel("timeseries", "Answers charged at the reservation (usage unreadable)",
              [(rate("sallyport_uncharged_responses_total", "namespace, pod"), "{{namespace}}/{{pod}}")],
              unit="reqps", width=8),
        panel("timeseries", "Tokens by model and direction",
              [(rate("sallyport_tokens_total", "model, direction"), "{{model}} {{direction}}")],
              unit="short", width=12, stack=True),
        panel("timeseries", "Budget remaining",
              [(f"sallyport_budget_remaining_tokens{{{SEL}}}", "{{namespace}}/{{pod}} {{window}}"),
               (f"sallyport_budget_limit_tokens{{{SEL}}}", "limit {{namespace}}/{{pod}} {{window}}")],
              width=6),
        panel("bargauge", "Budget used",
              [(f"1 - sallyport_budget_remaining_tokens{{{SEL}}} / (sallyport_budget_limit_tokens{{{SEL}}} > 0)",
                "{{namespace}}/{{pod}} {{window}}")], unit="percentunit", width=6),
    ]),
    ("Trust", [
        panel("timeseries", "Trust score (0-1000)", [(f"sallyport_trust_score{{{SEL}}}", "{{namespace}}/{{pod}}")],
              width=12),
        panel("timeseries", "Trust tier (0 = quarantined, 4 = highest)",
              [(f"sallyport_trust_tier{{{SEL}}}", "{{namespace}}/{{pod}}")], width=12),
    ]),
    ("Audit and SIEM", [
        panel("timeseries", "Audit records by kind and decision",
              [(rate("sallyport_audit_records_total", "kind, decision"), "{{kind}} {{decision}}")],
              unit="ops", width=12, stack=True),
        panel("timeseries", "SIEM lag (records not yet delivered)",
              [(f"sallyport_siem_lag_records{{{SEL}}}", "{{namespace}}/{{pod}} {{sink}}")], width=12),
    ]),
    ("Kernel guard", [
        panel("timeseries", "Kernel denies by pod and reason",
              [(f"sum by (tenant, namespace, pod, reason) (rate(sallyport_kernel_denied_total{{{SEL}}}[$__rate_interval]))",
                "{{tenant}} {{namespace}}/{{pod}} {{reason}}")], unit="ops", width=12, stack=True,
              description="Agent UIDs may reach loopback and DNS only; every other attempt lands here."),
        panel("table", "Kernel denies in range",
              [(f"sum by (tenant, namespace, pod, reason) (increase(sallyport_kernel_denied_total{{{SEL}}}[$__range])) > 0", "")],
              width=12),
    ]),
    ("Blocklist", [
        panel("bargauge", "Domains per feed", [(f"sum by (feed) (sallyport_blocklist_domains{{{SEL}}})", "{{feed}}")],
              width=6),
        panel("bargauge", "IP entries per feed", [(f"sum by (feed) (sallyport_blocklist_ips{{{SEL}}})", "{{feed}}")],
              width=6),
        panel("stat", "Unique domains", [(f"max(sallyport_blocklist_domains_total_unique{{{SEL}}})", "")], width=4),
        panel("stat", "Snapshot memory", [(f"max(sallyport_blocklist_snapshot_bytes{{{SEL}}})", "")], unit="bytes",
              width=4),
        panel("stat", "Refresh rounds", [(f"sum(sallyport_blocklist_refreshes_total{{{SEL}}})", "")], width=4),
        panel("timeseries", "Age of each feed's last good copy",
              [(f"time() - sallyport_blocklist_last_refresh_timestamp_seconds{{{SEL}}}", "{{feed}} {{pod}}")],
              unit="s", width=8, description="Alert SallyportBlocklistStale fires above 12 h."),
        panel("timeseries", "Feed fetch failures",
              [(f"sum by (feed) (increase(sallyport_blocklist_feed_failures_total{{{SEL}}}[$__rate_interval]))", "{{feed}}")],
              width=8),
        panel("timeseries", "Unparsed lines per feed",
              [(f"sum by (feed) (sallyport_blocklist_parse_errors{{{SEL}}})", "{{feed}}")], width=8),
    ]),
]


def build():
    panels, next_id, y = [], 1, 0
    for title, row_panels in ROWS:
        panels.append({"type": "row", "title": title, "id": next_id, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id, y, x, row_h = next_id + 1, y + 1, 0, 8
        for p in row_panels:
            w = p.pop("_width")
            if x + w > 24:
                x, y = 0, y + row_h
            p["id"] = next_id
            p["gridPos"] = {"h": row_h, "w": w, "x": x, "y": y}
            panels.append(p)
            next_id, x = next_id + 1, x + w
        y += row_h

    def variable(name, query):
        return {"name": name, "label": name, "type": "query", "datasource": DS,
                "query": {"query": query, "refId": name}, "definition": query,
                "includeAll": True, "allValue": ".*", "multi": True, "refresh": 2, "sort": 1,
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}

    return {
        "title": "sallyport",
        "uid": "sallyport-overview",
        "description": "Egress proxy, inference gateway, governance, kernel guard and blocklists of sallyport sidecars.",
        "tags": ["sallyport", "egress", "ai-agents"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "utc",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            variable("namespace", "label_values(sallyport_build_info, namespace)"),
            variable("pod", 'label_values(sallyport_build_info{namespace=~"$namespace"}, pod)'),
        ]},
        "panels": panels,
    }


def render():
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sallyport-dashboard.json")
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        with open(out) as f:
            sys.exit(0 if f.read() == render() else 1)
    with open(out, "w") as f:
        f.write(render())
