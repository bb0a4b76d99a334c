#!/usr/bin/python3
"""Assertions over `probe --json`, `bpf status --json` and `bpf events` output for guard_test.sh.

  check_json.py probe FILE OP=RESULT[/BLOCKER] ...   every named op has that result (and blocker)
  check_json.py probe-all FILE RESULT                 every op that ran has RESULT
  check_json.py status-counter FILE HOOK REASON FIELD MIN   counter FIELD (denied|observed) >= MIN
  check_json.py status-prog-ids FILE                  print the prog ids of every link
  check_json.py event FILE KEY=VALUE ...              some event line matches all pairs
Exit 1 with a message naming what differed.
"""
import json
import sys


def fail(msg):
    print(f"check_json: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON ({e}): {text[:400]!r}")


def probe(path, expectations):
    rows = {r["op"]: r for r in load(path)["results"]}
    bad = []
    for exp in expectations:
        op, want = exp.split("=", 1)
        result, _, blocker = want.partition("/")
        row = rows.get(op)
        if row is None:
            bad.append(f"{op}: missing")
        elif row["result"] != result or (blocker and row["blocker"] != blocker):
            bad.append(f"{op}: got {row['result']}/{row['blocker']} ({row['errno']}, {row['detail']}), want {want}")
    if bad:
        fail(f"{path}:\n  " + "\n  ".join(bad))


def probe_all(path, result):
    rows = [r for r in load(path)["results"] if r["result"] != "SKIPPED"]
    bad = [f"{r['op']}: {r['result']}/{r['blocker']} ({r['errno']})" for r in rows if r["result"] != result]
    if bad or not rows:
        fail(f"{path}: want every op {result}:\n  " + "\n  ".join(bad or ["no rows"]))


def status_counter(path, hook, reason, field, minimum):
    for g in load(path)["guards"]:
        for c in g["counters"]:
            if c["hook"] == hook and c["reason"] == reason and c[field] >= int(minimum):
                return
    fail(f"{path}: no counter {hook}/{reason} with {field} >= {minimum}")


def status_prog_ids(path):
    for g in load(path)["guards"]:
        for link in g["links"]:
            print(link["prog_id"])


def event(path, pairs):
    want = dict(p.split("=", 1) for p in pairs)
    lines = [l for l in open(path, encoding="utf-8") if l.strip()]
    for line in lines:
        e = json.loads(line)
        if all(str(e.get(k)) == v for k, v in want.items()):
            return
    fail(f"{path}: no event with {want}; got {len(lines)} events:\n" + "".join(lines[:10]))


def main():
    cmd, path, *rest = sys.argv[1:]
    {"probe": lambda: probe(path, rest),
     "probe-all": lambda: probe_all(path, rest[0]),
     "status-counter": lambda: status_counter(path, *rest),
     "status-prog-ids": lambda: status_prog_ids(path),
     "event": lambda: event(path, rest)}[cmd]()


if __name__ == "__main__":
    main()
