package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ---------------------------------------------------------------- Engine API counting proxy

var apiVersion = regexp.MustCompile(`^/v[0-9.]+`)

// engineCall names an Engine API request with ids and names folded: "GET /containers/{id}/json".
func engineCall(r *http.Request) string {
	path := apiVersion.ReplaceAllString(r.URL.Path, "")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 2 {
		switch parts[0] {
		case "containers", "networks", "volumes", "exec", "plugins", "secrets", "configs":
			if parts[1] != "json" && parts[1] != "create" && parts[1] != "prune" {
				parts[1] = "{id}"
			}
		case "images":
			// Image names may hold slashes: keep the action at the end.
			if parts[1] != "json" && parts[1] != "create" && parts[1] != "prune" && parts[1] != "search" && parts[1] != "load" && parts[1] != "get" {
				last := parts[len(parts)-1]
				parts = []string{"images", "{name}"}
				if last == "json" || last == "history" || last == "tag" || last == "push" || last == "get" {
					parts = append(parts, last)
				}
			}
		}
	}
	return r.Method + " /" + strings.Join(parts, "/")
}

// cmdSockProxy serves the Engine API on --listen (a unix socket) and forwards every request
// to --upstream, appending one line per call ("METHOD /path" with ids folded) to --log.
func cmdSockProxy(args []string) {
	fs := flag.NewFlagSet("sockproxy", flag.ExitOnError)
	listen := fs.String("listen", "", "unix socket to serve")
	upstream := fs.String("upstream", "", "the engine's unix socket")
	logPath := fs.String("log", "", "append one line per API call here")
	_ = fs.Parse(args)
	logf2, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fatalf("%v", err)
	}
	var mu sync.Mutex
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "docker"
		},
		Transport:     unixTransport(*upstream),
		FlushInterval: -1,
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fmt.Fprintln(logf2, engineCall(r))
		mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	_ = os.Remove(*listen)
	ln, err := net.Listen("unix", *listen)
	if err != nil {
		fatalf("listen %s: %v", *listen, err)
	}
	logf("Engine API proxy on %s -> %s", *listen, *upstream)
	if err := (&http.Server{Handler: handler}).Serve(ln); err != nil {
		fatalf("serve: %v", err)
	}
}

func unixTransport(sock string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 64,
	}
}

// ---------------------------------------------------------------- physical floor

type engine struct {
	c *http.Client
}

func (e engine) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://docker/v1.41"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// composeConfig is the part of `docker compose config --format json` the floor needs.
type composeConfig struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Networks map[string]struct {
		Name     string            `json:"name"`
		Internal bool              `json:"internal"`
		Labels   map[string]string `json:"labels"`
	} `json:"networks"`
	Volumes map[string]struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"volumes"`
}

type composeService struct {
	Image       string             `json:"image"`
	User        string             `json:"user"`
	Entrypoint  []string           `json:"entrypoint"`
	Command     []string           `json:"command"`
	Environment map[string]*string `json:"environment"`
	Ports       []struct {
		Target    int    `json:"target"`
		Published string `json:"published"`
		HostIP    string `json:"host_ip"`
		Protocol  string `json:"protocol"`
	} `json:"ports"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Networks map[string]*struct {
		Aliases []string `json:"aliases"`
	} `json:"networks"`
	Volumes []struct {
		Type     string `json:"type"`
		Source   string `json:"source"`
		Target   string `json:"target"`
		ReadOnly bool   `json:"read_only"`
	} `json:"volumes"`
	ReadOnly    bool              `json:"read_only"`
	Tmpfs       []string          `json:"tmpfs"`
	CapDrop     []string          `json:"cap_drop"`
	CapAdd      []string          `json:"cap_add"`
	SecurityOpt []string          `json:"security_opt"`
	Labels      map[string]string `json:"labels"`
	Deploy      *struct {
		Resources struct {
			Limits struct {
				Cpus   flexNum `json:"cpus"`
				Memory flexNum `json:"memory"`
			} `json:"limits"`
		} `json:"resources"`
	} `json:"deploy"`
}

const floorLabel = "dev.devstack.bench-floor"

// cmdPhysical is the physical floor of `devstack up`: straight Engine API calls — networks and
// volumes created at once, each container created and started (`docker run`) as soon as the
// services it depends on are ready, readiness probed by running the service's own health
// command in it every --probe-every.
func cmdPhysical(args []string) {
	fs := flag.NewFlagSet("physical", flag.ExitOnError)
	config := fs.String("config", "", "`docker compose config --format json` of the rendered file")
	sock := fs.String("socket", "/var/run/docker.sock", "the engine's unix socket")
	every := fs.Duration("probe-every", 50*time.Millisecond, "readiness probe period")
	down := fs.Bool("down", false, "remove what a previous run created instead")
	volumes := fs.Bool("volumes", false, "with --down: the volumes too")
	side := fs.String("side", "physical", "side name")
	bench := fs.String("bench", "K4", "benchmark name")
	run := fs.Int("run", 0, "run number")
	_ = fs.Parse(args)
	raw, err := os.ReadFile(*config)
	if err != nil {
		fatalf("%v", err)
	}
	var cfg composeConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		fatalf("%s: %v", *config, err)
	}
	e := engine{c: &http.Client{Transport: unixTransport(*sock)}}
	ctx := context.Background()
	if *down {
		physicalDown(ctx, e, cfg, *volumes)
		return
	}
	start := time.Now()
	if err := physicalUp(ctx, e, cfg, *every); err != nil {
		fatalf("%v", err)
	}
	Result{Bench: *bench, Side: *side, Run: *run, Wall: secs(time.Since(start)),
		Note: fmt.Sprintf("Engine API, probe every %s", *every)}.Print()
}

func parallel(items []string, f func(string) error) error {
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		go func(it string) {
			defer wg.Done()
			if err := f(it); err != nil {
				errs <- err
			}
		}(it)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func physicalUp(ctx context.Context, e engine, cfg composeConfig, every time.Duration) error {
	nets := sortedKeys(cfg.Networks)
	if err := parallel(nets, func(n string) error {
		net := cfg.Networks[n]
		return e.call(ctx, "POST", "/networks/create", map[string]any{
			"Name": net.Name, "Driver": "bridge", "Internal": net.Internal, "CheckDuplicate": true,
			"Labels": map[string]string{floorLabel: cfg.Name},
		}, nil)
	}); err != nil {
		return err
	}
	if err := parallel(sortedKeys(cfg.Volumes), func(v string) error {
		return e.call(ctx, "POST", "/volumes/create", map[string]any{"Name": cfg.Volumes[v].Name}, nil)
	}); err != nil {
		return err
	}
	ready := map[string]chan struct{}{}
	for name := range cfg.Services {
		ready[name] = make(chan struct{})
	}
	return parallel(sortedKeys(cfg.Services), func(name string) error {
		svc := cfg.Services[name]
		for dep := range svc.DependsOn {
			<-ready[dep]
		}
		id, err := runContainer(ctx, e, cfg, name, svc)
		if err != nil {
			return err
		}
		if svc.Healthcheck != nil && len(svc.Healthcheck.Test) > 1 && svc.Healthcheck.Test[0] != "NONE" {
			argv := unescape(svc.Healthcheck.Test[1:])
			if svc.Healthcheck.Test[0] == "CMD-SHELL" {
				argv = []string{"/bin/sh", "-c", strings.Join(argv, " ")}
			}
			deadline := time.Now().Add(5 * time.Minute)
			debugf("%s: started, probing %v", name, argv)
			for !probe(ctx, e, id, argv) {
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: not ready after 5m", name)
				}
				time.Sleep(every)
			}
		}
		debugf("%s: ready", name)
		close(ready[name])
		return nil
	})
}

func runContainer(ctx context.Context, e engine, cfg composeConfig, name string, svc composeService) (string, error) {
	var env []string
	for _, k := range sortedKeys(svc.Environment) {
		if v := svc.Environment[k]; v != nil {
			env = append(env, k+"="+strings.ReplaceAll(*v, "$$", "$"))
		}
	}
	exposed := map[string]any{}
	bindings := map[string][]map[string]string{}
	for _, p := range svc.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		key := fmt.Sprintf("%d/%s", p.Target, proto)
		exposed[key] = struct{}{}
		if p.Published != "" {
			bindings[key] = append(bindings[key], map[string]string{"HostIp": p.HostIP, "HostPort": p.Published})
		}
	}
	var mounts []map[string]any
	for _, v := range svc.Volumes {
		src := v.Source
		if v.Type == "volume" {
			if vol, ok := cfg.Volumes[src]; ok {
				src = vol.Name
			}
		}
		mounts = append(mounts, map[string]any{"Type": v.Type, "Source": src, "Target": v.Target, "ReadOnly": v.ReadOnly})
	}
	tmpfs := map[string]string{}
	for _, t := range svc.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		tmpfs[path] = opts
	}
	host := map[string]any{
		"PortBindings": bindings, "Mounts": mounts, "ReadonlyRootfs": svc.ReadOnly, "Tmpfs": tmpfs,
		"CapDrop": svc.CapDrop, "CapAdd": svc.CapAdd, "SecurityOpt": svc.SecurityOpt,
	}
	if svc.Deploy != nil {
		host["Memory"] = int64(svc.Deploy.Resources.Limits.Memory)
		host["NanoCpus"] = int64(float64(svc.Deploy.Resources.Limits.Cpus) * 1e9)
	}
	nets := sortedKeys(svc.Networks)
	endpoint := func(n string) map[string]any {
		aliases := []string{name}
		if c := svc.Networks[n]; c != nil {
			aliases = append(aliases, c.Aliases...)
		}
		return map[string]any{"Aliases": aliases}
	}
	netConfig := map[string]any{}
	if len(nets) > 0 {
		host["NetworkMode"] = cfg.Networks[nets[0]].Name
		netConfig[cfg.Networks[nets[0]].Name] = endpoint(nets[0])
	}
	labels := map[string]string{floorLabel: cfg.Name}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	body := map[string]any{
		"Image": svc.Image, "User": svc.User, "Env": env, "ExposedPorts": exposed, "Labels": labels,
		"HostConfig": host, "NetworkingConfig": map[string]any{"EndpointsConfig": netConfig},
	}
	if svc.Entrypoint != nil {
		body["Entrypoint"] = unescape(svc.Entrypoint)
	}
	if svc.Command != nil {
		body["Cmd"] = unescape(svc.Command)
	}
	var created struct{ Id string }
	if err := e.call(ctx, "POST", "/containers/create?name="+cfg.Name+"-"+name+"-1", body, &created); err != nil {
		return "", err
	}
	for _, n := range nets[min(1, len(nets)):] {
		if err := e.call(ctx, "POST", "/networks/"+cfg.Networks[n].Name+"/connect",
			map[string]any{"Container": created.Id, "EndpointConfig": endpoint(n)}, nil); err != nil {
			return "", err
		}
	}
	return created.Id, e.call(ctx, "POST", "/containers/"+created.Id+"/start", nil, nil)
}

// probe runs argv in the container (exec create, start attached, inspect) and reports exit 0.
func probe(ctx context.Context, e engine, id string, argv []string) bool {
	var created struct{ Id string }
	if err := e.call(ctx, "POST", "/containers/"+id+"/exec", map[string]any{
		"Cmd": argv, "AttachStdout": true, "AttachStderr": true}, &created); err != nil {
		debugf("exec create: %v", err)
		return false
	}
	if err := e.execStart(ctx, created.Id); err != nil {
		debugf("exec start: %v", err)
		return false
	}
	var st struct {
		Running  bool
		ExitCode int
	}
	if e.call(ctx, "GET", "/exec/"+created.Id+"/json", nil, &st) != nil {
		return false
	}
	return !st.Running && st.ExitCode == 0
}

// execStart runs an exec attached, as the docker CLI does (Upgrade: tcp): the engine closes the
// stream when the command exits.
func (e engine) execStart(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://docker/v1.41/exec/"+id+"/start",
		strings.NewReader(`{"Detach":false,"Tty":false}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	resp, err := e.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("exec start: %d", resp.StatusCode)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func physicalDown(ctx context.Context, e engine, cfg composeConfig, volumes bool) {
	filter := fmt.Sprintf(`{"label":["%s=%s"]}`, floorLabel, cfg.Name)
	var ctrs []struct{ Id string }
	if err := e.call(ctx, "GET", "/containers/json?all=1&filters="+urlQuery(filter), nil, &ctrs); err != nil {
		fatalf("%v", err)
	}
	ids := make([]string, 0, len(ctrs))
	for _, c := range ctrs {
		ids = append(ids, c.Id)
	}
	_ = parallel(ids, func(id string) error {
		return e.call(ctx, "DELETE", "/containers/"+id+"?force=1", nil, nil)
	})
	var names []string
	for _, n := range cfg.Networks {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	_ = parallel(names, func(n string) error { return e.call(ctx, "DELETE", "/networks/"+n, nil, nil) })
	if volumes {
		var vols []string
		for _, v := range cfg.Volumes {
			vols = append(vols, v.Name)
		}
		_ = parallel(vols, func(v string) error { return e.call(ctx, "DELETE", "/volumes/"+v, nil, nil) })
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", "[", "%5B", "]", "%5D", "=", "%3D", ":", "%3A", ",", "%2C", "/", "%2F", " ", "%20")
	return r.Replace(s)
}

// flexNum reads a JSON number or a string holding one (Compose writes both).
type flexNum float64

func (f *flexNum) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = flexNum(v)
	return nil
}

func debugf(format string, args ...any) {
	if os.Getenv("FLOOR_DEBUG") != "" {
		logf(format, args...)
	}
}

// unescape undoes Compose's "$$" escaping (`compose config` keeps it; Compose itself hands the
// engine a single "$").
func unescape(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "$$", "$")
	}
	return out
}
