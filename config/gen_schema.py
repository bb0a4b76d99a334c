#!/usr/bin/env python3
"""Writes config/schema.json (JSON Schema 2020-12). Run after changing config/loader.cpp;
config/test/check_schema.py keeps the two in agreement."""
import json, sys, os

duration = {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$",
            "description": "a duration such as \"500ms\", \"5s\", \"10m\", \"6h\", \"1d\""}
host_port = {"type": "string", "pattern": r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$",
             "description": "host:port, IPv6 in brackets"}
secret = {"description": "a secret reference; secrets are never written inline",
          "oneOf": [
              {"type": "object", "properties": {"env": {"type": "string", "minLength": 1}}, "required": ["env"], "additionalProperties": False},
              {"type": "object", "properties": {"file": {"type": "string", "minLength": 1}}, "required": ["file"], "additionalProperties": False}]}
value_ref = {"oneOf": [{"type": "string", "minLength": 1},
                       {"type": "object", "properties": {"env": {"type": "string", "minLength": 1}}, "required": ["env"], "additionalProperties": False}]}
strings = {"type": "array", "items": {"type": "string", "minLength": 1}}
ports = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}}
uids = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 4294967294}}
http_url = {"type": "string", "pattern": "^https?://[^/\\s]+"}
# No user:password in the authority (credentials go in "token").
webhook_url = {"type": "string", "pattern": "^https?://[^/\\s@]+(/\\S*)?$"}

def obj(props, required=()):
    o = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        o["required"] = list(required)
    return o

def uint(lo, hi):
    return {"type": "integer", "minimum": lo, "maximum": hi}

def enum(*values):
    return {"type": "string", "enum": list(values)}

feed = obj({"name": {"type": "string", "minLength": 1}, "url": http_url,
            "file": {"type": "string", "minLength": 1}, "builtin": enum("default"),
            "format": enum("auto", "domains", "hosts", "abp", "wildcard")}, ["name"])
feed["oneOf"] = [{"required": ["url"]}, {"required": ["file"]}, {"required": ["builtin"]}]

provider = obj({"name": {"type": "string", "minLength": 1},
                "kind": enum("openai", "azure_openai", "anthropic"),
                "base_url": http_url, "api_key": secret,
                "ca_file": {"type": "string", "minLength": 1}, "models": strings,
                "api_version": {"type": "string", "minLength": 1}}, ["name", "kind", "base_url"])
provider["if"] = {"properties": {"kind": {"const": "azure_openai"}}}
provider["then"] = {"required": ["api_version"]}

def any_case(word):
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)

# Headers sallyport sets itself (config/loader.cpp reserved_mcp_header), any letter case.
mcp_reserved_headers = ["host", "content-length", "content-type", "transfer-encoding", "connection",
                        "keep-alive", "upgrade", "te", "trailer", "accept", "accept-encoding",
                        "mcp-session-id", "mcp-protocol-version", "last-event-id", "cookie"]
mcp_reserved_pattern = ("^((" + "|".join(any_case(h) for h in mcp_reserved_headers) + ")$|" +
                        any_case("x-sallyport-") + "|" + any_case("proxy-") + ")")

mcp_server = obj({"name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                  "url": {"type": "string", "description": "https://, or http:// for a loopback host",
                          "pattern": "^(https://[^/\\s?#@]+|http://(127\\.[0-9.]+|localhost|\\[::1\\])(:[0-9]+)?)(/[^\\s?#]*)?$"},
                  "headers": {"type": "object", "additionalProperties": secret,
                              "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$",
                                                "not": {"pattern": mcp_reserved_pattern}}},
                  "auth": secret, "ca_file": {"type": "string", "minLength": 1},
                  "timeout": duration}, ["name", "url"])

sink = {"type": "object", "required": ["name", "kind"], "oneOf": [
    obj({"name": {"type": "string", "minLength": 1}, "kind": {"const": "syslog"},
         "address": host_port, "transport": enum("tcp", "tls"),
         "ca_file": {"type": "string", "minLength": 1}}, ["name", "kind", "address"]),
    obj({"name": {"type": "string", "minLength": 1}, "kind": {"const": "http"}, "url": http_url,
         "token": secret, "batch": uint(1, 100000), "ca_file": {"type": "string", "minLength": 1}},
        ["name", "kind", "url"])]}

penalty_events = ["egress_blocked", "imds_attempt", "tool_denied", "jailbreak", "budget_exhausted", "kernel_deny"]

state_backend = obj({"kind": enum("local", "redis"), "url": {"type": "string", "minLength": 1},
                     "ca_file": {"type": "string", "minLength": 1},
                     "on_unavailable": enum("fail_closed", "fail_open"),
                     "username": {"type": "string", "minLength": 1}, "password": secret,
                     "server_name": {"type": "string", "minLength": 1},
                     "timeout": duration, "connect_timeout": duration, "pool_size": uint(1, 16),
                     "key_prefix": {"type": "string", "minLength": 1},
                     "tenant": obj({"daily_tokens": uint(0, 2**50), "rpm": uint(0, 1000000000),
                                    "tpm": uint(0, 2**50)})})
state_backend["if"] = {"properties": {"kind": {"const": "redis"}}, "required": ["kind"]}
state_backend["then"] = {"required": ["url"], "properties": {"url": {"pattern": "^rediss?://"}}}

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://sallyport.dev/schema/config.json",
    "title": "sallyport configuration",
    "description": "Every key is optional; a missing key keeps its default (see config/default.json). Unknown keys are errors.",
    **obj({
        "identity": obj({k: value_ref for k in ("sandbox", "tenant", "namespace", "pod")}),
        "listeners": obj({k: host_port for k in ("proxy", "gateway", "admin")}),
        "admin": obj({"token": secret, "metrics_require_token": {"type": "boolean"},
                      "allow_non_loopback_plaintext": {"type": "boolean"}}),
        "state_dir": {"type": "string", "minLength": 1},
        "egress": obj({
            "connect_ports": ports, "http_ports": ports, "tls_ports": ports,
            "require_sni": {"type": "boolean"},
            "allow": strings, "deny": strings, "allow_cidrs": strings, "deny_cidrs": strings,
            "bare_ip": enum("deny", "allow_cidrs"), "high_risk_tlds": strings,
            "feeds": {"type": "array", "items": feed}, "refresh": duration,
            "limits": obj({"max_header_bytes": uint(1024, 1048576), "header_timeout": duration,
                           "connect_timeout": duration, "dns_timeout": duration,
                           "idle_timeout": duration, "tunnel_lifetime": duration,
                           "max_connections": uint(1, 1000000),
                           "max_connections_per_client": uint(1, 1000000)}),
            "mode": enum("enforce", "report"), "resolvers": strings, "proxy_token": secret}),
        "providers": {"type": "array", "items": provider},
        "mcp_servers": {"type": "array", "items": mcp_server},
        "gateway": obj({"max_request_bytes": uint(1024, 268435456), "connect_timeout": duration,
                        "first_byte_timeout": duration, "idle_timeout": duration}),
        "budgets": obj({"per_request_tokens": uint(1, 100000000),
                        "daily_tokens": uint(1, 1000000000000),
                        "over_max_tokens": enum("reject", "clamp")}),
        "rate_limits": obj({"rpm": uint(1, 1000000), "tpm": uint(1, 10000000000),
                            "max_concurrent": uint(1, 100000), "queue": uint(0, 1000000)}),
        "safety": obj({"floor": enum("safe", "low", "medium", "high"),
                       "prompt_shield": obj({"mode": enum("off", "observe", "enforce"),
                                             "patterns": strings})}),
        "policy": obj({"file": {"type": "string", "minLength": 1},
                       "approvals": obj({"timeout": duration, "max_pending": uint(1, 100000),
                                         "webhook": obj({"url": webhook_url, "token": secret,
                                                         "ca_file": {"type": "string", "minLength": 1},
                                                         "timeout": duration,
                                                         "retries": uint(0, 10)}, ["url"])})}),
        "trust": obj({"initial": uint(0, 1000), "threshold": uint(0, 1000),
                      "tiers": {"type": "array", "minItems": 5, "maxItems": 5,
                                "items": obj({"name": {"type": "string", "minLength": 1},
                                              "min": uint(0, 1000)})},
                      "penalties": obj({e: uint(0, 1000) for e in penalty_events}),
                      "recovery": obj({"per_clean_request": uint(0, 1000),
                                       "max_per_hour": uint(0, 1000)})}),
        "audit": obj({"dir": {"type": "string", "minLength": 1}, "fsync": enum("record", "group"),
                      "group_interval": duration, "checkpoint_every": uint(1, 100000000),
                      "checkpoint_interval": duration,
                      "rotate": obj({"max_bytes": uint(4096, 1 << 40), "max_age": duration}),
                      "on_failure": enum("fail_closed", "fail_open"),
                      "sinks": {"type": "array", "items": sink}}),
        "state_backend": state_backend,
        "kernel_guard": obj({"enabled": {"type": "boolean"}, "pin_dir": {"type": "string", "minLength": 1},
                             "name": {"type": "string", "minLength": 1}, "agent_uids": uids,
                             "router_uids": uids, "resolvers": strings,
                             "mode": enum("off", "observe", "enforce"),
                             "agent_cgroup": {"type": "string", "pattern": "^/"}}),
        "log": obj({"format": enum("json", "text"), "level": enum("debug", "info", "warn", "error")}),
        "worker_threads": uint(0, 256),
    }),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.json")
with open(out, "w") as f:
    json.dump(schema, f, indent=2)
    f.write("\n")
