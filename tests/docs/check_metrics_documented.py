#!/usr/bin/python3
"""Fails when a metric family registered in the code is missing from docs/metrics.md.

    check_metrics_documented.py REPO_ROOT

A family is a "sallyport_<name>" literal passed to a metric builder in the C++ sources of
router/, governance/, blocklist/ and bpf/ (tests live in subfolders and are not read). docs/metrics.md must mention each one in backticks."""
import glob
import os
import re
import sys

# .Name("…") of prometheus-cpp builders, and the metric_family / single_sample_family /
# counter(registry, "…") helpers: a registration, not any string that starts with sallyport_.
FAMILY = re.compile(r'(?:Name|family|counter|gauge|histogram)\(\s*(?:\w+,\s*)?"(sallyport_[a-z0-9_]+)"')


def main():
    root = sys.argv[1]
    families = {}
    for folder in ("router", "governance", "blocklist", "bpf"):
        for path in glob.glob(os.path.join(root, folder, "*.[ch]pp")):
            with open(path, encoding="utf-8", errors="replace") as f:
                for name in FAMILY.findall(f.read()):
                    families.setdefault(name, os.path.relpath(path, root))
    with open(os.path.join(root, "docs", "metrics.md"), encoding="utf-8") as f:
        documented = set(re.findall(r"`(sallyport_[a-z0-9_]+)`", f.read()))
    missing = sorted(name for name in families if name not in documented)
    for name in missing:
        print(f"undocumented metric family {name} (registered in {families[name]}): add it to docs/metrics.md")
    print(f"{len(families)} families in the code, {len(missing)} undocumented")
    return 1 if missing or not families else 0


if __name__ == "__main__":
    sys.exit(main())
