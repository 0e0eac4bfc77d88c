// Command configcheck reads a Kind cluster config the way `kind create cluster --config` does
// (Kind's public v1alpha4 types, strict YAML: an unknown or misspelled field is an error;
// Kind's defaults) and applies the checks of Kind's own validation that a config file can
// get wrong: node roles, at least one control plane, port numbers, duplicate port mappings,
// listen addresses, and that every kubeadm patch is a YAML object with a kind. Kind keeps
// its loader and validator in internal packages, so they are mirrored here.
//
// On success it prints the config's host port mappings as JSON:
// [{"hostPort":5433,"containerPort":5433,"listenAddress":"127.0.0.1","protocol":"TCP"}, ...]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

type mapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	ListenAddress string `json:"listenAddress"`
	Protocol      string `json:"protocol"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: configcheck KIND-CONFIG.yaml")
		os.Exit(2)
	}
	mappings, err := check(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	out, err := json.Marshal(mappings)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func check(path string) ([]mapping, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tm struct {
		Kind       string `yaml:"kind"`
		APIVersion string `yaml:"apiVersion"`
	}
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("could not determine kind / apiVersion: %w", err)
	}
	if tm.APIVersion != "kind.x-k8s.io/v1alpha4" || tm.Kind != "Cluster" {
		return nil, fmt.Errorf("want kind.x-k8s.io/v1alpha4 Cluster, got %s %s", tm.APIVersion, tm.Kind)
	}
	cfg := &v1alpha4.Cluster{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("unable to decode config: %w", err)
	}
	v1alpha4.SetDefaultsCluster(cfg)

	var errs []error
	for _, p := range cfg.KubeadmConfigPatches {
		errs = append(errs, checkPatch("cluster", p))
	}
	controlPlanes := 0
	var all []mapping
	for i, n := range cfg.Nodes {
		switch n.Role {
		case v1alpha4.ControlPlaneRole:
			controlPlanes++
		case v1alpha4.WorkerRole:
		default:
			errs = append(errs, fmt.Errorf("node %d: %q is not a valid node role", i, n.Role))
		}
		for _, p := range n.KubeadmConfigPatches {
			errs = append(errs, checkPatch(fmt.Sprintf("node %d", i), p))
		}
		seen := map[string]bool{}
		for _, m := range n.ExtraPortMappings {
			for _, port := range []int32{m.HostPort, m.ContainerPort} {
				if port < -1 || port > 65535 {
					errs = append(errs, fmt.Errorf("node %d: invalid port number %d", i, port))
				}
			}
			addr := m.ListenAddress
			if net.ParseIP(addr) == nil {
				errs = append(errs, fmt.Errorf("node %d: invalid listen address %q", i, addr))
			}
			key := fmt.Sprintf("%s:%d/%s", addr, m.HostPort, m.Protocol)
			if m.HostPort > 0 && seen[key] {
				errs = append(errs, fmt.Errorf("node %d: port mapping %s configured twice", i, key))
			}
			seen[key] = true
			all = append(all, mapping{m.HostPort, m.ContainerPort, addr, string(m.Protocol)})
		}
	}
	if controlPlanes < 1 {
		errs = append(errs, errors.New("must have at least one control-plane node"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return all, nil
}

// checkPatch: Kind hands each patch to kubeadm as a YAML object that names its kind.
func checkPatch(where, patch string) error {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(patch), &obj); err != nil {
		return fmt.Errorf("%s: kubeadm patch is not YAML: %w", where, err)
	}
	if kind, _ := obj["kind"].(string); kind == "" {
		return fmt.Errorf("%s: kubeadm patch has no kind", where)
	}
	return nil
}
