"""A `helm` command line for the tests, over Helm's Go engine.

No helm binary can be installed on our machines, but helm-python-sdk
bundles Helm's engine (libhelm_c). This script answers the subset of
`helm template` that storeplane's `HelmBinary` renderer runs:

    helm_cli.py template NAME CHART --namespace NS --kube-version V
                --values - [--api-versions X]...

It prints what `helm template` prints: the sorted manifest of an install
dry run. Hooks are not printed (the SDK's release does not carry them) and
`--is-upgrade` is refused, so tests use it for plain installs only.
"""

import argparse
import json
import sys

import helm_python


def main():
    parser = argparse.ArgumentParser(prog="helm")
    sub = parser.add_subparsers(dest="command", required=True)
    template = sub.add_parser("template")
    template.add_argument("name")
    template.add_argument("chart")
    template.add_argument("--namespace", default="default")
    template.add_argument("--kube-version")
    template.add_argument("--values", action="append", default=[])
    template.add_argument("--api-versions", action="append", default=[])
    template.add_argument("--is-upgrade", action="store_true")
    args = parser.parse_args()
    if args.is_upgrade:
        sys.exit("Error: --is-upgrade is not supported by this test shim")
    values = {}
    for source in args.values:
        text = sys.stdin.read() if source == "-" else open(source).read()
        values.update(json.loads(text) if text.strip() else {})
    try:
        with helm_python.Chart.load(args.chart) as chart:
            with helm_python.Config(storage_driver="memory", namespace=args.namespace) as cfg:
                release = cfg.install(chart, args.name, values, dry_run="client", namespace=args.namespace)
    except helm_python.HelmError as e:
        sys.exit(f"Error: {e}")
    sys.stdout.write(release["manifest"])


if __name__ == "__main__":
    main()
