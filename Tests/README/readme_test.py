#!/usr/bin/env python3
"""Runs every ```sh block of README.md as written, against a server set up the way `make run` sets it up.

`make run` generates demo data (seed 42, the 30 days up to today), imports it into ./data/store, creates demo keys
and serves on 127.0.0.1:8080. This test does the same with fewer rows, in a temporary directory that holds
./data/store, on a free port; then runs each ```sh block of the README in that directory with bash (`set -euo
pipefail`), substituting only what `make run` prints differently on every machine: the keys (READER=tly_...,
WRITER=tly_..., ADMIN=tly_...) and the port. A block fails when a command fails, when curl gets an HTTP error,
or when an answer holds no data (a usage or cost answer whose totals count nothing, a command that stores or
exports nothing): examples that "work" on an empty window are as wrong as ones that fail.

Usage: readme_test.py TALLY_BINARY [README.md]
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

ROWS = 60_000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python_examples(readme):
    """The ```python blocks the README's commands run as files: (file name, text). The block marked
    <!-- otlp-example:start --> is `example.py`, one marked <!-- NAME-example:start --> is `NAME_example.py`."""
    out = []
    for m in re.finditer(r"<!-- ([a-z]+)-example:start -->\s*```python\n(.*?)\n```", readme, re.S):
        name = "example.py" if m.group(1) == "otlp" else m.group(1) + "_example.py"
        out.append((name, m.group(2) + "\n"))
    return out


def blocks(readme):
    """The ```sh blocks with the line each starts at."""
    out, lines, i = [], readme.split("\n"), 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, body = i + 1, []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append((start + 1, "\n".join(body)))
        i += 1
    return out


def json_documents(text):
    """Every JSON object or array printed one after another (curl answers, NDJSON lines)."""
    decoder, i, docs = json.JSONDecoder(), 0, []
    while i < len(text):
        while i < len(text) and text[i] not in "{[":
            i += 1
        if i >= len(text):
            break
        try:
            doc, end = decoder.raw_decode(text, i)
            docs.append(doc)
            i = end
        except json.JSONDecodeError:
            i += 1
    return docs


def empty_answers(output):
    """Why an output shows no data, or None."""
    for doc in json_documents(output):
        if not isinstance(doc, dict):
            continue
        totals = doc.get("totals")
        if isinstance(totals, dict) and totals.get("count", 1) == 0:
            return "an answer's totals count no record: " + json.dumps(totals)
        for key in ("series", "breakdown", "items"):
            if key in doc and isinstance(doc[key], list) and not doc[key]:
                return f"an answer's {key} is empty"
    if re.search(r"\bstored 0 records", output):
        return "a client stored nothing"
    m = re.search(r"inserted (\d+), duplicates (\d+)", output)
    if m and m.group(1) == "0" and m.group(2) == "0":
        return "an import stored nothing"
    return None


def main():
    tally = os.path.abspath(sys.argv[1])
    readme_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    readme = open(readme_path).read()
    work = tempfile.mkdtemp(prefix="tally-readme-")
    data = os.path.join(work, "data", "store")
    os.makedirs(os.path.dirname(data))
    port = free_port()
    today = datetime.now(timezone.utc).strftime("%Y-%m-%dT00:00:00Z")
    server = None
    try:
        # What `make run` does (Makefile, target run), with fewer rows.
        gen = subprocess.Popen([tally, "generate", "--rows", str(ROWS), "--days", "30", "--seed", "42", "--end", today,
                                "--format", "csv", "--out", "-"], stdout=subprocess.PIPE)
        subprocess.run([tally, "import", "--data", data, "--format", "csv", "-"], stdin=gen.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        gen.wait()
        subprocess.run([tally, "keys", "demo", "--data", data, "--port", str(port)], check=True, stdout=subprocess.DEVNULL)
        keys = dict(line.split("=", 1) for line in open(os.path.join(data, "demo-keys.txt")).read().split() if "=" in line)
        log = open(os.path.join(work, "serve.log"), "w")
        server = subprocess.Popen([tally, "serve", "--data", data, "--port", str(port)], stdout=log, stderr=log)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/analytics/health", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise SystemExit("tally serve did not answer")

        for name, example in python_examples(readme):
            with open(os.path.join(work, name), "w") as f:
                f.write(example)
        # `pip install ./clients/python` as written, from the checkout (the README's commands run in a checkout).
        os.symlink(os.path.join(ROOT, "clients"), os.path.join(work, "clients"))
        bin_dir = os.path.dirname(tally)
        prelude = "\n".join([
            "set -euo pipefail",
            f'export PATH="{bin_dir}:$PATH"',
            # What `make run` printed, for blocks that use the keys without setting them.
            f'export READER={keys["READER_KEY"]} WRITER={keys["WRITER_KEY"]} ADMIN={keys["ADMIN_KEY"]}',
            # An HTTP error is a failed command, as it would be to a reader checking the answer.
            'curl() { command curl --fail-with-body "$@"; }',
        ])
        found = blocks(readme)
        assert found, "README.md has no ```sh block"
        failures = 0
        for line, body in found:
            script = body
            script = re.sub(r"READER=tly_\S*", "READER=" + keys["READER_KEY"], script)
            script = re.sub(r"WRITER=tly_\S*", "WRITER=" + keys["WRITER_KEY"], script)
            script = re.sub(r"ADMIN=tly_\S*", "ADMIN=" + keys["ADMIN_KEY"], script)
            script = script.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            # The binary the README puts on PATH is the release build of `make run`; run the one under test.
            script = script.replace('"$PWD/.build/release:$PATH"', f'"{bin_dir}:$PATH"')
            run = subprocess.run(["bash", "-c", prelude + "\n" + script], cwd=work, capture_output=True, text=True,
                                 timeout=300)
            problem = None
            if run.returncode != 0:
                problem = f"exit status {run.returncode}"
            else:
                problem = empty_answers(run.stdout + run.stderr)
            status = "ok" if problem is None else "FAILED: " + problem
            print(f"README.md:{line}: {status}")
            if problem:
                failures += 1
                print("--- script ---\n" + script + "\n--- stdout ---\n" + run.stdout[-3000:] + "\n--- stderr ---\n"
                      + run.stderr[-3000:])
        print(f"{len(found)} README blocks, {failures} failed")
        sys.exit(1 if failures else 0)
    finally:
        if server:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
