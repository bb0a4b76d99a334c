#!/usr/bin/python3
"""Small read-only helpers for demo/rogue_agent.sh (run as root, outside the pod).

    demo_tool.py last-seq AUDIT_DIR
        newest audit record sequence number (0 when the log is empty)
    demo_tool.py audit-wait AUDIT_DIR AFTER_SEQ KIND DECISION REASON_PREFIX TIMEOUT_S
        waits for the first record with seq > AFTER_SEQ, the given kind and decision and a reason
        starting with REASON_PREFIX; prints its seq (exit 0) or nothing (exit 1 on timeout)
    demo_tool.py trust JSON_FILE UNSEEN
        "<score> <tier_name>" of the first agent in a GET /admin/trust answer; UNSEEN when the
        answer lists no agent yet (the registry only lists agents it has scored)
    demo_tool.py metrics METRICS_FILE
        the metrics excerpt the demo shows (kernel denies, egress and gateway decisions, trust)
"""
import json
import os
import signal
import sys
import time

# Ctrl-C ends the demo: die quietly (the orchestrator cleans up) instead of printing a traceback.
signal.signal(signal.SIGINT, signal.SIG_DFL)


def records(audit_dir):
    try:
        names = sorted(n for n in os.listdir(audit_dir) if n.endswith(".jsonl"))
    except OSError:
        return
    for name in names:
        try:
            with open(os.path.join(audit_dir, name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # a record still being written
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        yield rec
        except OSError:
            continue


def last_seq(audit_dir):
    seq = 0
    for rec in records(audit_dir):
        if isinstance(rec.get("seq"), int):
            seq = max(seq, rec["seq"])
    return seq


def audit_wait(audit_dir, after, kind, decision, prefix, timeout):
    deadline = time.monotonic() + float(timeout)
    while True:
        for rec in records(audit_dir):
            seq = rec.get("seq")
            if (isinstance(seq, int) and seq > int(after) and rec.get("kind") == kind
                    and rec.get("decision") == decision and str(rec.get("reason", "")).startswith(prefix)):
                print(seq)
                return 0
        if time.monotonic() >= deadline:
            return 1
        time.sleep(0.05)


def trust(path, unseen):
    try:
        with open(path, encoding="utf-8") as f:
            agents = json.load(f)["agents"]
        if not agents:
            print(unseen)
            return 0
        a = agents[0]
        print(f"{a['score']} {a['tier_name']}")
        return 0
    except (OSError, ValueError, KeyError, IndexError, AttributeError):
        print("0 unknown")
        return 1


METRIC_PREFIXES = ("sallyport_kernel_denied_total", "sallyport_egress_decisions_total", "sallyport_gateway_requests_total",
                   "sallyport_tool_calls_total", "sallyport_prompt_shield", "sallyport_budget",
                   "sallyport_trust_score", "sallyport_trust_tier")


def metrics(path):
    """Prints the samples of the families above; for egress and gateway only non-allow ones."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or not line.startswith(METRIC_PREFIXES):
                continue
            if ("decision=\"allow\"" in line or "verdict=\"allow\"" in line) and "kernel" not in line:
                continue
            if line.endswith(" 0") and "trust" not in line:
                continue
            print(line)
    return 0


def main(argv):
    cmds = {"last-seq": (lambda d: print(last_seq(d)) or 0, 1), "audit-wait": (audit_wait, 6),
            "trust": (trust, 2), "metrics": (metrics, 1)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]][0](*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
