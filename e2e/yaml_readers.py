"""Reads a YAML stream from stdin with two real readers and prints what each saw, as JSON.

  {"yaml11": [...documents...], "yaml12": [...documents...]}

yaml11 is PyYAML (YAML 1.1 rules, like kubectl, Helm and kustomize: `yes`, `off`, `~`, `1:20`,
`2001-12-14` are not strings); yaml12 is ruamel.yaml in its default YAML 1.2 mode. A scalar that
JSON cannot hold (a date, a timestamp) is printed as {"$nonjson": repr}, so it never compares
equal to a string.
"""
import io
import json
import sys

import ruamel.yaml
import yaml


def nonjson(value):
    return {"$nonjson": repr(value)}


def main():
    text = sys.stdin.read()
    yaml11 = list(yaml.safe_load_all(text))
    reader12 = ruamel.yaml.YAML(typ="safe", pure=True)
    yaml12 = list(reader12.load_all(io.StringIO(text)))
    json.dump({"yaml11": yaml11, "yaml12": yaml12}, sys.stdout, default=nonjson)


main()
