package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const (
	// provisionerName is the StorageClass provisioner this harness serves.
	// KCM's PV controller stamps it on claims of the class
	// (volume.kubernetes.io/storage-provisioner) and then waits for an
	// external provisioner to create the volume, as with any CSI driver.
	provisionerName   = "storeplane.test/fake-provisioner"
	annProvisionedBy  = "pv.kubernetes.io/provisioned-by"
	annStorageProvKey = "volume.kubernetes.io/storage-provisioner"
	annStorageProvOld = "volume.beta.kubernetes.io/storage-provisioner"
)

// provisioner is a minimal external provisioner following the protocol of
// sigs.k8s.io/sig-storage-lib-external-provisioner: create a PV pre-bound
// (claimRef) to each claim KCM hands to us, and delete our PVs once Released
// (reclaimPolicy Delete). Binding, protection finalizers and the Released
// phase stay with the real KCM.
type provisioner struct {
	client   kubernetes.Interface
	class    string
	queue    workqueue.TypedRateLimitingInterface[string]
	pvcs     corelisters.PersistentVolumeClaimLister
	pvs      corelisters.PersistentVolumeLister
	ns       corelisters.NamespaceLister
	recorder record.EventRecorder
}

func newProvisioner(client kubernetes.Interface, class string) *provisioner {
	return &provisioner{
		client: client,
		class:  class,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "provisioner"}),
	}
}

func (p *provisioner) run(ctx context.Context) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	// The component name a real external provisioner reports under.
	p.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: provisionerName})

	f := informers.NewSharedInformerFactory(p.client, 10*time.Minute)
	pvcInf := f.Core().V1().PersistentVolumeClaims()
	pvInf := f.Core().V1().PersistentVolumes()
	nsInf := f.Core().V1().Namespaces()
	p.pvcs, p.pvs, p.ns = pvcInf.Lister(), pvInf.Lister(), nsInf.Lister()
	enqueue := func(prefix string) func(obj any) {
		return func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				p.queue.Add(prefix + key)
			}
		}
	}
	handlers := func(prefix string) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue(prefix),
			UpdateFunc: func(_, obj any) { enqueue(prefix)(obj) },
		}
	}
	_, _ = pvcInf.Informer().AddEventHandler(handlers("pvc:"))
	_, _ = pvInf.Informer().AddEventHandler(handlers("pv:"))
	// Clearing a namespace's fault must let its pending claims provision.
	_, _ = nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			ns, ok := obj.(*corev1.Namespace)
			if !ok {
				return
			}
			claims, _ := p.pvcs.PersistentVolumeClaims(ns.Name).List(labels.Everything())
			for _, c := range claims {
				p.queue.Add("pvc:" + c.Namespace + "/" + c.Name)
			}
		},
	})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	go func() { <-ctx.Done(); p.queue.ShutDown() }()
	for p.next(ctx) {
	}
}

func (p *provisioner) next(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	var err error
	switch {
	case len(key) > 4 && key[:4] == "pvc:":
		err = p.syncClaim(ctx, key[4:])
	case len(key) > 3 && key[:3] == "pv:":
		err = p.syncVolume(ctx, key[3:])
	}
	if err != nil {
		klog.ErrorS(err, "provisioner", "key", key)
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

func (p *provisioner) syncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := p.pvcs.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	prov := claim.Annotations[annStorageProvKey]
	if prov == "" {
		prov = claim.Annotations[annStorageProvOld]
	}
	if prov != provisionerName || claim.Spec.VolumeName != "" || claim.DeletionTimestamp != nil ||
		claim.Status.Phase != corev1.ClaimPending {
		return nil
	}
	// Same rule as the simulated cluster: a claim with a fault (its own
	// annotation, else its namespace's) stays Pending.
	fault, source := parseFault(claim.Annotations[failAnnotation]), "PersistentVolumeClaim"
	if fault == "" {
		if nsObj, err := p.ns.Get(ns); err == nil {
			fault, source = parseFault(nsObj.Annotations[failAnnotation]), "Namespace/"+ns
		}
	}
	if fault != "" {
		p.recorder.Eventf(claim, corev1.EventTypeWarning, "ProvisioningFailed",
			"failed to provision volume with StorageClass %q: simulated failure (%s=%s on %s)",
			className(claim), failAnnotation, fault, source)
		return nil
	}
	pvName := "pvc-" + string(claim.UID)
	if _, err := p.pvs.Get(pvName); err == nil {
		return nil
	}
	var class string
	if claim.Spec.StorageClassName != nil {
		class = *claim.Spec.StorageClassName
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc, err := p.client.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{}); err == nil &&
		sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	capacity := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        pvName,
			Annotations: map[string]string{annProvisionedBy: provisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: capacity},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class,
			VolumeMode:                    claim.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			// Nothing ever mounts it: there is no kubelet.
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/storeplane-fake-volumes/" + pvName},
			},
		},
	}
	if _, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return err
	}
	p.recorder.Eventf(claim, corev1.EventTypeNormal, "ProvisioningSucceeded",
		"Successfully provisioned volume %s", pvName)
	return nil
}

func (p *provisioner) syncVolume(ctx context.Context, name string) error {
	pv, err := p.pvs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if pv.Annotations[annProvisionedBy] != provisionerName || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	err = p.client.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting released volume %s: %w", name, err)
	}
	return nil
}

func className(c *corev1.PersistentVolumeClaim) string {
	if c.Spec.StorageClassName == nil {
		return ""
	}
	return *c.Spec.StorageClassName
}
