package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// cmdTable prints the side-by-side table of result files (JSON lines): per bench and side,
// runs, median, p90, min and max of the wall time, the median of every extra figure, and the
// median request breakdown (the client's own requests through the counting proxy, and every
// client's from apiserver_request_total).
func cmdTable(args []string) {
	fs := flag.NewFlagSet("table", flag.ExitOnError)
	ratioTo := fs.String("ratio-to", "", "comma-separated sides: print each side's median / theirs (side \"X cold\" / \"B cold\" when there is one)")
	top := fs.Int("top", 10, "request breakdown: this many verb/resource pairs")
	_ = fs.Parse(args)
	type group struct {
		bench, side string
		results     []Result
	}
	var order []*group
	groups := map[string]*group{}
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			fatalf("%v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<22), 1<<22)
		for sc.Scan() {
			var r Result
			if json.Unmarshal(sc.Bytes(), &r) != nil || r.Side == "" {
				continue
			}
			key := r.Bench + "\x00" + r.Side
			g := groups[key]
			if g == nil {
				g = &group{bench: r.Bench, side: r.Side}
				groups[key] = g
				order = append(order, g)
			}
			g.results = append(g.results, r)
		}
		f.Close()
	}
	medians := map[string]float64{}
	for _, g := range order {
		medians[g.bench+"\x00"+g.side] = median(sortedWalls(g.results))
	}
	var bases []string
	if *ratioTo != "" {
		bases = strings.Split(*ratioTo, ",")
	}
	fmt.Printf("%-5s %-34s %4s %9s %9s %9s %9s", "bench", "side", "runs", "median_s", "p90_s", "min_s", "max_s")
	for _, b := range bases {
		fmt.Printf("  %s", "/"+b)
	}
	fmt.Println()
	for _, g := range order {
		w := sortedWalls(g.results)
		if w[len(w)-1] == 0 { // a count, not a timed run: its figures are below
			fmt.Printf("%-5s %-34s %4d %9s %9s %9s %9s\n", g.bench, g.side, len(w), "-", "-", "-", "-")
			continue
		}
		fmt.Printf("%-5s %-34s %4d %9.3f %9.3f %9.3f %9.3f", g.bench, g.side, len(w), median(w),
			quantile(w, 0.9), w[0], w[len(w)-1])
		for _, b := range bases {
			// A side "X cold" is compared with "B cold" when there is one, else with "B".
			fields := strings.Fields(g.side)
			base, ok := medians[g.bench+"\x00"+b+" "+fields[len(fields)-1]]
			if !ok {
				base, ok = medians[g.bench+"\x00"+b]
			}
			ratio := "-"
			if ok && base > 0 && median(w) > 0 {
				ratio = fmt.Sprintf("%.2f", median(w)/base)
			}
			fmt.Printf("  %*s", len(b)+1, ratio)
		}
		fmt.Println()
	}
	fmt.Println()
	for _, g := range order {
		fmt.Printf("%s %s (median of %d runs):\n", g.bench, g.side, len(g.results))
		extras := map[string][]float64{}
		for _, r := range g.results {
			for k, v := range r.Extra {
				extras[k] = append(extras[k], v)
			}
		}
		if len(extras) > 0 {
			var parts []string
			for _, k := range sortedKeys(extras) {
				v := extras[k]
				sort.Float64s(v)
				parts = append(parts, fmt.Sprintf("%s=%s (p90 %s)", k, num(median(v)), num(quantile(v, 0.9))))
			}
			fmt.Printf("  figures: %s\n", strings.Join(parts, ", "))
		}
		for _, which := range []string{"client", "all clients"} {
			per := map[string][]float64{}
			for _, r := range g.results {
				c := r.Client
				if which != "client" {
					c = r.All
				}
				for k, v := range c {
					per[k] = append(per[k], v)
				}
			}
			if len(per) == 0 {
				continue
			}
			type kv struct {
				k string
				v float64
			}
			var rows []kv
			var total float64
			for k, vs := range per {
				for len(vs) < len(g.results) {
					vs = append(vs, 0)
				}
				sort.Float64s(vs)
				rows = append(rows, kv{k, median(vs)})
				total += median(vs)
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].v > rows[j].v || rows[i].v == rows[j].v && rows[i].k < rows[j].k })
			var parts []string
			for i, r := range rows {
				if i == *top {
					parts = append(parts, fmt.Sprintf("+%d more", len(rows)-i))
					break
				}
				parts = append(parts, fmt.Sprintf("%s %s", r.k, num(r.v)))
			}
			label := "requests (own, via proxy)"
			if which != "client" {
				label = "requests (all clients, apiserver_request_total)"
			}
			fmt.Printf("  %s: total %s: %s\n", label, num(total), strings.Join(parts, "; "))
		}
		if note := g.results[0].Note; note != "" {
			fmt.Printf("  note: %s\n", note)
		}
	}
}

func sortedWalls(rs []Result) []float64 {
	w := make([]float64, 0, len(rs))
	for _, r := range rs {
		w = append(w, r.Wall)
	}
	sort.Float64s(w)
	return w
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}
