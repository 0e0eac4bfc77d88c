package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	appsv1 "k8s.io/api/apps/v1"
)

// cmdSnapshot prints every counter now (and with --mark, resets the proxy's per-namespace
// view first), for a later `resync --since`.
func cmdSnapshot(args []string) {
	fs := flag.NewFlagSet("snapshot", flag.ExitOnError)
	admin := fs.String("admin-kubeconfig", "", "admin kubeconfig")
	proxyURL := fs.String("proxy-url", "", "the counting proxy")
	mark := fs.Bool("mark", false, "reset the proxy's per-namespace view first")
	_ = fs.Parse(args)
	if *mark {
		proxyMark(*proxyURL)
	}
	s := takeSnapshot(context.Background(), clientset(restConfig(*admin)), *proxyURL, 0)
	s.Marked = *mark
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		fatalf("%v", err)
	}
}

// reconciledMetric reads a distinct-stacks-reconciled counter from the operator's /metrics,
// if it exports one (-1 otherwise).
func reconciledMetric(url, name string) float64 {
	if url == "" || name == "" {
		return -1
	}
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// cmdResync measures a resync: the operator was (re)started at --started-ns after `snapshot
// --mark`; done when --stacks distinct stacks were reconciled — read from the operator's
// --metric (distinct stacks reconciled) when it exports one, else from the distinct
// namespaces (--ns-prefix) its requests touched since the mark — and its requests then went
// quiet for --quiet. Time: from the start to its last request or to the first poll (every
// 50 ms) that saw the metric reach --stacks, whichever is later: an operator whose caches are
// filled by streaming lists makes no request after its watches start when nothing changed,
// and its resync ends when it has reconciled every stack.
func cmdResync(args []string) {
	fs := flag.NewFlagSet("resync", flag.ExitOnError)
	admin := fs.String("admin-kubeconfig", "", "admin kubeconfig")
	proxyURL := fs.String("proxy-url", "", "the counting proxy the operator talks through")
	since := fs.String("since", "", "output of `snapshot --mark` taken before the start")
	pid := fs.Int("pid", 0, "the operator's pid")
	startedNs := fs.Int64("started-ns", 0, "when the operator was started (unix ns)")
	stacks := fs.Int("stacks", 0, "stacks to be reconciled")
	prefix := fs.String("ns-prefix", "", "namespaces of those stacks start with this")
	metricsURL := fs.String("metrics-url", "", "the operator's /metrics")
	metric := fs.String("metric", "devstack_stacks_reconciled", "distinct-stacks metric, if exported")
	quiet := fs.Duration("quiet", 3*time.Second, "no operator request for this long = done")
	bench := fs.String("bench", "K3", "benchmark name")
	side := fs.String("side", "operator resync", "side name")
	run := fs.Int("run", 0, "run number")
	timeout := fs.Duration("timeout", time.Hour, "give up after")
	_ = fs.Parse(args)

	raw, err := os.ReadFile(*since)
	if err != nil {
		fatalf("%v", err)
	}
	var before Snapshot
	if err := json.Unmarshal(raw, &before); err != nil {
		fatalf("%s: %v", *since, err)
	}
	cs := clientset(restConfig(*admin))
	start := time.Unix(0, *startedNs)
	deadline := time.Now().Add(*timeout)
	condition := ""
	var reached time.Time // when the metric was first seen at --stacks
	var distinct int
	for time.Now().Before(deadline) {
		st := proxyState(*proxyURL)
		distinct = 0
		for ns := range st.FirstSeen {
			if strings.HasPrefix(ns, *prefix) {
				distinct++
			}
		}
		if condition == "" {
			if m := reconciledMetric(*metricsURL, *metric); m >= float64(*stacks) {
				condition = "metric " + *metric
				reached = time.Now()
			} else if distinct >= *stacks {
				condition = "distinct namespaces requested"
			}
		}
		last := st.LastRequest
		if last == 0 {
			last = *startedNs
		}
		idle := time.Since(time.Unix(0, last))
		if condition != "" && idle >= *quiet {
			break
		}
		if condition == "" && idle >= 10**quiet {
			condition = "none observable (operator quiet)"
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if condition == "" {
		fatalf("resync not done after %s: %d of %d stacks seen", *timeout, distinct, *stacks)
	}
	after := takeSnapshot(context.Background(), cs, *proxyURL, *pid)
	end := after.Proxy.LastRequest
	if end == 0 {
		end = *startedNs
	}
	if !reached.IsZero() && reached.UnixNano() > end {
		end = reached.UnixNano()
	}
	client := after.Proxy.Counts.Sub(before.Proxy.Counts)
	all := after.All.Sub(before.All)
	n := float64(*stacks)
	Result{
		Bench: *bench, Side: *side, Run: *run, Wall: secs(time.Unix(0, end).Sub(start)),
		Extra: map[string]float64{
			"stacks":               n,
			"stacks_seen":          float64(distinct),
			"client_writes":        client.Filter(WriteVerbs...),
			"all_writes":           all.Filter(WriteVerbs...),
			"client_reads":         client.Filter(ReadVerbs...),
			"reads_per_stack":      client.Filter(ReadVerbs...) / n,
			"client_req_per_stack": client.Total() / n,
			"cpu_s":                after.Proc.CPU,
			"peak_rss_mib":         after.Proc.HWMMiB,
			"rss_mib":              after.Proc.RSSMiB,
		},
		Client: client,
		All:    all,
		Note:   "stop condition: " + condition,
	}.Print()
}

// cmdDrift edits --count operator-owned Deployments one at a time (a container image the
// operator did not set) and times each repair on a watch; then counts the operator's writes.
func cmdDrift(args []string) {
	fs := flag.NewFlagSet("drift", flag.ExitOnError)
	admin := fs.String("admin-kubeconfig", "", "admin kubeconfig")
	proxyURL := fs.String("proxy-url", "", "the counting proxy the operator talks through")
	count := fs.Int("count", 10, "Deployments to edit")
	selector := fs.String("selector", "app.kubernetes.io/managed-by=devstack", "which Deployments")
	prefix := fs.String("ns-prefix", "", "only in namespaces starting with this")
	image := fs.String("image", "registry.local/drift:1", "the image an edit sets")
	each := fs.Duration("repair-timeout", 60*time.Second, "give up on one repair after")
	quiet := fs.Duration("quiet", 3*time.Second, "after the last repair, wait this long for further writes")
	bench := fs.String("bench", "K3", "benchmark name")
	side := fs.String("side", "drift repair", "side name of each repair")
	totalSide := fs.String("total-side", "drift total", "side name of the total")
	run := fs.Int("run", 1, "run number (of the total)")
	_ = fs.Parse(args)

	ctx := context.Background()
	cs := clientset(restConfig(*admin))
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = *selector }))
	inf := factory.Apps().V1().Deployments()
	changed := make(chan *appsv1.Deployment, 64)
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if d, ok := obj.(*appsv1.Deployment); ok {
				changed <- d
			}
		},
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	all, _ := inf.Lister().List(labels.Everything())
	var targets []*appsv1.Deployment
	seen := map[string]bool{}
	for _, d := range all {
		if strings.HasPrefix(d.Namespace, *prefix) && !seen[d.Namespace] && len(targets) < *count {
			seen[d.Namespace] = true
			targets = append(targets, d)
		}
	}
	if len(targets) < *count {
		fatalf("only %d Deployments to edit (want %d)", len(targets), *count)
	}
	before := takeSnapshot(ctx, cs, *proxyURL, 0)
	t0 := time.Now()
	for i, d := range targets {
		orig := d.Spec.Template.Spec.Containers[0].Image
		patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, *image)
		start := time.Now()
		if _, err := cs.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.JSONPatchType,
			[]byte(patch), metav1.PatchOptions{FieldManager: "devstack-bench-drift"}); err != nil {
			fatalf("editing %s/%s: %v", d.Namespace, d.Name, err)
		}
		repaired := 0.0
		timer := time.After(*each)
	wait:
		for {
			select {
			case u := <-changed:
				if u.Namespace == d.Namespace && u.Name == d.Name && u.Spec.Template.Spec.Containers[0].Image == orig {
					repaired = 1
					break wait
				}
			case <-timer:
				break wait
			}
		}
		Result{Bench: *bench, Side: *side, Run: i + 1, Wall: secs(time.Since(start)),
			Extra: map[string]float64{"repaired": repaired}, Note: d.Namespace + "/" + d.Name}.Print()
	}
	for {
		st := proxyState(*proxyURL)
		if st.LastWrite == 0 || time.Since(time.Unix(0, st.LastWrite)) >= *quiet {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := takeSnapshot(ctx, cs, *proxyURL, 0)
	client := after.Proxy.Counts.Sub(before.Proxy.Counts)
	Result{Bench: *bench, Side: *totalSide, Run: *run, Wall: secs(time.Since(t0)),
		Extra: map[string]float64{
			"edits":          float64(len(targets)),
			"client_applies": client["APPLY deployments"],
			"client_writes":  client.Filter(WriteVerbs...),
			"client_reads":   client.Filter(ReadVerbs...),
		},
		Client: client, All: after.All.Sub(before.All)}.Print()
}
