#!/usr/bin/python3
"""Turns the raw outputs of bench/run-all (bench/results/raw/) into bench/results/RESULTS.md and
PNG plots (gnuplot). Called by bench/run-all; can be re-run alone on kept raw outputs:

    /usr/bin/python3 bench/run_all_report.py --raw bench/results/raw --out bench/results

Parses each benchmark's own output format (read, never changed here):
  blocklist  Google Benchmark console table (bench/blocklist_run.sh, counters tabular)
  proxy      "<name> {json}" lines of bench/proxy_bench.sh (proxy_load results)
  gateway    the mode/clients table of sallyport_gateway_bench + its "gateway RSS" line
  bpf        the "op | none | guard | ..." table of bench/bpf_bench.sh
  audit, budget, policy   Google Benchmark JSON (--benchmark_out)
  fleet*     shown verbatim (no fixed format yet)
A benchmark that did not run leaves its rows marked "not run" with the reason."""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile

SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def human_number(token):
    """'13.0424M/s' -> 13042400.0; '209.458k' -> 209458.0; None when not a number."""
    match = re.fullmatch(r"([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)([kMGT]?)(/s)?", token)
    return float(match.group(1)) * SUFFIX[match.group(2)] if match else None


def parse_gbench_console(text):
    """Google Benchmark console tables -> {name: {column: value}} (time columns in ns)."""
    unit_ns = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    rows, header = {}, None
    for line in text.splitlines():
        tokens = line.split()
        if tokens[:3] == ["Benchmark", "Time", "CPU"]:
            header = tokens[4:]  # counter columns after Iterations
            continue
        if not header or len(tokens) < 6 or tokens[2] not in unit_ns:
            continue
        row = {"real_ns": float(tokens[1]) * unit_ns[tokens[2]],
               "cpu_ns": float(tokens[3]) * unit_ns[tokens[4]], "iterations": float(tokens[5])}
        for column, token in zip(header, tokens[6:]):
            value = human_number(token)
            if value is not None:
                row[column] = value
        rows[tokens[0]] = row
    return rows


def parse_gbench_json(text):
    rows = {}
    for bench in json.loads(text).get("benchmarks", []):
        if bench.get("run_type", "iteration") == "iteration" and not bench.get("error_occurred"):
            rows[bench["name"]] = bench
    return rows


def parse_proxy(text):
    results = {}
    for line in text.splitlines():
        match = re.match(r"^(direct|sallyport|squid|tinyproxy|sallyport-app) (\{.*\})\s*$", line)
        if match:
            results[match.group(1)] = json.loads(match.group(2))
    return results


def parse_gateway(text):
    levels, rss = [], None
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) == 9 and tokens[0] in ("json", "stream"):
            names = ["direct_p50", "direct_p99", "gw_p50", "gw_p99", "added_p50", "added_p99"]
            level = {"mode": tokens[0], "clients": int(tokens[1]), "errors": int(tokens[8])}
            level.update(zip(names, map(float, tokens[2:8])))
            levels.append(level)
        match = re.match(r"gateway RSS: (\d+) kB now, (\d+) kB peak", line)
        if match:
            rss = (int(match.group(1)), int(match.group(2)))
    return levels, rss


def parse_bpf(text):
    ops, progs = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6 and cells[0] not in ("op",) and re.match(r"^[-+]?\d", cells[1]):
            try:
                ops[cells[0]] = dict(zip(["none", "guard", "plus_guard", "iptables", "plus_iptables"],
                                         map(float, cells[1:])))
            except ValueError:
                pass
        if line.startswith("guard program run time"):
            progs = line.split(":", 1)[1].strip()
    return ops, progs


class Table:
    """Rows of the summary table: metric, sallyport, peer, ratio, target, met."""

    def __init__(self):
        self.rows = []

    def add(self, metric, ours, peer="—", ratio="—", target="—", met=None):
        mark = "—" if met is None else ("✅ yes" if met else "❌ no")
        self.rows.append((metric, ours, peer, ratio, target, mark))

    def missing(self, area, status):
        self.rows.append((f"{area}: not run", status or "not selected in this run", "—", "—", "—", "—"))

    def markdown(self):
        out = ["| metric | sallyport | peer | ratio | target | met? |", "|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out)


def rate(value):
    for limit, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if value >= limit:
            return f"{value / limit:.2f}{suffix}/s"
    return f"{value:.0f} /s"


def added_ms(value):
    """An added-latency figure; below zero means the run-to-run noise exceeded the overhead."""
    return f"{value:.3f} ms" if value >= 0 else f"{value:.3f} ms (< 0: within noise)"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "—"


class Report:
    def __init__(self, raw, out, plots_dir):
        self.raw, self.out, self.plots_dir = raw, out, plots_dir
        self.table = Table()
        self.sections = []  # (title, markdown)
        self.plots = []     # (png name, caption)
        self.gnuplot = shutil.which("gnuplot")

    def status(self, name):
        return (read(os.path.join(self.raw, f"{name}.status")) or "").strip()

    def output(self, name, ext="txt"):
        return read(os.path.join(self.raw, f"{name}.{ext}"))

    def plot(self, name, caption, data, script):
        """Writes data to a temp file and runs a gnuplot script ending in a plot of '$DATA'."""
        if not self.gnuplot:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
            f.write(data)
            data_path = f.name
        png = os.path.join(self.plots_dir, name)
        program = (f"set terminal pngcairo size 900,500 font 'DejaVu Sans,10'\nset output '{png}'\n"
                   "set style data histograms\nset style histogram clustered gap 1\n"
                   "set style fill solid 0.8 border -1\nset boxwidth 0.9\nset grid ytics\n"
                   "set key top left\nset xtics rotate by -20\n" + f"set title '{caption}'\n" + script.replace("$DATA", data_path))
        result = subprocess.run([self.gnuplot], input=program, text=True, capture_output=True)
        os.unlink(data_path)
        if result.returncode == 0 and os.path.exists(png):
            self.plots.append((name, caption))
        else:
            print(f"run_all_report: gnuplot failed for {name}: {result.stderr.strip()[:300]}")

    # ---- areas ---------------------------------------------------------------------------------
    def blocklist(self):
        text = self.output("blocklist")
        rows = parse_gbench_console(text or "")
        if not rows:
            return self.table.missing("blocklist lookups", self.status("blocklist"))
        ours = rows.get("BM_Lookup_DomainSet/65536") or rows.get("BM_Lookup_DomainSet/1024")
        naive = rows.get("BM_Lookup_NaiveUnorderedSet")
        if ours and "items_per_second" in ours:
            ips = ours["items_per_second"]
            peer = naive.get("items_per_second") if naive else None
            self.table.add("blocklist lookups/s/core, full OISD list, 65 536-name pool (80 % miss)", rate(ips),
                           f"{rate(peer)} (std::unordered_set suffix walk)" if peer else "—",
                           ratio(ips, peer) if peer else "—", "≥ 10 M/s", ips >= 10e6)
        hot = rows.get("BM_Lookup_DomainSet/1024")
        if hot and ours is not hot and "items_per_second" in hot:
            self.table.add("blocklist lookups/s/core, 1 024 hot names (cache-resident)",
                           rate(hot["items_per_second"]), target="≥ 10 M/s", met=hot["items_per_second"] >= 10e6)
        if "BM_CheckHost" in rows and "items_per_second" in rows["BM_CheckHost"]:
            self.table.add("full check_host path (normalise + allow/deny + feeds + TLD)",
                           rate(rows["BM_CheckHost"]["items_per_second"]))
        load = next((v for k, v in rows.items() if k.startswith("BM_LoadOisdBig")), None)
        if load:
            self.table.add("OISD big list load + snapshot build", f"{load['real_ns'] / 1e6:.0f} ms",
                           target="< 1 s", met=load["real_ns"] < 1e9)
        rss = next((v for k, v in rows.items() if k.startswith("BM_StoreRss")), None)
        if rss and "rss_after_MiB" in rss:
            domains = rss.get("domains", 0)
            self.table.add(f"RSS with the full OISD list loaded ({domains / 1e3:.0f} k domains)",
                           f"{rss['rss_after_MiB']:.1f} MiB (peak {rss.get('peak_MiB', 0):.1f})",
                           target="< 64 MB", met=rss["rss_after_MiB"] * 1.048576 < 64)
        if ours and naive:
            self.plot("blocklist.png", "Blocklist lookups/s on the full OISD list (higher is better)",
                      f'"sallyport DomainSet" {ours.get("items_per_second", 0) / 1e6}\n'
                      f'"unordered_set walk" {naive.get("items_per_second", 0) / 1e6}\n',
                      "set ylabel 'million lookups/s'\nset yrange [0:*]\nset key off\n"
                      "plot '$DATA' using 2:xtic(1) title 'lookups/s' lc rgb '#3070b0'")

    def proxy(self):
        results = parse_proxy(self.output("proxy") or "")
        if "sallyport" not in results:
            return self.table.missing("forward proxy CONNECT", self.status("proxy"))
        sp = results["sallyport"]
        header = (self.output("proxy") or "").splitlines()[0] if self.output("proxy") else ""
        for peer, target in (("squid", 1.5), ("tinyproxy", 1.2)):
            if peer in results:
                r = sp["tunnels_per_s"] / results[peer]["tunnels_per_s"]
                self.table.add(f"CONNECT tunnels/s vs {peer}", f"{sp['tunnels_per_s']:.0f} /s",
                               f"{results[peer]['tunnels_per_s']:.0f} /s ({peer})", f"{r:.2f}×",
                               f"≥ {target}×", r >= target)
        if "sallyport-app" in results:  # the binary: blocklist policy + audit record per tunnel
            app = results["sallyport-app"]
            for peer, target in (("squid", 1.5), ("tinyproxy", 1.2)):
                if peer in results:
                    r = app["tunnels_per_s"] / results[peer]["tunnels_per_s"]
                    self.table.add(f"CONNECT tunnels/s vs {peer}, sallyport binary (policy + audit)",
                                   f"{app['tunnels_per_s']:.0f} /s",
                                   f"{results[peer]['tunnels_per_s']:.0f} /s ({peer})", f"{r:.2f}×",
                                   f"≥ {target}×", r >= target)
        if "direct" in results:
            added = (sp["rtt_us"]["p99"] - results["direct"]["rtt_us"]["p99"]) / 1000
            squid_added = ((results["squid"]["rtt_us"]["p99"] - results["direct"]["rtt_us"]["p99"]) / 1000
                           if "squid" in results else None)
            self.table.add("added in-tunnel round trip p99 vs direct", added_ms(added),
                           f"{added_ms(squid_added)} (squid)" if squid_added is not None else "—",
                           "—", "< 1 ms", added < 1)
        lines = ["| proxy | tunnels/s | setup p50 µs | setup p99 µs | rtt p50 µs | rtt p99 µs |",
                 "|---|---|---|---|---|---|"]
        data = ""
        for name, v in results.items():
            lines.append(f"| {name} | {v['tunnels_per_s']:.0f} | {v['setup_us']['p50']:.0f} | "
                         f"{v['setup_us']['p99']:.0f} | {v['rtt_us']['p50']:.0f} | {v['rtt_us']['p99']:.0f} |")
            data += f'"{name}" {v["tunnels_per_s"]:.1f} {v["setup_us"]["p99"]:.1f}\n'
        self.sections.append(("Forward proxy (bench/proxy_bench.sh)", f"`{header.lstrip('# ')}`\n\n" + "\n".join(lines)))
        self.plot("proxy.png", "CONNECT tunnels/s, all on loopback (higher is better)", data,
                  "set ylabel 'tunnels/s'\nset yrange [0:*]\nset key off\n"
                  "plot '$DATA' using 2:xtic(1) lc rgb '#3070b0'")

    def gateway(self):
        levels, rss = parse_gateway(self.output("gateway") or "")
        if not levels:
            return self.table.missing("inference gateway latency", self.status("gateway"))
        low = next((l for l in levels if l["mode"] == "json" and l["clients"] == 1), levels[0])
        self.table.add("gateway added latency p50 (json, 1 client)", added_ms(low['added_p50']),
                       f"{low['direct_p50']:.3f} ms (direct to mock)", ratio(low["gw_p50"], low["direct_p50"]),
                       "< 0.3 ms", low["added_p50"] < 0.3)
        self.table.add("gateway added latency p99 (json, 1 client)", added_ms(low['added_p99']),
                       f"{low['direct_p99']:.3f} ms (direct to mock)", ratio(low["gw_p99"], low["direct_p99"]),
                       "< 2 ms", low["added_p99"] < 2)
        stream = next((l for l in levels if l["mode"] == "stream" and l["clients"] == 1), None)
        if stream:
            self.table.add("gateway added time to first event p99 (stream, 1 client)",
                           added_ms(stream['added_p99']), f"{stream['direct_p99']:.3f} ms (direct)",
                           ratio(stream["gw_p99"], stream["direct_p99"]), "< 2 ms", stream["added_p99"] < 2)
        if rss:
            self.table.add("gateway process RSS (peak)", f"{rss[1] / 1024:.1f} MiB", target="< 64 MB",
                           met=rss[1] * 1024 < 64e6)
        lines = ["| mode | clients | direct p50 | direct p99 | via gateway p50 | via gateway p99 | added p50 | added p99 | errors |",
                 "|---|---|---|---|---|---|---|---|---|"]
        data = ""
        for l in levels:
            lines.append(f"| {l['mode']} | {l['clients']} | {l['direct_p50']:.3f} | {l['direct_p99']:.3f} | "
                         f"{l['gw_p50']:.3f} | {l['gw_p99']:.3f} | {l['added_p50']:.3f} | {l['added_p99']:.3f} | {l['errors']} |")
            data += f'"{l["mode"]} x{l["clients"]}" {max(l["added_p50"], 0):.4f} {max(l["added_p99"], 0):.4f}\n'
        self.sections.append(("Inference gateway (bench/gateway_bench.sh), milliseconds; stream = time to first event",
                              "\n".join(lines)))
        self.plot("gateway.png", "Gateway added latency vs a direct call, ms (lower is better)", data,
                  "set ylabel 'added ms'\nset yrange [0:*]\n"
                  "plot '$DATA' using 2:xtic(1) title 'added p50' lc rgb '#3070b0', "
                  "'' using 3 title 'added p99' lc rgb '#d08030'")

    def bpf(self):
        ops, progs = parse_bpf(self.output("bpf") or "")
        if not ops:
            return self.table.missing("kernel guard overhead", self.status("bpf"))
        for op, v in sorted(ops.items()):
            is_connect = "Connect" in op
            self.table.add(f"kernel guard added CPU per {op} (UID 1000, in a pod cgroup)",
                           f"{v['plus_guard']:+.0f} ns", f"{v['plus_iptables']:+.0f} ns (iptables -m owner)",
                           ratio(v["plus_guard"], v["plus_iptables"]) if v["plus_iptables"] > 0 else "—",
                           "< 150 ns" if is_connect else "—", v["plus_guard"] < 150 if is_connect else None)
        # The kernel's own accounting of the programs (bpf_stats): immune to the neighbours' load,
        # the closest figure to the per-connect() cost the target is about.
        for prog, ns, runs in re.findall(r"(\w+) (\d+) ns x (\d+)", progs or ""):
            is_connect = "connect" in prog
            self.table.add(f"kernel guard program {prog}: run time per call (kernel bpf_stats, {int(runs):,} runs)",
                           f"{int(ns)} ns", target="< 150 ns" if is_connect else "—",
                           met=int(ns) < 150 if is_connect else None)
        lines = ["| op | none ns | guard ns | +guard | iptables ns | +iptables |", "|---|---|---|---|---|---|"]
        data = ""
        for op, v in sorted(ops.items()):
            lines.append(f"| {op} | {v['none']:.0f} | {v['guard']:.0f} | {v['plus_guard']:+.0f} | "
                         f"{v['iptables']:.0f} | {v['plus_iptables']:+.0f} |")
            data += f'"{op}" {v["plus_guard"]:.1f} {v["plus_iptables"]:.1f}\n'
        body = "\n".join(lines) + (f"\n\nBPF program run time (kernel stats): {progs}" if progs else "")
        self.sections.append(("Kernel guard (bench/bpf_bench.sh), median CPU ns per call", body))
        self.plot("kernel_guard.png", "CPU ns added per syscall vs no program: kernel guard vs iptables (lower is better)", data,
                  "set ylabel 'added CPU ns per call'\nset key top right\nset xzeroaxis\n"
                  "plot '$DATA' using 2:xtic(1) title 'kernel guard' lc rgb '#3070b0', "
                  "'' using 3 title 'iptables -m owner' lc rgb '#d08030'")

    def gbench_rows(self, name):
        text = self.output(name, "json")
        try:
            return parse_gbench_json(text) if text else {}
        except json.JSONDecodeError:
            return {}

    def audit(self):
        rows = self.gbench_rows("audit")
        if not rows:
            return self.table.missing("audit log", self.status("audit"))
        group = next((v for k, v in rows.items() if k.startswith("BM_AuditAppendGroupCommit")), None)
        each = next((v for k, v in rows.items() if k.startswith("BM_AuditAppendFsyncPerRecord")), None)
        verify = next((v for k, v in rows.items() if k.startswith("BM_AuditVerify")), None)
        if group:
            g = group["items_per_second"]
            self.table.add("audit appends/s, group commit (durable)", rate(g),
                           f"{rate(each['items_per_second'])} (fsync per record)" if each else "—",
                           ratio(g, each["items_per_second"]) if each else "—", "≥ 100 k/s", g >= 1e5)
        if verify:
            # Single-threaded: records per CPU-second shows what the verifier does when it gets a
            # core; the wall-clock rate on a loaded box also counts the time it waited for one.
            per_cpu = verify["items_per_second"] * verify["real_time"] / verify["cpu_time"] if verify.get("cpu_time") else 0
            self.table.add("audit verify records/s (wall clock; per CPU-second)",
                           f"{rate(verify['items_per_second'])}; {rate(per_cpu)}",
                           target="≥ 1 M/s", met=max(verify["items_per_second"], per_cpu) >= 1e6)
        encode = rows.get("BM_AuditEncodeRecord")
        if encode:
            self.table.add("audit record encode (canonical JSON + SHA-256)", rate(encode["items_per_second"]))

    def budget(self):
        rows = self.gbench_rows("budget")
        if not rows:
            return self.table.missing("budget ledger", self.status("budget"))
        modes = {"0": "in memory", "1": "journal write()", "2": "journal + group fsync", "3": "fsync per call"}
        for key, v in rows.items():
            match = re.match(r"BM_ReserveSettle/(\d)/.*threads:(\d+)", key)
            if match and match.group(2) == "1":
                self.table.add(f"budget reserve+settle/s, {modes[match.group(1)]}, 1 thread",
                               rate(v["items_per_second"]))

    def policy(self):
        rows = self.gbench_rows("policy")
        if not rows:
            return self.table.missing("tool policy", self.status("policy"))
        labels = {"BM_EvaluateFallThrough": "tool policy evaluations/s (walks every rule to the default)",
                  "BM_EvaluateShellArgs": "tool policy evaluations/s (shell call, args RE2)",
                  "BM_OpenAiStreamFilter": "streamed tool-call filter, chunks/s"}
        for key, label in labels.items():
            if key in rows:
                self.table.add(label, rate(rows[key]["items_per_second"]))

    def fleet(self):
        for path in sorted(glob.glob(os.path.join(self.raw, "fleet*.status"))):
            name = os.path.basename(path)[:-len(".status")]
            status = self.status(name)
            text = self.output(name) or ""
            if status.startswith("skipped"):
                continue
            tail = "\n".join(text.strip().splitlines()[-30:])
            self.sections.append((f"Fleet state backend ({name}.sh): {status}", f"```\n{tail}\n```"))
            rows = parse_gbench_console(text)
            local = next((v for k, v in rows.items() if k.startswith("BM_Local")), None)
            redis = {k: v for k, v in rows.items() if k.startswith("BM_Redis")}
            if not local and not redis:
                self.table.add(f"{name}: see its section below", status)
                continue
            peer = (f"{rate(local['round_trips_per_second'])}, admit p99 {local.get('admit_p99_us', 0):.0f} µs (local backend)"
                    if local and "round_trips_per_second" in local else "—")
            for key, v in sorted(redis.items(), key=lambda kv: int(re.sub(r"\D", "", kv[0].split("inflight:")[-1]) or 0)):
                if "round_trips_per_second" not in v:
                    continue
                inflight = key.split("inflight:")[-1].split("/")[0]
                self.table.add(f"fleet: Redis admit+settle round trips/s, {inflight} in flight",
                               f"{rate(v['round_trips_per_second'])}, admit p99 {v.get('admit_p99_us', 0):.0f} µs",
                               peer, ratio(v["round_trips_per_second"], local["round_trips_per_second"])
                               if local and local.get("round_trips_per_second") else "—")

    # ---- output --------------------------------------------------------------------------------
    def write(self, mode):
        for area in (self.proxy, self.gateway, self.blocklist, self.bpf, self.audit, self.budget,
                     self.policy, self.fleet):
            area()
        statuses = []
        for path in sorted(glob.glob(os.path.join(self.raw, "*.status"))):
            name = os.path.basename(path)[:-len(".status")]
            statuses.append(f"`{name}`: {self.status(name)}")
        cpu = next((l.split(":", 1)[1].strip() for l in (read("/proc/cpuinfo") or "").splitlines()
                    if l.startswith("model name")), platform.processor())
        load = (read("/proc/loadavg") or "").split()[:3]
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        out = [
            "# Benchmark results",
            "",
            f"Produced by `bench/run-all{' --full' if mode == 'full' else ''}` on {now} ({mode} mode).",
            "",
            f"> **Caveat:** these figures come from a **shared {os.cpu_count()}-core machine** ({cpu}, "
            f"kernel {platform.release()}) that was building other branches at the same time "
            f"(load average at the end: {' '.join(load)}). Treat absolute numbers as a lower bound and "
            "compare ratios; re-run `bench/run-all --full` on an idle machine for release figures.",
            "",
            "ratio = sallyport ÷ peer (for rates higher is better; for latency lower is better). "
            "Peers run side by side in the same run on loopback.",
            "",
            self.table.markdown(),
            "",
        ]
        for name, caption in self.plots:
            out += [f"![{caption}]({name})", ""]
        for title, body in self.sections:
            out += [f"## {title}", "", body, ""]
        out += ["## Runs", "", "Each benchmark's last run (status, duration, mode, build directory):", ""]
        out += [f"- {line}" for line in statuses]
        binaries = read(os.path.join(self.raw, "binaries.txt"))
        if binaries:
            out += ["", "Binaries of the last run:", "", "```", binaries.strip(), "```"]
        out += ["",
                "Raw outputs of every benchmark are in [raw/](raw/). Regenerate the table from them with "
                "`/usr/bin/python3 bench/run_all_report.py --raw bench/results/raw --out bench/results`.", ""]
        with open(os.path.join(self.out, "RESULTS.md"), "w") as f:
            f.write("\n".join(out))
        return now, load

    def update_readme(self, readme, now, load):
        """Replaces the table between the bench-table markers of README.md (if both exist)."""
        text = read(readme)
        if text is None:
            return
        start = text.find("<!-- bench-table:start")
        end = text.find("<!-- bench-table:end -->")
        if start < 0 or end < start:
            return
        start = text.index("\n", start) + 1
        body = (f"Last run: {now}, on a shared {os.cpu_count()}-core machine under load "
                f"({' '.join(load)}); details, plots and raw outputs in "
                "[bench/results/RESULTS.md](bench/results/RESULTS.md).\n\n" + self.table.markdown() + "\n")
        with open(readme, "w") as f:
            f.write(text[:start] + body + text[end:])


def main():
    parser = argparse.ArgumentParser(description="bench/run-all report writer")
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="quick")
    parser.add_argument("--readme", help="README.md whose bench-table markers get the summary table")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*.png")):
        os.unlink(old)
    report = Report(args.raw, args.out, args.out)
    now, load = report.write(args.mode)
    if args.readme:
        report.update_readme(args.readme, now, load)


if __name__ == "__main__":
    main()
