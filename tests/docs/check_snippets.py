#!/usr/bin/python3
"""Checks the config and policy examples in the docs against the real binary.

    check_snippets.py SALLYPORT_BIN REPO_ROOT

Every fenced block opened with ```json config is written to a temp file and must pass
`sallyport check-config`; every ```json policy block must pass `sallyport policy check`.
A block opened with ```json config-invalid / policy-invalid must FAIL the check (examples of
errors). Secrets the examples reference through {"env": NAME} are set to dummy values.
In a ```console checked block, each `$ sallyport …` line is run from the repo root and its output
(stdout + stderr) must equal the lines that follow it, up to the next `$ ` line."""
import shlex
import difflib
import glob
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(?:json (config|policy|config-invalid|policy-invalid)|console (checked))\s*$")


def blocks(path):
    """Yields (kind, first line number, text) for each tagged block of a Markdown file."""
    kind, start, lines = None, 0, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if kind is None:
                match = FENCE.match(line)
                if match:
                    kind, start, lines = match.group(1) or match.group(2), number + 1, []
            elif line.startswith("```"):
                yield kind, start, "".join(lines)
                kind = None
            else:
                lines.append(line)
    if kind is not None:
        raise SystemExit(f"{path}:{start}: unterminated ```json {kind} block")


def console_block(binary, root, path, first_line, text):
    """Runs each `$ sallyport ...` command of a console block; yields (where, problem or None)."""
    commands = []  # [line number, command, expected output lines]
    for offset, line in enumerate(text.splitlines()):
        if line.startswith("$ "):
            commands.append([first_line + offset, line[2:], []])
        elif commands:
            commands[-1][2].append(line)
    for number, command, expected in commands:
        argv = shlex.split(command)
        where = f"{os.path.relpath(path, root)}:{number} ({command[:60]})"
        if argv[0] != "sallyport":
            yield where, "console checked blocks may only run sallyport"
            continue
        result = subprocess.run([binary] + argv[1:], capture_output=True, text=True, cwd=root, timeout=30)
        got = (result.stdout + result.stderr).rstrip("\n").splitlines()
        if got != expected:
            yield where, "output differs:\n" + "\n".join(difflib.unified_diff(expected, got, "docs", "actual", lineterm=""))
        else:
            yield where, None


def main():
    binary, root = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(root, "docs", "*.md"))) + [os.path.join(root, "README.md")]
    env = dict(os.environ)
    checked, failures = 0, []
    with tempfile.TemporaryDirectory(prefix="sallyport-docs-") as tmp:
        for path in files:
            for kind, line, text in blocks(path):
                if kind == "checked":
                    for where, problem in console_block(binary, root, path, line, text):
                        checked += 1
                        (failures.append(f"{where}: {problem}") if problem else print(f"ok   {where}"))
                    continue
                for name in set(re.findall(r'"env":\s*"([A-Za-z_][A-Za-z0-9_]*)"', text)):
                    env.setdefault(name, "docs-test-dummy")
                snippet = os.path.join(tmp, f"snippet{checked}.json")
                with open(snippet, "w") as f:
                    f.write(text)
                command = ([binary, "check-config", snippet] if kind.startswith("config")
                           else [binary, "policy", "check", snippet])
                result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
                should_pass = not kind.endswith("-invalid")
                where = f"{os.path.relpath(path, root)}:{line} ({kind})"
                checked += 1
                if (result.returncode == 0) != should_pass:
                    failures.append(f"{where}: exit {result.returncode}, expected "
                                    f"{'success' if should_pass else 'failure'}\n"
                                    f"{result.stdout}{result.stderr}")
                else:
                    print(f"ok   {where}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{checked} snippets checked, {len(failures)} failed")
    if checked == 0:
        print("no tagged snippets found: the docs lost their examples?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
