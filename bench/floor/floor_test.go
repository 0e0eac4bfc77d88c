package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClassifyNamesRequestsLikeTheAPIServer(t *testing.T) {
	cases := []struct{ method, url, ctype, verb, resource, ns string }{
		{"GET", "/api/v1/namespaces/a/secrets", "", "LIST", "secrets", "a"},
		{"GET", "/api/v1/namespaces/a/secrets/s", "", "GET", "secrets", "a"},
		{"GET", "/apis/apps/v1/deployments?watch=true", "", "WATCH", "deployments", ""},
		{"PATCH", "/apis/apps/v1/namespaces/b/deployments/d", "application/apply-patch+yaml", "APPLY", "deployments", "b"},
		{"PATCH", "/apis/devstack.dev/v1alpha1/namespaces/b/devstacks/s/status", "application/merge-patch+json", "PATCH", "devstacks/status", "b"},
		{"POST", "/api/v1/namespaces/c/events", "", "POST", "events", "c"},
		{"DELETE", "/api/v1/namespaces/c/pods", "", "DELETECOLLECTION", "pods", "c"},
		{"GET", "/api/v1/namespaces/c", "", "GET", "namespaces", ""},
		{"GET", "/version", "", "GET", "nonresource", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.url, strings.NewReader(""))
		r.Header.Set("Content-Type", c.ctype)
		verb, resource, ns := classify(r)
		if verb != c.verb || resource != c.resource || ns != c.ns {
			t.Errorf("%s %s: got %s %s %q, want %s %s %q", c.method, c.url, verb, resource, ns, c.verb, c.resource, c.ns)
		}
	}
}

func TestEngineCallFoldsIdsAndImageNames(t *testing.T) {
	cases := map[string]string{
		"/v1.41/containers/abc123/json":                 "GET /containers/{id}/json",
		"/v1.41/containers/json":                        "GET /containers/json",
		"/v1.41/images/devstack-local/postgres:15/json": "GET /images/{name}/json",
		"/v1.41/exec/e1/start":                          "GET /exec/{id}/start",
		"/_ping":                                        "GET /_ping",
	}
	for path, want := range cases {
		if got := engineCall(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

func TestQuantilesAreNearestRank(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if q := quantile(v, 0.9); q != 9 {
		t.Errorf("p90 of 1..10 = %v, want 9", q)
	}
	if q := quantile(v[:3], 0.9); q != 3 {
		t.Errorf("p90 of 3 runs = %v, want the slowest", q)
	}
	if m := median(v); m != 5.5 {
		t.Errorf("median = %v", m)
	}
}

func TestUnescapeUndoesComposeDollarEscaping(t *testing.T) {
	got := unescape([]string{`REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping`})
	if got[0] != `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping` {
		t.Errorf("got %q", got[0])
	}
}
