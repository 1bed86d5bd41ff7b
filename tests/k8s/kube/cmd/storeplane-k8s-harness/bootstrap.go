package main

import (
	"context"
	"fmt"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

const (
	webhookConfigName = "storeplane-k8s-harness"
	// kwok manages exactly the Nodes with this annotation
	// (--manage-nodes-with-annotation-selector).
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
)

func waitForAPIServer(ctx context.Context, client kubernetes.Interface) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true,
		func(ctx context.Context) (bool, error) {
			body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err == nil && string(body) == "ok", nil
		})
}

// bootstrap creates (or updates) the cluster objects the harness owns.
func bootstrap(ctx context.Context, client kubernetes.Interface, o options, url string, caPEM []byte) error {
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        o.storageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:   provisionerName,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete),
		// Immediate: a claim binds without a consumer Pod, as `helm install
		// --wait` (which waits for PVCs to be Bound) and the simulated
		// cluster expect; the fake Nodes have no topology to honour anyway.
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		AllowVolumeExpansion: ptr.To(true),
	}
	if _, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating StorageClass: %w", err)
	}

	fail := admissionregv1.Fail
	none := admissionregv1.SideEffectClassNone
	equivalent := admissionregv1.Equivalent
	never := admissionregv1.NeverReinvocationPolicy
	scope := admissionregv1.NamespacedScope
	mwc := &admissionregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookConfigName},
		Webhooks: []admissionregv1.MutatingWebhook{{
			Name:         "fault.sim.storeplane.io",
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			Rules: []admissionregv1.RuleWithOperations{{
				Operations: []admissionregv1.OperationType{admissionregv1.Create},
				Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"pods"}, Scope: &scope},
			}},
			// Fail, not Ignore: a pod created while the webhook is
			// unreachable would silently lose its fault and make a test
			// flaky; refusing it is loud and the controllers retry.
			FailurePolicy:           &fail,
			MatchPolicy:             &equivalent,
			SideEffects:             &none,
			TimeoutSeconds:          ptr.To[int32](5),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &never,
		}},
	}
	cur, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookConfigName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{})
	case err == nil:
		mwc.ResourceVersion = cur.ResourceVersion
		_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, mwc, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering the webhook: %w", err)
	}

	for i := 0; i < o.nodes; i++ {
		name := fmt.Sprintf("%s%d", o.nodePrefix, i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
					"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
					"node-role.kubernetes.io/worker": "", "type": "kwok",
					"topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i),
				},
			},
			// Sized like a small real node, so quotas and requests stay
			// meaningful; kwok's node-initialize keeps these.
			Status: corev1.NodeStatus{
				Capacity:    nodeResources(),
				Allocatable: nodeResources(),
				NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64"},
			},
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil &&
			!apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	return nil
}

func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("32"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("250"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
}

// readyReport is what --ready-file holds.
type readyReport struct {
	Nodes          []string `json:"nodes"`
	WebhookURL     string   `json:"webhookURL"`
	StorageClass   string   `json:"storageClass"`
	HarnessSeconds float64  `json:"harnessSeconds"`
}

// checkReady waits until a plain pod is scheduled and becomes Ready (which
// needs the scheduler, kwok, the Nodes without their not-ready taint, the
// ServiceAccount controllers and this webhook), and the webhook stamps a
// fault (a server-side dry run still calls mutating webhooks).
func checkReady(ctx context.Context, client kubernetes.Interface, o options) (*readyReport, error) {
	ctx, cancel := context.WithTimeout(ctx, o.readyTimeout)
	defer cancel()
	report := &readyReport{StorageClass: o.storageClass}
	step := func(what string, cond wait.ConditionWithContextFunc) error {
		start := time.Now()
		if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, cond); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		klog.InfoS("ready", "what", what, "took", time.Since(start))
		return nil
	}
	if err := step("nodes Ready", func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		report.Nodes = report.Nodes[:0]
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					report.Nodes = append(report.Nodes, n.Name)
				}
			}
		}
		return len(report.Nodes) >= o.nodes, nil
	}); err != nil {
		return nil, err
	}
	for _, ns := range []string{"default", "kube-system"} {
		if err := step("ServiceAccount "+ns+"/default", func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return nil, err
		}
	}
	smoke := func(name string, ann map[string]string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Annotations: ann},
			Spec: corev1.PodSpec{
				Containers:                    []corev1.Container{{Name: "smoke", Image: "registry.invalid/smoke:1"}},
				TerminationGracePeriodSeconds: ptr.To[int64](1),
				AutomountServiceAccountToken:  ptr.To(false),
			},
		}
	}
	if err := step("webhook stamps faults", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("kube-system").Create(ctx,
			smoke("storeplane-smoke-fault", map[string]string{failAnnotation: "never-ready"}),
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			klog.V(2).InfoS("dry run", "err", err)
			return false, nil
		}
		if p.Annotations[effectiveAnnotation] != "never-ready" {
			return false, fmt.Errorf("the webhook did not stamp %s: %v", effectiveAnnotation, p.Annotations)
		}
		return true, nil
	}); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("storeplane-smoke-%d", time.Now().UnixNano())
	if err := step("smoke pod Ready", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("kube-system").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = client.CoreV1().Pods("kube-system").Create(ctx, smoke(name, nil), metav1.CreateOptions{})
			if err != nil {
				klog.V(2).InfoS("smoke pod", "err", err)
			}
			return false, nil
		} else if err != nil {
			return false, nil
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return nil, err
	}
	// A graceful delete, as a user's: kwok's pod-delete stage finishes it.
	if err := client.CoreV1().Pods("kube-system").Delete(ctx, name, metav1.DeleteOptions{}); err != nil &&
		!apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("deleting the smoke pod: %w", err)
	}
	return report, nil
}
