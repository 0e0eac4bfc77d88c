package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// tracer writes one line per proxied request (DEVSTACK_BENCH_PROXY_TRACE=FILE; off by
// default): start and end in Unix nanoseconds, verb, resource, namespace, object name, HTTP
// status ("-" for none). For timelines of a side's requests (which are sequential, which overlap); a watch's
// line is written when it ends.
type tracer struct {
	mu   sync.Mutex
	file *os.File
}

func newTracer(path string) *tracer {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fatalf("trace file %s: %v", path, err)
	}
	return &tracer{file: f}
}

func (t *tracer) line(r *http.Request, start time.Time, status int) {
	verb, resource, ns := classify(r)
	name := ""
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if i := indexOf(parts, resource[:strings.IndexAny(resource+"/", "/")]); i >= 0 && i+1 < len(parts) {
		name = parts[i+1]
	}
	if name == "" {
		name = "-"
	}
	if ns == "" {
		ns = "-"
	}
	end := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.file, "%d %d %s %s %s %s %d\n", start.UnixNano(), end.UnixNano(), verb, resource, ns, name, status)
}

func indexOf(parts []string, s string) int {
	for i, p := range parts {
		if p == s {
			return i
		}
	}
	return -1
}

// statusWriter remembers the status code written through it (and passes flushes on, for
// watches).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
