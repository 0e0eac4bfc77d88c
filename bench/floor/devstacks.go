package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

var devstackGVR = schema.GroupVersionResource{Group: "devstack.dev", Version: "v1alpha1", Resource: "devstacks"}

// stackReady: the Ready condition True for the current generation (what `kubectl wait
// --for=condition=Ready` and kstatus read).
func stackReady(u *unstructured.Unstructured) bool {
	gen := u.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if observed < gen {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Ready" {
			return m["status"] == "True"
		}
	}
	return false
}

// cmdDevStacks measures the operator: applies every DevStack of --file (as the user, with
// --writers applies in flight) and waits, on one long-lived watch of DevStacks, until every
// one is Ready. The operator's CPU and memory come from /proc/--pid, its requests from the
// counting proxy it talks through.
func cmdDevStacks(args []string) {
	fs := flag.NewFlagSet("devstacks", flag.ExitOnError)
	admin := fs.String("admin-kubeconfig", "", "admin kubeconfig (applies, watch, API server metrics)")
	proxyURL := fs.String("proxy-url", "", "the counting proxy the operator talks through")
	file := fs.String("file", "", "YAML stream of DevStacks (each with its namespace)")
	writers := fs.Int("writers", 32, "DevStack applies in flight")
	pid := fs.Int("pid", 0, "the operator's pid")
	bench := fs.String("bench", "K1", "benchmark name")
	side := fs.String("side", "operator", "side name")
	run := fs.Int("run", 0, "run number")
	timeout := fs.Duration("timeout", time.Hour, "give up after")
	_ = fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cfg := restConfig(*admin)
	cs := clientset(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	stacks := readObjects(*file)
	want := map[string]int{}
	for i, s := range stacks {
		want[s.GetNamespace()+"/"+s.GetName()] = i
	}
	done := make([]float64, len(stacks))
	remaining := len(stacks)
	var mu sync.Mutex
	var start time.Time
	allReady := make(chan struct{})
	observe := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok || !stackReady(u) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		i, ok := want[u.GetNamespace()+"/"+u.GetName()]
		if !ok || start.IsZero() || done[i] != 0 {
			return
		}
		done[i] = secs(time.Since(start))
		remaining--
		if remaining == 0 {
			close(allReady)
		}
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	inf := factory.ForResource(devstackGVR).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	before := takeSnapshot(ctx, cs, *proxyURL, *pid)
	mu.Lock()
	start = time.Now()
	mu.Unlock()
	sem := make(chan struct{}, *writers)
	var wg sync.WaitGroup
	for _, s := range stacks {
		sem <- struct{}{}
		wg.Add(1)
		go func(s *unstructured.Unstructured) {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := dyn.Resource(devstackGVR).Namespace(s.GetNamespace()).Apply(ctx, s.GetName(), s,
				metav1.ApplyOptions{FieldManager: "devstack-bench-user", Force: true})
			if err != nil {
				fatalf("applying DevStack %s/%s: %v", s.GetNamespace(), s.GetName(), err)
			}
		}(s)
	}
	wg.Wait()
	applied := secs(time.Since(start))
	select {
	case <-allReady:
	case <-ctx.Done():
		mu.Lock()
		fatalf("timed out: %d of %d DevStacks not Ready", remaining, len(stacks))
	}
	wall := secs(time.Since(start))
	after := takeSnapshot(context.Background(), cs, *proxyURL, *pid)
	client := after.Proxy.Counts.Sub(before.Proxy.Counts)
	sort.Float64s(done)
	n := float64(len(stacks))
	Result{
		Bench: *bench, Side: *side, Run: *run, Wall: wall,
		Extra: map[string]float64{
			"stacks":                   n,
			"cpu_s":                    after.Proc.CPU - before.Proc.CPU,
			"peak_rss_mib":             after.Proc.HWMMiB,
			"rss_mib":                  after.Proc.RSSMiB,
			"rss_growth_kib_per_stack": (after.Proc.RSSMiB - before.Proc.RSSMiB) * 1024 / n,
			"client_req_per_stack":     client.Total() / n,
			"client_writes":            client.Filter(WriteVerbs...),
			"all_req":                  after.All.Sub(before.All).Total(),
			"stack_ready_p50_s":        median(done),
			"stack_ready_p90_s":        quantile(done, 0.9),
			"applies_done_s":           applied,
		},
		Client: client,
		All:    after.All.Sub(before.All),
		Note:   fmt.Sprintf("%d DevStack applies in flight", *writers),
	}.Print()
}
