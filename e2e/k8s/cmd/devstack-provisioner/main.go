// Command devstack-provisioner is the e2e harness's tiny dynamic volume
// provisioner. It watches PersistentVolumeClaims whose StorageClass names this
// provisioner and creates a matching hostPath PersistentVolume of the requested
// size, pre-bound to the claim, so the PV controller binds it at once. Released
// volumes it created are deleted (with their directory) when the reclaim policy
// is Delete.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
)

type provisioner struct {
	name    string
	baseDir string
	client  kubernetes.Interface
	pvcs    corelisters.PersistentVolumeClaimLister
	pvs     corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	kick    chan struct{}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to a kubeconfig")
	name := flag.String("provisioner-name", "devstack.dev/hostpath", "provisioner name StorageClasses refer to")
	baseDir := flag.String("base-dir", "/tmp/devstack-e2e/cluster/volumes", "directory holding volume directories")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	if err := os.MkdirAll(*baseDir, 0o755); err != nil {
		log.Fatalf("base dir: %v", err)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	factory := informers.NewSharedInformerFactory(client, 30*time.Second)
	p := &provisioner{
		name:    *name,
		baseDir: *baseDir,
		client:  client,
		pvcs:    factory.Core().V1().PersistentVolumeClaims().Lister(),
		pvs:     factory.Core().V1().PersistentVolumes().Lister(),
		classes: factory.Storage().V1().StorageClasses().Lister(),
		kick:    make(chan struct{}, 1),
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		factory.Core().V1().PersistentVolumeClaims().Informer(),
		factory.Core().V1().PersistentVolumes().Informer(),
		factory.Storage().V1().StorageClasses().Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			log.Fatalf("event handler: %v", err)
		}
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			log.Fatalf("cache for %v did not sync", typ)
		}
	}
	log.Printf("devstack-provisioner %q running, volumes under %s", p.name, p.baseDir)

	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Printf("stopping")
			return
		case <-p.kick:
		case <-tick.C:
		}
		p.syncAll(ctx)
	}
}

func (p *provisioner) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *provisioner) syncAll(ctx context.Context) {
	claims, err := p.pvcs.List(labels.Everything())
	if err != nil {
		log.Printf("list claims: %v", err)
		return
	}
	for _, pvc := range claims {
		if err := p.syncClaim(ctx, pvc); err != nil {
			log.Printf("claim %s/%s: %v", pvc.Namespace, pvc.Name, err)
		}
	}
	vols, err := p.pvs.List(labels.Everything())
	if err != nil {
		log.Printf("list volumes: %v", err)
		return
	}
	for _, pv := range vols {
		if err := p.syncVolume(ctx, pv); err != nil {
			log.Printf("volume %s: %v", pv.Name, err)
		}
	}
}

func (p *provisioner) classFor(pvc *corev1.PersistentVolumeClaim) *storagev1.StorageClass {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return nil
	}
	sc, err := p.classes.Get(*pvc.Spec.StorageClassName)
	if err != nil || sc.Provisioner != p.name {
		return nil
	}
	return sc
}

func volumeName(pvc *corev1.PersistentVolumeClaim) string {
	return "pvc-" + string(pvc.UID)
}

func (p *provisioner) syncClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.DeletionTimestamp != nil || pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
		return nil
	}
	sc := p.classFor(pvc)
	if sc == nil {
		return nil
	}
	name := volumeName(pvc)
	if _, err := p.pvs.Get(name); err == nil {
		return nil
	}
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		size = resource.MustParse("1Gi")
	}
	dir := filepath.Join(p.baseDir, name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// World-writable like Kind's local-path-provisioner: the kubelet applies no fsGroup to
	// hostPath volumes, and on the real node a non-root service (postgres as 999) must write.
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		reclaim = *sc.ReclaimPolicy
	}
	modes := pvc.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	hostPathType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: p.name},
			Labels:      map[string]string{"devstack.dev/e2e-provisioner": "hostpath"},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              sc.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			MountOptions:                  sc.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				Kind:            "PersistentVolumeClaim",
				APIVersion:      "v1",
				Namespace:       pvc.Namespace,
				Name:            pvc.Name,
				UID:             pvc.UID,
				ResourceVersion: pvc.ResourceVersion,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
			},
		},
	}
	_, err := p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	log.Printf("provisioned %s (%s) for %s/%s", name, size.String(), pvc.Namespace, pvc.Name)
	return nil
}

func (p *provisioner) syncVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != p.name || pv.DeletionTimestamp != nil {
		return nil
	}
	if pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete: %w", err)
	}
	if pv.Spec.HostPath != nil && filepath.Dir(pv.Spec.HostPath.Path) == filepath.Clean(p.baseDir) {
		if err := os.RemoveAll(pv.Spec.HostPath.Path); err != nil {
			return fmt.Errorf("remove %s: %w", pv.Spec.HostPath.Path, err)
		}
	}
	log.Printf("deleted released volume %s", pv.Name)
	return nil
}
