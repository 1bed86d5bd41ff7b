#!/usr/bin/env bash
# Checks a cluster started by `cargo xtask cluster up` against what the
# end-to-end tests rely on (tests/k8s/README.md, "Verification"):
#   eval "$(cargo xtask cluster env)" && bash tests/k8s/verify.sh
# Uses only kubectl and helm from target/k8s/bin; creates namespaces named
# verify-* and deletes them again. Ends with "N passed, N failed".
set -uo pipefail

: "${KUBECONFIG:?run eval \"\$(cargo xtask cluster env)\" first}"
kc() { kubectl --request-timeout=20s "$@"; }
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if out=$("$@" 2>&1); then ok "$what"; else ko "$what: $out"; fi
}
# jsonpath of an object, e.g. get verify-x deploy/app '{.status.readyReplicas}'
get() { kc -n "$1" get "$2" -o "jsonpath=$3" 2>/dev/null; }
eventually() { # eventually SECONDS DESCRIPTION COMMAND...: retries every 0.5 s
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs)) out
	while :; do
		if out=$("$@" 2>&1); then ok "$what"; return 0; fi
		if ((SECONDS >= end)); then ko "$what (after ${secs}s): $out"; return 1; fi
		sleep 0.5
	done
}
equals() { [[ "$1" == "$2" ]] || { echo "got '$1', want '$2'"; return 1; }; }
ns() { kc create namespace "$1" >/dev/null; }
sts() { # a StatefulSet with a volumeClaimTemplate
	kc -n "$1" apply -f - >/dev/null <<-'EOF'
	apiVersion: apps/v1
	kind: StatefulSet
	metadata: {name: db}
	spec:
	  serviceName: db
	  replicas: 2
	  selector: {matchLabels: {app: db}}
	  template:
	    metadata: {labels: {app: db}}
	    spec:
	      containers: [{name: db, image: postgres:17}]
	  volumeClaimTemplates:
	  - metadata: {name: data}
	    spec:
	      accessModes: [ReadWriteOnce]
	      resources: {requests: {storage: 1Gi}}
	EOF
}

kc delete namespace -l verify=storeplane --wait=true >/dev/null 2>&1

# -- nodes, workloads, storage
ready_nodes() { kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True; }
export -f kc ready_nodes
eventually 30 "at least 2 Nodes Ready" bash -c '[ "$(ready_nodes)" -ge 2 ]'
ns verify-ok
kc label namespace verify-ok verify=storeplane >/dev/null
kc -n verify-ok create deployment web --image=nginx:1.27 --replicas=3 >/dev/null
check "Deployment becomes Available" kc -n verify-ok rollout status deploy/web --timeout=30s
sts verify-ok
check "StatefulSet with a volumeClaimTemplate becomes ready" kc -n verify-ok rollout status sts/db --timeout=30s
eventually 10 "its PVCs are Bound" bash -c "[ \"\$(kubectl -n verify-ok get pvc -o jsonpath='{.items[*].status.phase}')\" = 'Bound Bound' ]"
kc -n verify-ok create job hello --image=busybox -- echo hi >/dev/null
check "Job completes" kc -n verify-ok wait job/hello --for=condition=Complete --timeout=30s

# -- admission: LimitRange, ResourceQuota, PodSecurity
ns verify-quota
kc label namespace verify-quota verify=storeplane >/dev/null
kc -n verify-quota apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec:
  hard: {requests.cpu: "1", requests.memory: 1Gi, pods: "5"}
EOF
kc -n verify-quota run small --image=nginx >/dev/null
check "LimitRange defaults appear on a pod" equals \
	"$(get verify-quota pod/small '{.spec.containers[0].resources.requests.cpu}/{.spec.containers[0].resources.limits.memory}')" "100m/256Mi"
if out=$(kc -n verify-quota run big --image=nginx \
	--overrides='{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"requests":{"cpu":"2"},"limits":{"cpu":"2"}}}]}}' 2>&1); then
	ko "a pod over quota is refused: it was created"
else
	[[ $out == *"exceeded quota"* ]] && ok "a pod over quota is refused" || ko "pod over quota: $out"
fi
ns verify-psa
kc label namespace verify-psa verify=storeplane pod-security.kubernetes.io/enforce=restricted >/dev/null
if out=$(kc -n verify-psa run priv --image=nginx --privileged 2>&1); then
	ko "PodSecurity restricted refuses a privileged pod: it was created"
else
	[[ $out == *"violates PodSecurity"* ]] && ok "PodSecurity restricted refuses a privileged pod" || ko "privileged pod: $out"
fi

# -- failure injection, per namespace
pod_field() { kc -n "$1" get pods -l app=app -o "jsonpath={range .items[*]}$2{\"\\n\"}{end}" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
for fault in image-pull crash-loop never-ready job-fail; do
	n=verify-fail-$fault
	ns "$n"
	kc label namespace "$n" verify=storeplane >/dev/null
	kc annotate namespace "$n" sim.storeplane.io/fail=$fault >/dev/null
	kc -n "$n" create deployment app --image=nginx --replicas=2 >/dev/null
	kc -n "$n" create job job --image=busybox -- true >/dev/null
done
want_pod() { # namespace phase ready waiting-reason restarts
	local n=$1
	equals "$(pod_field "$n" '{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}/{.status.containerStatuses[0].state.waiting.reason}/{.status.containerStatuses[0].restartCount}')" "$2/$3/$4/$5"
}
export -f want_pod pod_field equals
eventually 15 "image-pull: pods Pending, ImagePullBackOff" bash -c 'want_pod verify-fail-image-pull Pending False ImagePullBackOff 0'
eventually 15 "crash-loop: pods Running, CrashLoopBackOff, restartCount 3" bash -c 'want_pod verify-fail-crash-loop Running False CrashLoopBackOff 3'
eventually 15 "never-ready: pods Running, not Ready" bash -c 'want_pod verify-fail-never-ready Running False "" 0'
eventually 15 "job-fail: Deployment pods crash-loop" bash -c 'want_pod verify-fail-job-fail Running False CrashLoopBackOff 3'
for fault in image-pull crash-loop never-ready job-fail; do
	check "$fault: Deployment not Available" equals \
		"$(get verify-fail-$fault deploy/app '{.status.conditions[?(@.type=="Available")].status}')" "False"
done
check "job-fail: Job Failed with BackoffLimitExceeded" \
	kc -n verify-fail-job-fail wait job/job --for=condition=Failed --timeout=60s
check "job-fail: status.failed = backoffLimit + 1" equals \
	"$(get verify-fail-job-fail job/job '{.status.failed}/{.status.conditions[?(@.type=="Failed")].reason}')" "7/BackoffLimitExceeded"
check "image-pull: the Job stays active" equals "$(get verify-fail-image-pull job/job '{.status.active}')" "1"

# -- clearing the fault: running pods recover in place, new rollouts are clean
for fault in image-pull crash-loop never-ready job-fail; do
	kc annotate namespace verify-fail-$fault sim.storeplane.io/fail- >/dev/null
done
for fault in image-pull crash-loop never-ready job-fail; do
	check "$fault cleared: existing pods become Ready" \
		kc -n verify-fail-$fault rollout status deploy/app --timeout=20s
	kc -n verify-fail-$fault rollout restart deploy/app >/dev/null
	check "$fault cleared: a new rollout becomes ready" \
		kc -n verify-fail-$fault rollout status deploy/app --timeout=20s
done
check "a failed Job stays Failed (terminal, as in Kubernetes)" equals \
	"$(get verify-fail-job-fail job/job '{.status.conditions[?(@.type=="Failed")].status}')" "True"
kc -n verify-fail-job-fail delete job job --wait=true >/dev/null
kc -n verify-fail-job-fail create job job --image=busybox -- true >/dev/null
check "job-fail cleared: a recreated Job completes" \
	kc -n verify-fail-job-fail wait job/job --for=condition=Complete --timeout=30s

# -- helm
chart=$(mktemp -d)
mkdir -p "$chart/c/templates"
printf 'apiVersion: v2\nname: c\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n' >"$chart/c/Chart.yaml"
cat >"$chart/c/templates/all.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-web}
spec:
  replicas: 2
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: {{ .Release.Name }}-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations: {"helm.sh/hook": post-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
EOF
export HELM_CACHE_HOME=$chart/cache HELM_CONFIG_HOME=$chart/config HELM_DATA_HOME=$chart/data
check "helm install --wait of a chart (Deployment, PVC, hook Job)" \
	helm install demo "$chart/c" -n verify-helm --create-namespace --wait --timeout 60s
kc label namespace verify-helm verify=storeplane >/dev/null 2>&1
check "helm uninstall" helm uninstall demo -n verify-helm --wait --timeout 60s
rm -rf "$chart"

# -- namespace deletion: Terminating, then gone, volumes released and deleted
pvs_before=$(kc get pv -o jsonpath='{range .items[?(@.spec.claimRef.namespace=="verify-ok")]}{.metadata.name} {end}')
kc delete namespace verify-ok --wait=false >/dev/null
check "a deleted namespace is Terminating" equals "$(get '' namespace/verify-ok '{.status.phase}')" "Terminating"
start=$SECONDS
check "... and then gone" kc wait --for=delete namespace/verify-ok --timeout=60s
echo "      (namespace deletion took $((SECONDS - start))s)"
eventually 10 "its PersistentVolumes are deleted" bash -c \
	"for pv in $pvs_before; do kubectl get pv \$pv >/dev/null 2>&1 && { echo \"\$pv remains\"; exit 1; }; done; exit 0"

kc delete namespace -l verify=storeplane --wait=false >/dev/null 2>&1
echo "$pass passed, $fail failed"
((fail == 0))
