#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/ offline and strictly:
#
# 1. every manifest (each document of each .yaml file, the kustomization
#    excepted) against the Kubernetes JSON schemas of two versions, with
#    unknown fields as errors (`--strict`) and an unknown kind or apiVersion as
#    an error (the tool only warns about those, so a warning fails here too).
#    The schemas come inside the PyPI package kubernetes-validate (pinned), so
#    nothing is downloaded at validation time;
# 2. what a schema cannot see: every manifest of deploy/kubernetes is listed in
#    its kustomization (the example Secret and the one-off Job excepted), the
#    selectors match the pods' labels, the Secrets and keys the pods read are
#    the ones secret.example.yaml shows, the image tag is Cargo.toml's version.
#
#   .ci/deploy.sh [DIR]        (default: deploy/)
#
# Environment: DEPLOY_VENV (default target/deploy-venv). Needs python3 (with
# venv) and PyPI for the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE_VERSION=1.37.0
# The oldest version the manifests are meant for (backoffLimitPerIndex is GA
# from 1.33) and the newest the package ships.
KUBERNETES_VERSIONS=(1.33.0 1.37.0)
DIR="${1:-deploy}"
VENV="${DEPLOY_VENV:-target/deploy-venv}"

if ! "$VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

mapfile -t manifests < <(find "$DIR" -name '*.yaml' ! -name 'kustomization.yaml' | sort)
if [[ ${#manifests[@]} -eq 0 ]]; then
    echo "deploy.sh: no manifests under $DIR" >&2
    exit 1
fi

status=0
for version in "${KUBERNETES_VERSIONS[@]}"; do
    out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}" 2>&1)" || status=1
    if [[ -n "$out" ]]; then
        echo "$out" >&2
        # A warning is a kind or apiVersion without a schema: a typo, or a
        # resource the cluster would not know.
        status=1
    fi
done
if [[ $status -ne 0 ]]; then
    echo "deploy.sh: the manifests do not validate" >&2
    exit 1
fi
echo "deploy.sh: ${#manifests[@]} manifest files valid (strict) against Kubernetes ${KUBERNETES_VERSIONS[*]}"

"$VENV/bin/python" - "$DIR/kubernetes" <<'PY'
import pathlib, re, sys
import yaml

root = pathlib.Path(sys.argv[1])
errors = []
docs = {}
for path in sorted(root.glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            docs.setdefault(doc["kind"], []).append((path.name, doc))

def one(kind):
    found = docs.get(kind, [])
    if len(found) != 1:
        errors.append(f"expected one {kind}, found {len(found)}")
        return {}
    return found[0][1]

kustomization = one("Kustomization")
listed = set(kustomization.get("resources", []))
for name in sorted(listed):
    if not (root / name).is_file():
        errors.append(f"kustomization.yaml lists {name}, which does not exist")
left_out = {"kustomization.yaml", "secret.example.yaml", "indexed-job.yaml"}
for path in sorted(root.glob("*.yaml")):
    if path.name not in listed | left_out:
        errors.append(f"{path.name} is not listed in kustomization.yaml")

deployment = one("Deployment")
pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
for kind, selector in [
    ("Deployment", deployment["spec"]["selector"]["matchLabels"]),
    ("Service", one("Service").get("spec", {}).get("selector", {})),
    ("PodDisruptionBudget", one("PodDisruptionBudget").get("spec", {}).get("selector", {}).get("matchLabels", {})),
]:
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        errors.append(f"the {kind}'s selector {selector} does not select the pods {pod_labels}")

secrets = {d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {}))
           for _, d in docs.get("Secret", [])}
def check_secret(where, name, key):
    if key not in secrets.get(name, set()):
        errors.append(f"{where} reads key {key!r} of Secret {name!r}, which secret.example.yaml lacks")

for file, doc in docs.get("Deployment", []) + docs.get("Job", []):
    spec = doc["spec"]["template"]["spec"]
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            for item in volume["secret"].get("items", []):
                check_secret(file, volume["secret"]["secretName"], item["key"])
    for container in spec["containers"]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check_secret(file, ref["name"], ref["key"])

cargo = pathlib.Path("Cargo.toml").read_text()
version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
for container in deployment["spec"]["template"]["spec"]["containers"]:
    if container["image"] != f"gradest:{version}":
        errors.append(f"deployment.yaml runs {container['image']}, Cargo.toml is at {version}")
tags = [i.get("newTag") for i in kustomization.get("images", []) if i.get("name") == "gradest"]
if tags and tags != [version]:
    errors.append(f"kustomization.yaml tags gradest {tags}, Cargo.toml is at {version}")

for e in errors:
    print(f"deploy.sh: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print("deploy.sh: kustomization, selectors, Secrets and image tag consistent")
PY
