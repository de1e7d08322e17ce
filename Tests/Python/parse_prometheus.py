#!/usr/bin/env python3
"""Parses Prometheus text (a file, or standard input) with the official client library's parser and prints the
families as JSON: {name: {"type": ..., "samples": [[sample name, labels, value], ...]}}. Exit 1 when it does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
families = {}
try:
    for family in text_string_to_metric_families(text):
        if family.name in families:
            raise ValueError(f"metric family {family.name} appears twice")
        families[family.name] = {"type": family.type,
                                 "samples": [[s.name, s.labels, s.value] for s in family.samples]}
except Exception as e:  # the parser raises ValueError and others on malformed text
    print(f"does not parse: {e}", file=sys.stderr)
    sys.exit(1)
json.dump(families, sys.stdout)
