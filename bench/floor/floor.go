package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"
)

const serviceLabel = "devstack.dev/service"

// planObj is one rendered object with the resource it is written to.
type planObj struct {
	obj *unstructured.Unstructured
	gvr schema.GroupVersionResource
}

// stackPlan is what the floor writes for one stack: the objects no workload waits for
// (Secrets, Services, NetworkPolicies, ConfigMaps, …) and the workloads by dependency level.
type stackPlan struct {
	prelude []planObj
	levels  [][]planObj
}

// levelsOf reads a DevStack file and gives every service its dependency level (0: no
// dependencies; otherwise one more than its deepest dependency).
func levelsOf(path string) map[string]int {
	raw, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	var doc struct {
		Spec struct {
			Services map[string]struct {
				DependsOn []string `json:"dependsOn"`
			} `json:"services"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(firstDoc(raw), &doc); err != nil {
		fatalf("%s: %v", path, err)
	}
	levels := map[string]int{}
	var level func(name string, depth int) int
	level = func(name string, depth int) int {
		if l, ok := levels[name]; ok {
			return l
		}
		if depth > len(doc.Spec.Services) {
			fatalf("%s: dependency cycle through %s", path, name)
		}
		l := 0
		for _, dep := range doc.Spec.Services[name].DependsOn {
			if d := level(dep, depth+1) + 1; d > l {
				l = d
			}
		}
		levels[name] = l
		return l
	}
	for name := range doc.Spec.Services {
		level(name, 0)
	}
	return levels
}

func firstDoc(raw []byte) []byte {
	docs := splitDocs(raw)
	if len(docs) == 0 {
		return raw
	}
	return docs[0]
}

func splitDocs(raw []byte) [][]byte {
	var out [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			fatalf("reading YAML: %v", err)
		}
		if len(bytes.TrimSpace(doc)) > 0 && !bytes.Equal(bytes.TrimSpace(doc), []byte("---")) {
			out = append(out, doc)
		}
	}
}

// readObjects parses a YAML stream of Kubernetes objects.
func readObjects(path string) []*unstructured.Unstructured {
	raw, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	var out []*unstructured.Unstructured
	for _, doc := range splitDocs(raw) {
		obj := &unstructured.Unstructured{}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fatalf("%s: %v", path, err)
		}
		if err := obj.UnmarshalJSON(js); err != nil {
			fatalf("%s: %v", path, err)
		}
		if obj.GetKind() == "" {
			continue
		}
		out = append(out, obj)
	}
	return out
}

func newMapper(d discovery.DiscoveryInterface) *restmapper.DeferredDiscoveryRESTMapper {
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(d))
}

// buildPlan sorts the rendered objects of one stack into prelude and levels.
func buildPlan(objs []*unstructured.Unstructured, levels map[string]int, mapper *restmapper.DeferredDiscoveryRESTMapper) stackPlan {
	var p stackPlan
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			fatalf("no resource for %s: %v", gvk, err)
		}
		po := planObj{obj: obj, gvr: m.Resource}
		if gvk.Kind != "Deployment" && gvk.Kind != "StatefulSet" {
			p.prelude = append(p.prelude, po)
			continue
		}
		svc := obj.GetLabels()[serviceLabel]
		l, ok := levels[svc]
		if !ok {
			fatalf("%s %s: service %q is not in the stack file", gvk.Kind, obj.GetName(), svc)
		}
		for len(p.levels) <= l {
			p.levels = append(p.levels, nil)
		}
		p.levels[l] = append(p.levels[l], po)
	}
	return p
}

// readiness tells a waiting stack that something in its namespace changed.
type readiness struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
	deploys listersv1.DeploymentLister
	sets    listersv1.StatefulSetLister
}

func (r *readiness) notify(obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	r.mu.Lock()
	ch := r.waiters[m.GetNamespace()]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (r *readiness) channel(ns string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{}, 1)
	r.waiters[ns] = ch
	return ch
}

// ready is the operator's own rule (operator/src/controller/status.rs): the current
// generation observed and every replica updated and ready.
func (r *readiness) ready(ns string, objs []planObj) bool {
	for _, po := range objs {
		name := po.obj.GetName()
		switch po.obj.GetKind() {
		case "Deployment":
			d, err := r.deploys.Deployments(ns).Get(name)
			if err != nil || !deploymentReady(d) {
				return false
			}
		case "StatefulSet":
			s, err := r.sets.StatefulSets(ns).Get(name)
			if err != nil || !statefulSetReady(s) {
				return false
			}
		}
	}
	return true
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want &&
		s.ReadyReplicas >= want && s.Replicas == want
}

func statefulSetReady(set *appsv1.StatefulSet) bool {
	want := int32(1)
	if set.Spec.Replicas != nil {
		want = *set.Spec.Replicas
	}
	s := set.Status
	return s.ObservedGeneration >= set.Generation && s.ReadyReplicas >= want &&
		s.UpdatedReplicas >= want && s.CurrentRevision == s.UpdateRevision
}

// cmdFloor is the event-driven floor: every stack advances on its own — its prelude objects,
// then each dependency level's workloads, the next level as soon as a watch (an informer's
// long-lived watch) shows the level ready — with the operator's bound on writes in flight.
func cmdFloor(args []string) {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig the floor writes and watches through (the counting proxy)")
	admin := fs.String("admin-kubeconfig", "", "admin kubeconfig, for the API server's metrics")
	proxyURL := fs.String("proxy-url", "", "the counting proxy, to read the floor's own requests")
	stackFile := fs.String("stack", "", "the DevStack file (for the dependency levels)")
	rendered := fs.String("rendered", "", "`devstack render k8s --include-secrets` of it")
	nsFile := fs.String("namespaces", "", "file with one namespace per line: one copy of the stack in each")
	inflight := fs.Int("inflight", 64, "writes in flight across all stacks (operator: --concurrency x its per-reconcile parallelism)")
	perStack := fs.Int("per-stack", 4, "writes in flight per stack (the operator's per-reconcile parallelism)")
	bench := fs.String("bench", "K1", "benchmark name")
	side := fs.String("side", "floor", "side name")
	run := fs.Int("run", 0, "run number")
	timeout := fs.Duration("timeout", time.Hour, "give up after")
	owned := fs.Bool("owned", false, "give every object an owner, as the operator's carry their DevStack's: a ConfigMap per stack, created first (one more request per stack)")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg := restConfig(*kubeconfig)
	cs := clientset(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	adminCS := clientset(restConfig(*admin))
	namespaces := readLines(*nsFile)
	plan := buildPlan(readObjects(*rendered), levelsOf(*stackFile), newMapper(cs.Discovery()))

	factory := informers.NewSharedInformerFactory(cs, 0)
	rd := &readiness{waiters: map[string]chan struct{}{}}
	dInf := factory.Apps().V1().Deployments()
	sInf := factory.Apps().V1().StatefulSets()
	rd.deploys, rd.sets = dInf.Lister(), sInf.Lister()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    rd.notify,
		UpdateFunc: func(_, obj any) { rd.notify(obj) },
	}
	_, _ = dInf.Informer().AddEventHandler(handler)
	_, _ = sInf.Informer().AddEventHandler(handler)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	chans := map[string]chan struct{}{}
	for _, ns := range namespaces {
		chans[ns] = rd.channel(ns)
	}

	before := takeSnapshot(ctx, adminCS, *proxyURL, os.Getpid())
	start := time.Now()
	global := make(chan struct{}, *inflight)
	done := make([]float64, len(namespaces))
	var wg sync.WaitGroup
	errs := make(chan error, len(namespaces))
	for i, ns := range namespaces {
		wg.Add(1)
		go func(i int, ns string) {
			defer wg.Done()
			if err := runStack(ctx, dyn, plan, ns, global, *perStack, rd, chans[ns], *owned); err != nil {
				errs <- fmt.Errorf("%s: %w", ns, err)
				cancel()
				return
			}
			done[i] = secs(time.Since(start))
		}(i, ns)
	}
	wg.Wait()
	wall := secs(time.Since(start))
	close(errs)
	for err := range errs {
		fatalf("%v", err)
	}
	after := takeSnapshot(context.Background(), adminCS, *proxyURL, os.Getpid())
	client := after.Proxy.Counts.Sub(before.Proxy.Counts)
	sort.Float64s(done)
	n := float64(len(namespaces))
	Result{
		Bench: *bench, Side: *side, Run: *run, Wall: wall,
		Extra: map[string]float64{
			"stacks":               n,
			"cpu_s":                after.Proc.CPU - before.Proc.CPU,
			"client_req_per_stack": client.Total() / n,
			"client_writes":        client.Filter(WriteVerbs...),
			"all_req":              after.All.Sub(before.All).Total(),
			"stack_ready_p50_s":    median(done),
			"stack_ready_p90_s":    quantile(done, 0.9),
		},
		Client: client,
		All:    after.All.Sub(before.All),
		Note:   fmt.Sprintf("inflight %d, per stack %d", *inflight, *perStack),
	}.Print()
}

func runStack(ctx context.Context, dyn dynamic.Interface, plan stackPlan, ns string, global chan struct{}, perStack int, rd *readiness, wake chan struct{}, owned bool) error {
	var owner *metav1.OwnerReference
	if owned {
		var err error
		if owner, err = createOwner(ctx, dyn, ns); err != nil {
			return err
		}
	}
	if err := applyAll(ctx, dyn, plan.prelude, ns, global, perStack, owner); err != nil {
		return err
	}
	for _, level := range plan.levels {
		if err := applyAll(ctx, dyn, level, ns, global, perStack, owner); err != nil {
			return err
		}
		for !rd.ready(ns, level) {
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// createOwner creates the ConfigMap that owns a stack's objects in ns (--owned): the garbage
// collector follows an owner reference on each of them, as on the operator's.
func createOwner(ctx context.Context, dyn dynamic.Interface, ns string) (*metav1.OwnerReference, error) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "floor-owner"},
	}}
	created, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating the owner: %w", err)
	}
	yes := true
	return &metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: created.GetName(),
		UID: created.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes}, nil
}

// applyAll writes objs into ns with server-side apply, perStack at a time and never more
// than cap(global) across all stacks; each object owned by owner when it is set.
func applyAll(ctx context.Context, dyn dynamic.Interface, objs []planObj, ns string, global chan struct{}, perStack int, owner *metav1.OwnerReference) error {
	local := make(chan struct{}, perStack)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for _, po := range objs {
		local <- struct{}{}
		global <- struct{}{}
		wg.Add(1)
		go func(po planObj) {
			defer wg.Done()
			defer func() { <-global; <-local }()
			obj := po.obj.DeepCopy()
			obj.SetNamespace(ns)
			if owner != nil {
				obj.SetOwnerReferences([]metav1.OwnerReference{*owner})
			}
			_, err := dyn.Resource(po.gvr).Namespace(ns).Apply(ctx, obj.GetName(), obj,
				metav1.ApplyOptions{FieldManager: "devstack-floor", Force: true})
			if err != nil {
				errs <- fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}(po)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func readLines(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
