package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Counts maps "VERB resource[/subresource]" to a number of requests.
type Counts map[string]float64

// Sub returns c - base, keeping positive deltas only.
func (c Counts) Sub(base Counts) Counts {
	out := Counts{}
	for k, v := range c {
		if d := v - base[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// Total is the sum of every count.
func (c Counts) Total() float64 {
	var s float64
	for _, v := range c {
		s += v
	}
	return s
}

// Filter sums the counts whose verb is one of verbs (all verbs when empty).
func (c Counts) Filter(verbs ...string) float64 {
	var s float64
	for k, v := range c {
		verb, _, _ := strings.Cut(k, " ")
		for _, want := range verbs {
			if verb == want {
				s += v
			}
		}
	}
	return s
}

// WriteVerbs are the verbs that change state.
var WriteVerbs = []string{"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}

// ReadVerbs are one-shot reads (watches are long-lived and counted apart).
var ReadVerbs = []string{"GET", "LIST"}

// Result is one measured run; the `table` command summarises many.
type Result struct {
	Bench  string             `json:"bench"`
	Side   string             `json:"side"`
	Run    int                `json:"run"`
	Wall   float64            `json:"wall_s"`
	Extra  map[string]float64 `json:"extra,omitempty"`
	Client Counts             `json:"client_requests,omitempty"`
	All    Counts             `json:"all_requests,omitempty"`
	Note   string             `json:"note,omitempty"`
}

func (r Result) Print() {
	b, err := json.Marshal(r)
	if err != nil {
		fatalf("encoding the result: %v", err)
	}
	fmt.Println(string(b))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "floor: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[floor] %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// restConfig loads a kubeconfig with client-side rate limiting off (QPS < 0): the floor must
// measure the API server, not client-go's token bucket.
func restConfig(path string) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		fatalf("kubeconfig %s: %v", path, err)
	}
	cfg.QPS = -1
	cfg.Burst = 0
	cfg.UserAgent = "devstack-bench-floor"
	return cfg
}

func clientset(cfg *rest.Config) *kubernetes.Clientset {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fatalf("client: %v", err)
	}
	return cs
}

// apiserverCounts reads apiserver_request_total (every client) from /metrics.
func apiserverCounts(ctx context.Context, cs *kubernetes.Clientset) Counts {
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		fatalf("reading the API server's /metrics: %v", err)
	}
	out := Counts{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		key := label(line, "verb") + " " + label(line, "resource")
		if sub := label(line, "subresource"); sub != "" {
			key += "/" + sub
		}
		out[key] += v
	}
	return out
}

func label(line, name string) string {
	i := strings.Index(line, name+`="`)
	if i < 0 {
		return ""
	}
	rest := line[i+len(name)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// ProxyState is what the counting proxy reports.
type ProxyState struct {
	Counts Counts `json:"counts"`
	// First request per namespace since the last mark, unix nanoseconds.
	FirstSeen map[string]int64 `json:"first_seen"`
	// Last non-watch request since the last mark, unix nanoseconds (0: none).
	LastRequest int64 `json:"last_request"`
	LastWrite   int64 `json:"last_write"`
}

func proxyState(url string) ProxyState {
	var st ProxyState
	if url == "" {
		return st
	}
	resp, err := http.Get(strings.TrimSuffix(url, "/") + "/__bench/state")
	if err != nil {
		fatalf("reading the counting proxy: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &st); err != nil {
		fatalf("reading the counting proxy: %v (%s)", err, body)
	}
	return st
}

func proxyMark(url string) {
	if url == "" {
		return
	}
	resp, err := http.Post(strings.TrimSuffix(url, "/")+"/__bench/mark", "text/plain", nil)
	if err != nil {
		fatalf("marking the counting proxy: %v", err)
	}
	resp.Body.Close()
}

// Proc is a process's CPU time and memory from /proc.
type Proc struct {
	CPU    float64 // user + system seconds
	HWMMiB float64 // peak resident set (VmHWM)
	RSSMiB float64 // current resident set (VmRSS)
}

func readProc(pid int) Proc {
	var p Proc
	if pid <= 0 {
		return p
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fatalf("process %d: %v", pid, err)
	}
	// Fields after the command name (which may hold spaces) start at field 3.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	p.CPU = (utime + stime) / 100 // USER_HZ is 100 on Linux
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kib, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmHWM:":
			p.HWMMiB = kib / 1024
		case "VmRSS:":
			p.RSSMiB = kib / 1024
		}
	}
	return p
}

// Snapshot is the state of every counter at one instant.
type Snapshot struct {
	At     int64      `json:"at"`
	All    Counts     `json:"all"`
	Proxy  ProxyState `json:"proxy"`
	Proc   Proc       `json:"proc"`
	Pid    int        `json:"pid"`
	Marked bool       `json:"marked"`
}

func takeSnapshot(ctx context.Context, cs *kubernetes.Clientset, proxyURL string, pid int) Snapshot {
	return Snapshot{
		At:    time.Now().UnixNano(),
		All:   apiserverCounts(ctx, cs),
		Proxy: proxyState(proxyURL),
		Proc:  readProc(pid),
		Pid:   pid,
	}
}

// quantile is the nearest-rank quantile of sorted values (q in 0..1).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func secs(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }
