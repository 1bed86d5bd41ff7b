"""Helm's side of the oracle test: real Helm (v4, through helm-python-sdk's
libhelm_c) renders the same chart with the same values, and
kubernetes-validate checks our manifests against the Kubernetes schemas.

Reads one JSON request on stdin, writes one JSON response on stdout.

Requests:
  {"op": "check"}
      -> {"helm": "<sdk version>", "kubernetes_validate": "<version>"}
  {"op": "render", "chart": DIR, "cases": [CASE, ...]}
      CASE = {"values": {...}, "name": str, "namespace": str,
              "revision": int, "is_upgrade": bool}
      -> {"results": [{"files": {path: text}, "manifest": str,
                        "notes": str, "objects": {path: [doc, ...]},
                        "merged": {...}} | {"error": str}, ...]}
  {"op": "parse_set", "expressions": [str, ...]}
      -> {"results": [{"value": {...}} | {"error": str}, ...]}
  {"op": "validate", "kube_version": "1.36.0", "objects": [obj, ...]}
      -> {"results": [null | "error text", ...]}
  {"op": "bench", "chart": DIR, "values": {...}, "iterations": N,
   "batches": B}
      -> {"results": {"render": seconds, "load_and_render": seconds}}
      (per render, in the fastest of B batches sharing the N iterations;
      B defaults to 1)

Values travel as JSON, so Helm decodes every number in them as a float64,
exactly as it does for values it reads from YAML files.
"""

import json
import re
import sys


def fail(message):
    json.dump({"fatal": message}, sys.stdout)
    sys.exit(0)


try:
    import helm_python
    import kubernetes_validate
    import kubernetes_validate.utils
    import yaml
except ImportError as e:  # pragma: no cover - reported to the Rust test
    fail(f"missing Python module: {e}. Install helm-python-sdk==0.2.2 and kubernetes-validate==1.37.0")


# Helm's releaseutil.SplitManifests separator.
SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def parse_docs(text):
    """Split as Helm does, then read each document with PyYAML (YAML 1.1,
    like the Go YAML library Kubernetes uses)."""
    docs = []
    for chunk in SEPARATOR.split(text.lstrip()):
        if not chunk:
            continue
        doc = yaml.safe_load(chunk)
        if doc is not None:
            docs.append(doc)
    return docs


def render(chart_dir, cases):
    results = []
    with helm_python.Chart.load(chart_dir) as chart:
        for case in cases:
            values = case.get("values") or {}
            try:
                files = chart.render(
                    values,
                    name=case["name"],
                    namespace=case["namespace"],
                    revision=case.get("revision", 1),
                    is_install=not case.get("is_upgrade", False),
                    is_upgrade=case.get("is_upgrade", False),
                )
            except helm_python.HelmError as e:
                results.append({"error": str(e)})
                continue
            # The install action's client-only dry run builds the release
            # manifest exactly as `helm template` prints it (sorted, with
            # `# Source:` lines), hooks aside.
            # It is an install at revision 1, so only such cases get it.
            release = {"manifest": None}
            if case.get("revision", 1) == 1 and not case.get("is_upgrade", False):
                with helm_python.Config(storage_driver="memory", namespace=case["namespace"]) as cfg:
                    release = cfg.install(chart, case["name"], values, dry_run="client", namespace=case["namespace"])
            notes_key = f"{chart.name}/templates/NOTES.txt"
            objects = {}
            for path, text in files.items():
                if path.endswith("NOTES.txt"):
                    continue
                try:
                    objects[path] = parse_docs(text)
                except yaml.YAMLError as e:
                    objects[path] = [f"PyYAML could not parse: {e}"]
            results.append({
                "files": {p: t for p, t in files.items() if not p.endswith("NOTES.txt")},
                "manifest": release.get("manifest", ""),
                "notes": files.get(notes_key),
                "objects": objects,
                "merged": chart.merge_values(values),
            })
    return results


def parse_set(expressions):
    results = []
    for expression in expressions:
        try:
            results.append({"value": helm_python.parse_set_string(expression)})
        except helm_python.HelmError as e:
            results.append({"error": str(e)})
    return results


def bench(chart_dir, values, iterations, batches=1):
    """Seconds per render inside Helm's Go engine (plus the ctypes/JSON
    crossing), excluding Python start-up; "render" excludes chart loading
    too. The fastest of `batches` batches counts, as on the Rust side."""
    import time

    per_batch = max(1, iterations // batches)

    def fastest(body):
        best = float("inf")
        for _ in range(batches):
            start = time.perf_counter()
            for _ in range(per_batch):
                body()
            best = min(best, (time.perf_counter() - start) / per_batch)
        return best

    def load_and_render():
        with helm_python.Chart.load(chart_dir) as chart:
            chart.render(values, name="bench", namespace="bench")

    with helm_python.Chart.load(chart_dir) as chart:
        chart.render(values, name="bench", namespace="bench")  # warm-up
        render = fastest(lambda: chart.render(values, name="bench", namespace="bench"))
    return {"render": render, "load_and_render": fastest(load_and_render)}


def validate(kube_version, objects):
    results = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
            results.append(None)
        except kubernetes_validate.utils.SchemaNotFoundError:
            # A custom resource: there is no schema to hold it to.
            results.append(None)
        except kubernetes_validate.utils.ValidationError as e:
            caught = e.caught
            where = "/".join(str(p) for p in getattr(caught, "absolute_path", []))
            results.append(f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {getattr(caught, 'message', caught)} at /{where}")
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            results.append(f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}: {type(e).__name__}: {e}")
    return results


def main():
    request = json.load(sys.stdin)
    op = request["op"]
    if op == "check":
        response = {"helm": helm_python.helm_sdk_version(), "kubernetes_validate": kubernetes_validate.__version__ if hasattr(kubernetes_validate, "__version__") else "?"}
    elif op == "render":
        response = {"results": render(request["chart"], request["cases"])}
    elif op == "parse_set":
        response = {"results": parse_set(request["expressions"])}
    elif op == "bench":
        response = {"results": bench(request["chart"], request["values"], request["iterations"], request.get("batches", 1))}
    elif op == "validate":
        response = {"results": validate(request["kube_version"], request["objects"])}
    else:
        fail(f"unknown op {op}")
    json.dump(response, sys.stdout)


if __name__ == "__main__":
    main()
