#!/usr/bin/python3
"""Writes docs/configuration.md from config/schema.json (types, constraints), config/default.json
(defaults) and docs/config_notes.json (descriptions, built-in defaults the default file leaves out).

    /usr/bin/python3 docs/gen_config_reference.py            # (re)write docs/configuration.md
    /usr/bin/python3 docs/gen_config_reference.py --check    # exit 1 + diff when it is stale

Standard library only. Keys the notes do not describe are still listed (and named on stderr), so
a new schema key shows up in the reference as soon as the schema is regenerated."""
import argparse
import difflib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "config", "schema.json")
DEFAULTS = os.path.join(ROOT, "config", "default.json")
NOTES = os.path.join(ROOT, "docs", "config_notes.json")
OUTPUT = os.path.join(ROOT, "docs", "configuration.md")

SECRET_FORMS = [{"env"}, {"file"}]


def md(text):
    """Table-cell safe: pipes escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def prose(text):
    """Table-cell or paragraph text: like md(), and '<' escaped so <name> is not read as HTML."""
    return md(text).replace("<", "&lt;")


def code(value):
    return "`" + md(value).replace("`", "'") + "`"


def is_secret(node):
    alts = node.get("oneOf", [])
    return len(alts) == 2 and [set(a.get("required", [])) for a in alts] == SECRET_FORMS


def is_value_ref(node):
    alts = node.get("oneOf", [])
    return (len(alts) == 2 and alts[0].get("type") == "string"
            and alts[1].get("required") == ["env"])


def type_of(node):
    if is_secret(node):
        return 'secret: `{"env": NAME}` or `{"file": PATH}`'
    if is_value_ref(node):
        return 'string or `{"env": NAME}`'
    if "const" in node:
        return code(json.dumps(node["const"]))
    kind = node.get("type")
    if kind == "array":
        items = node.get("items", {})
        if items.get("type") == "object" or "oneOf" in items:
            return "array of objects"
        return f"array of {items.get('type', 'any')}"
    if kind == "string" and "enum" in node:
        return "enum"
    if kind:
        return kind
    if "oneOf" in node:
        return " or ".join(type_of(a) for a in node["oneOf"])
    return "any"


def constraints(node, required_here):
    parts = []
    if "enum" in node:
        parts.append("one of " + ", ".join(code(v) for v in node["enum"]))
    if "minimum" in node or "maximum" in node:
        parts.append(f"{node.get('minimum', '…')}..{node.get('maximum', '…')}")
    if node.get("minLength"):
        parts.append("non-empty")
    pattern = node.get("pattern", "")
    if pattern.startswith("^[0-9]+(ms|s|m|h|d)$"):
        parts.append('duration: `500ms`, `5s`, `10m`, `6h`, `1d`')
    elif "6553" in pattern:
        parts.append("`host:port` (IPv6 in brackets)")
    elif pattern:
        parts.append("matches " + code(pattern))
    if "minItems" in node or "maxItems" in node:
        parts.append(f"{node.get('minItems', 0)}..{node.get('maxItems', '∞')} items")
    items = node.get("items", {})
    if node.get("type") == "array" and items.get("type") in ("integer", "string"):
        sub = constraints(items, False)
        if sub:
            parts.append("each " + sub)
    if required_here:
        parts.append("**required**")
    if "oneOf" in node and node.get("type") == "object":
        choices = [a.get("required", []) for a in node["oneOf"]]
        if all(len(c) == 1 for c in choices):
            parts.append("exactly one of " + ", ".join(code(c[0]) for c in choices))
    if isinstance(node.get("then"), dict) and isinstance(node.get("if"), dict):
        cond = node["if"].get("properties", {})
        for key, rule in cond.items():
            need = node["then"].get("required", [])
            if "const" in rule and need:
                parts.append(f"with {key} {code(json.dumps(rule['const']))}: "
                             + ", ".join(code(n) for n in need) + " required")
    return "; ".join(parts)


def lookup_default(defaults, path):
    """Value at a dotted path of config/default.json, or None (arrays of objects are skipped)."""
    node = defaults
    for key in path.split("."):
        if "[" in key or not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def default_text(path, node, defaults, notes):
    value = lookup_default(defaults, path)
    if value is not None and not (isinstance(value, dict) and node.get("type") == "object"
                                  and not is_secret(node) and not is_value_ref(node)):
        return code(json.dumps(value, separators=(", ", ": ")))
    note = notes.get(path, {}).get("default")
    if note is not None:
        return code(note) if not note.startswith(("quarantined", "<")) else prose(note)
    return "—"


def walk(node, path, required, rows):
    """Collects (path, node, required?) rows depth-first in schema order."""
    props = node.get("properties", {})
    for key, child in props.items():
        child_path = f"{path}.{key}" if path else key
        rows.append((child_path, child, key in required))
        walk(child, child_path, set(child.get("required", [])), rows)
    items = node.get("items")
    if node.get("type") == "array" and isinstance(items, dict):
        walk(items, path + "[]", set(items.get("required", [])), rows)
    for alt in node.get("oneOf", []):
        kind = alt.get("properties", {}).get("kind", {})
        if "const" in kind:
            walk(alt, f"{path}({kind['const']})", set(alt.get("required", [])), rows)


def render(schema, defaults, notes):
    rows = []
    walk(schema, "", set(schema.get("required", [])), rows)
    out = [
        "# Configuration reference",
        "",
        "<!-- GENERATED by docs/gen_config_reference.py from config/schema.json, config/default.json",
        "     and docs/config_notes.json. Do not edit by hand: edit those and regenerate. -->",
        "",
        "`sallyport run --config FILE` reads one strict JSON file: unknown keys, wrong types and",
        "out-of-range values are errors, each reported with its JSON pointer. Every key is optional:",
        "a missing key keeps its default (the embedded `config/default.json`, or the built-in value).",
        "`sallyport check-config FILE` prints `OK` or every error (exit 1). SIGHUP reloads the file;",
        "a bad file is rejected and the running config stays.",
        "",
        "Secrets (`admin.token`, `providers[].api_key`, `egress.proxy_token`, sink tokens) are never",
        'inline: `{"env": "NAME"}` reads an environment variable, `{"file": "/path"}` the first line of',
        "a file (at most 64 KiB). Paths below use `.` for nesting, `[]` for array items and",
        "`(kind)` for one variant of a list whose items differ by `kind`.",
        "",
        "A minimal config with one OpenAI-compatible provider (checked by the docs test):",
        "",
        "```json config",
        "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in EXAMPLE.items()) + "\n}",
        "```",
        "",
    ]
    missing = []
    top_sections = [r for r in rows if "." not in r[0] and "[" not in r[0] and "(" not in r[0]]
    out.append("Sections: " + ", ".join(f"[`{p}`](#{p.replace('_', '_')})" for p, _, _ in top_sections) + ".")
    out.append("")
    for section, section_node, _ in top_sections:
        out.append(f"## {section}")
        out.append("")
        note = notes.get(section, {}).get("description")
        if note:
            out.append(prose(note))
            out.append("")
        elif section not in notes:
            missing.append(section)
        children = [r for r in rows if r[0].startswith(section + ".") or r[0].startswith(section + "[")
                    or r[0].startswith(section + "(")]
        if not children:
            children = [(section, section_node, False)]
        out.append("| key | type | default | constraints | description |")
        out.append("|---|---|---|---|---|")
        for path, node, required_here in children:
            description = notes.get(path, {}).get("description") or node.get("description", "")
            if path not in notes or not notes[path].get("description"):
                missing.append(path)
            out.append("| " + " | ".join([
                code(path), type_of(node), default_text(path, node, defaults, notes),
                constraints(node, required_here) or "—", prose(description) or "—"]) + " |")
        out.append("")
    known = {path for path, _, _ in rows}
    for stale in sorted(k for k in notes if not k.startswith("_") and k not in known):
        print(f"gen_config_reference: docs/config_notes.json describes {stale}, which the schema "
              "no longer has", file=sys.stderr)
    return "\n".join(out), missing


EXAMPLE = {
    "identity": {"sandbox": "agent-7", "tenant": "research", "namespace": {"env": "POD_NAMESPACE"},
                 "pod": {"env": "POD_NAME"}},
    "admin": {"token": {"file": "/run/secrets/sallyport/admin-token"}},
    "state_dir": "/var/lib/sallyport",
    "egress": {"allow_cidrs": [], "deny": ["pastebin.com"],
               "feeds": [{"name": "urlhaus", "builtin": "default"}]},
    "providers": [{"name": "openai", "kind": "openai", "base_url": "https://api.openai.com",
                   "api_key": {"env": "OPENAI_API_KEY"}, "models": ["gpt-4o*", "gpt-4.1*"]}],
    "budgets": {"per_request_tokens": 32768, "daily_tokens": 2000000},
    "policy": {"file": "/etc/sallyport/tool-policy.json"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args()
    with open(SCHEMA) as f:
        schema = json.load(f)
    with open(DEFAULTS) as f:
        defaults = json.load(f)
    with open(NOTES) as f:
        notes = json.load(f)
    text, missing = render(schema, defaults, notes)
    text += "\n"
    for path in missing:
        print(f"gen_config_reference: no description for {path} (add it to docs/config_notes.json)",
              file=sys.stderr)
    if args.check:
        current = open(args.output).read() if os.path.exists(args.output) else ""
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), args.output, "regenerated"))
            print(f"\n{args.output} is out of date with config/schema.json: run "
                  "/usr/bin/python3 docs/gen_config_reference.py", file=sys.stderr)
            return 1
        print("configuration.md is up to date")
        return 0
    with open(args.output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
