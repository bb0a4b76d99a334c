#!/usr/bin/env python3
"""config/schema.json and the C++ loader must agree: default.json and test/good/* validate,
every test/bad/* is rejected by the schema (except the cross-field rules listed below, which
only the loader can express; the loader's own tests cover those)."""
import json, os, sys
from jsonschema import Draft202012Validator

# Cross-field rules and duration ranges (a regex cannot compare "1s" with "1m").
LOADER_ONLY = {"budget_request_over_daily.json", "refresh_too_short.json"}

config_dir = sys.argv[1]
with open(os.path.join(config_dir, "schema.json")) as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
failures = 0

def load(path):
    with open(path) as f:
        return json.load(f)

good = [os.path.join(config_dir, "default.json")] + sorted(
    os.path.join(config_dir, "test", "good", n) for n in os.listdir(os.path.join(config_dir, "test", "good")))
for path in good:
    errors = list(validator.iter_errors(load(path)))
    if errors:
        failures += 1
        print(f"FAIL {path}: schema rejects a good config: {errors[0].message}")
    else:
        print(f"ok   {os.path.basename(path)} accepted")

bad_dir = os.path.join(config_dir, "test", "bad")
for name in sorted(os.listdir(bad_dir)):
    path = os.path.join(bad_dir, name)
    try:
        doc = load(path)
    except json.JSONDecodeError:
        print(f"ok   {name} rejected (not JSON)")
        continue
    errors = list(validator.iter_errors(doc))
    if name in LOADER_ONLY:
        print(f"ok   {name} loader-only rule")
        continue
    if not errors:
        failures += 1
        print(f"FAIL {name}: schema accepts a config the loader rejects")
    else:
        print(f"ok   {name} rejected: {errors[0].message[:80]}")

print(f"{len(good) + len(os.listdir(bad_dir)) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
