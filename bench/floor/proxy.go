package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// counter records the requests one client sent through the proxy.
type counter struct {
	mu          sync.Mutex
	counts      Counts
	firstSeen   map[string]int64
	lastRequest int64
	lastWrite   int64
}

func (c *counter) record(r *http.Request) {
	verb, resource, ns := classify(r)
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[verb+" "+resource]++
	if verb == "WATCH" {
		return
	}
	c.lastRequest = now
	for _, w := range WriteVerbs {
		if verb == w {
			c.lastWrite = now
		}
	}
	if ns != "" {
		if _, ok := c.firstSeen[ns]; !ok {
			c.firstSeen[ns] = now
		}
	}
}

// classify names a Kubernetes API request the way apiserver_request_total does: verb
// (GET/LIST/WATCH/POST/PUT/PATCH/APPLY/DELETE/DELETECOLLECTION), resource[/subresource], and
// the namespace of a namespaced request.
func classify(r *http.Request) (verb, resource, ns string) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return r.Method, "nonresource", ""
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		ns = rest[1]
		rest = rest[2:]
	}
	if len(rest) == 0 {
		return r.Method, "discovery", ""
	}
	resource = rest[0]
	named := len(rest) >= 2
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		switch {
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			verb = "WATCH"
		case named:
			verb = "GET"
		default:
			verb = "LIST"
		}
	case http.MethodPatch:
		verb = "PATCH"
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/apply-patch") {
			verb = "APPLY"
		}
	case http.MethodDelete:
		verb = "DELETE"
		if !named {
			verb = "DELETECOLLECTION"
		}
	default:
		verb = r.Method
	}
	return verb, resource, ns
}

// cmdProxy runs a plain-HTTP reverse proxy in front of the API server (as the admin of
// --kubeconfig) that counts every request by verb and resource. The client under test (the
// operator, or the floor) talks to it through the kubeconfig written to --kubeconfig-out;
// the bench scripts read the counts at /__bench/state and reset the per-namespace view with
// POST /__bench/mark.
func cmdProxy(args []string) {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig of the cluster")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	out := fs.String("kubeconfig-out", "", "write a kubeconfig for clients of the proxy here")
	_ = fs.Parse(args)
	cfg := restConfig(*kubeconfig)
	target, err := url.Parse(cfg.Host)
	if err != nil {
		fatalf("server %q: %v", cfg.Host, err)
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		fatalf("transport: %v", err)
	}
	c := &counter{counts: Counts{}, firstSeen: map[string]int64{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/__bench/state", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_ = json.NewEncoder(w).Encode(ProxyState{
			Counts: c.counts, FirstSeen: c.firstSeen, LastRequest: c.lastRequest, LastWrite: c.lastWrite,
		})
	})
	mux.HandleFunc("/__bench/mark", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		c.firstSeen = map[string]int64{}
		c.lastRequest, c.lastWrite = 0, 0
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	trace := newTracer(os.Getenv("DEVSTACK_BENCH_PROXY_TRACE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.record(r)
		if trace == nil {
			rp.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(sw, r)
		trace.line(r, start, sw.status)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fatalf("listen %s: %v", *listen, err)
	}
	addr := ln.Addr().String()
	if *out != "" {
		kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench-proxy
  cluster: {server: "http://%s"}
users:
- name: bench-proxy
  user: {}
contexts:
- name: bench-proxy
  context: {cluster: bench-proxy, user: bench-proxy}
current-context: bench-proxy
`, addr)
		if err := os.WriteFile(*out+".tmp", []byte(kc), 0o600); err != nil {
			fatalf("writing %s: %v", *out, err)
		}
		if err := os.Rename(*out+".tmp", *out); err != nil {
			fatalf("writing %s: %v", *out, err)
		}
	}
	logf("counting proxy on http://%s -> %s", addr, cfg.Host)
	if err := (&http.Server{Handler: mux}).Serve(ln); err != nil {
		fatalf("serve: %v", err)
	}
}
