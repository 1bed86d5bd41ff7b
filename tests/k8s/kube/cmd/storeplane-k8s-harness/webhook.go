package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
)

const (
	// failAnnotation is the simulated cluster's fault vocabulary
	// (control-plane/sim-cluster/README.md, "Failure injection").
	failAnnotation = "sim.storeplane.io/fail"
	// effectiveAnnotation is stamped on new Pods by the webhook and is what
	// the kwok Stages select on. Values: image-pull, crash-loop, job-fail
	// (only on Job-owned Pods), never-ready.
	effectiveAnnotation = "sim.storeplane.io/effective-fail"
	// sourceAnnotation says where the fault came from ("Namespace/x",
	// "Deployment/y", "Pod"), for whoever debugs a test.
	sourceAnnotation = "sim.storeplane.io/effective-fail-source"
)

// parseFault accepts the same values (and aliases) as the simulated
// cluster's `Failure::from_str`; anything else means "no fault", as there.
func parseFault(v string) string {
	switch strings.TrimSpace(v) {
	case "image-pull", "ImagePull", "ErrImagePull":
		return "image-pull"
	case "crash-loop", "CrashLoop", "CrashLoopBackOff":
		return "crash-loop"
	case "job-fail", "JobFail", "BackoffLimitExceeded":
		return "job-fail"
	case "never-ready", "NeverReady":
		return "never-ready"
	}
	return ""
}

// ownerKinds maps the controller kinds we follow up the owner chain to their
// resources. Others (custom controllers) end the walk.
var ownerKinds = map[string]schema.GroupVersionResource{
	"apps/ReplicaSet":        {Group: "apps", Version: "v1", Resource: "replicasets"},
	"apps/Deployment":        {Group: "apps", Version: "v1", Resource: "deployments"},
	"apps/StatefulSet":       {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"apps/DaemonSet":         {Group: "apps", Version: "v1", Resource: "daemonsets"},
	"batch/Job":              {Group: "batch", Version: "v1", Resource: "jobs"},
	"batch/CronJob":          {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"/ReplicationController": {Version: "v1", Resource: "replicationcontrollers"},
}

type webhook struct {
	client kubernetes.Interface
	meta   metadata.Interface
}

func (wh *webhook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	patch, err := wh.mutate(r.Context(), review.Request)
	if err != nil {
		// Refuse rather than let a pod run without its fault: the caller
		// (a controller) retries, and the error is in its events.
		klog.ErrorS(err, "resolving the fault", "namespace", review.Request.Namespace, "name", review.Request.Name)
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
			Message: "storeplane-k8s-harness: " + err.Error()}
	} else if len(patch) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	review.Response, review.Request = resp, nil
	out, _ := json.Marshal(review)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func (wh *webhook) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, err
	}
	ns := req.Namespace
	fault, source, err := wh.resolve(ctx, ns, &pod)
	if err != nil {
		return nil, err
	}
	if fault == "job-fail" && !ownedBy(&pod, "batch", "Job") {
		// As in the simulated cluster: job-fail on a Deployment or
		// StatefulSet behaves like crash-loop.
		fault = "crash-loop"
	}
	var ops []jsonPatchOp
	ann := pod.Annotations
	if fault == "" {
		// The annotations are ours: drop stale copies (a pod template
		// copied from a live pod, say).
		for _, k := range []string{effectiveAnnotation, sourceAnnotation} {
			if _, ok := ann[k]; ok {
				ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/annotations/" + escape(k)})
			}
		}
	} else {
		if ann == nil {
			ops = append(ops, jsonPatchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{}})
		}
		ops = append(ops,
			jsonPatchOp{Op: "add", Path: "/metadata/annotations/" + escape(effectiveAnnotation), Value: fault},
			jsonPatchOp{Op: "add", Path: "/metadata/annotations/" + escape(sourceAnnotation), Value: source})
		klog.V(2).InfoS("fault stamped", "namespace", ns, "pod", pod.Name+pod.GenerateName, "fault", fault, "source", source)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return json.Marshal(ops)
}

// resolve returns the fault in force for a new pod: its own annotation, then
// each controller up its owner chain (nearest first), then its namespace's.
func (wh *webhook) resolve(ctx context.Context, ns string, pod *corev1.Pod) (fault, source string, err error) {
	if f := parseFault(pod.Annotations[failAnnotation]); f != "" {
		return f, "Pod", nil
	}
	refs := pod.OwnerReferences
	for depth := 0; depth < 5; depth++ {
		ref := metav1.GetControllerOfNoCopy(&metav1.ObjectMeta{OwnerReferences: refs})
		if ref == nil {
			break
		}
		gv, perr := schema.ParseGroupVersion(ref.APIVersion)
		if perr != nil {
			break
		}
		gvr, ok := ownerKinds[gv.Group+"/"+ref.Kind]
		if !ok {
			break
		}
		owner, gerr := wh.meta.Resource(gvr).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		if gerr != nil {
			// The owner can already be gone (a pod created while its
			// ReplicaSet is being deleted); its namespace still decides.
			klog.V(2).InfoS("owner lookup failed", "kind", ref.Kind, "name", ref.Name, "err", gerr)
			break
		}
		// The Deployment controller copies a Deployment's annotations to
		// its ReplicaSets but never removes them: a Deployment-owned
		// ReplicaSet's copy would outlive a fault cleared on the
		// Deployment, so only the Deployment's own annotation counts.
		derived := ref.Kind == "ReplicaSet" && ownedByKind(owner.OwnerReferences, "apps", "Deployment")
		if f := parseFault(owner.Annotations[failAnnotation]); f != "" && !derived {
			return f, ref.Kind + "/" + ref.Name, nil
		}
		refs = owner.OwnerReferences
	}
	nsObj, err := wh.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	if f := parseFault(nsObj.Annotations[failAnnotation]); f != "" {
		return f, "Namespace/" + ns, nil
	}
	return "", "", nil
}

func ownedBy(pod *corev1.Pod, group, kind string) bool {
	return ownedByKind(pod.OwnerReferences, group, kind)
}

// ownedByKind says whether the controller among refs is a group/kind.
func ownedByKind(refs []metav1.OwnerReference, group, kind string) bool {
	ref := metav1.GetControllerOfNoCopy(&metav1.ObjectMeta{OwnerReferences: refs})
	if ref == nil || ref.Kind != kind {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == group
}

// escape makes a map key a JSON Pointer token (RFC 6901).
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
