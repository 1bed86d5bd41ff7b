package main

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// recoverer lets live pods recover once their fault is cleared, as a real
// kubelet's retries would (the image becomes pullable, the container stops
// crashing, the probe passes): when `sim.storeplane.io/fail` changes on a
// Namespace, a workload or a Pod, every running faulted pod of that
// namespace is resolved again, and a pod whose fault is gone loses its
// stamp. kwok's pod-ready (Pending pods) or storeplane-pod-recover (Running
// pods) Stage then makes it Ready. Terminal pods (a failed Job's) stay as
// they are, as in a real cluster. A fault added later is not applied to
// pods that already run: it applies to pods created after it.
type recoverer struct {
	client kubernetes.Interface
	wh     *webhook
	pods   corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]
}

func runRecoverer(ctx context.Context, client kubernetes.Interface, meta metadata.Interface, wh *webhook) {
	r := &recoverer{
		client: client,
		wh:     wh,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "recoverer"}),
	}
	f := informers.NewSharedInformerFactory(client, 0)
	podInf := f.Core().V1().Pods()
	r.pods = podInf.Lister()
	onFaultChange := func(oldObj, newObj any) {
		o, err1 := metaAccessor(oldObj)
		n, err2 := metaAccessor(newObj)
		if err1 != nil || err2 != nil {
			return
		}
		if o.GetAnnotations()[failAnnotation] == n.GetAnnotations()[failAnnotation] {
			return
		}
		ns := n.GetNamespace()
		if ns == "" { // a Namespace
			ns = n.GetName()
		}
		r.queue.Add(ns)
	}
	handler := cache.ResourceEventHandlerFuncs{UpdateFunc: onFaultChange}
	_, _ = podInf.Informer().AddEventHandler(handler)
	_, _ = f.Core().V1().Namespaces().Informer().AddEventHandler(handler)
	mf := metadatainformer.NewSharedInformerFactory(meta, 0)
	for _, gvr := range ownerKinds {
		_, _ = mf.ForResource(gvr).Informer().AddEventHandler(handler)
	}
	f.Start(ctx.Done())
	mf.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	mf.WaitForCacheSync(ctx.Done())
	go func() { <-ctx.Done(); r.queue.ShutDown() }()
	for {
		ns, quit := r.queue.Get()
		if quit {
			return
		}
		if err := r.sync(ctx, ns); err != nil {
			klog.ErrorS(err, "recoverer", "namespace", ns)
			r.queue.AddRateLimited(ns)
		} else {
			r.queue.Forget(ns)
		}
		r.queue.Done(ns)
	}
}

func metaAccessor(obj any) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, apierrors.NewBadRequest("not an object")
}

func (r *recoverer) sync(ctx context.Context, ns string) error {
	pods, err := r.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	for _, pod := range pods {
		stamped := pod.Annotations[effectiveAnnotation]
		if stamped == "" || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		fault, _, err := r.wh.resolve(ctx, ns, pod)
		if err != nil {
			return err
		}
		if fault != "" {
			continue
		}
		ops := []jsonPatchOp{
			// Only if nobody re-stamped it meanwhile.
			{Op: "test", Path: "/metadata/annotations/" + escape(effectiveAnnotation), Value: stamped},
			{Op: "remove", Path: "/metadata/annotations/" + escape(effectiveAnnotation)},
		}
		if _, ok := pod.Annotations[sourceAnnotation]; ok {
			ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/annotations/" + escape(sourceAnnotation)})
		}
		patch, _ := json.Marshal(ops)
		_, err = r.client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		klog.V(1).InfoS("fault cleared", "namespace", ns, "pod", pod.Name, "was", stamped)
	}
	return nil
}
