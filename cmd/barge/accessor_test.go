package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// accessorConfig is a Kubernetes-style pipeline written as for Fluentd:
// record accessors in grep's key, in record_transformer's remove_keys and
// ${record["a"]["b"]}, as a chunk key and as a ${...} placeholder of path.
const accessorConfig = `<source>
  @type forward
  bind 127.0.0.1
  port %d
</source>
<filter k8s.**>
  @type grep
  <regexp>
    key $.kubernetes.labels.app
    pattern /^(web|api)$/
  </regexp>
</filter>
<filter k8s.**>
  @type record_transformer
  remove_keys $.kubernetes.pod_id
  <record>
    ns ${record["kubernetes"]["namespace_name"]}
  </record>
</filter>
<match k8s.**>
  @type file
  path out/${$.kubernetes.namespace_name}/
  <buffer $.kubernetes.namespace_name>
    flush_interval 200ms
  </buffer>
</match>
`

// TestAccessorPipeline runs the real binary: records are kept by a nested
// label, lose a nested field, gain one read from a nested field, and land
// in one directory per namespace.
func TestAccessorPipeline(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	p := startBarge(t, dir, fmt.Sprintf(accessorConfig, port))
	p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "listening" })

	namespaces := []string{"prod", "dev", "kube-system"}
	const n = 60
	ns := func(i int) string {
		if i%15 == 14 {
			return "" // no namespace_name: the chunk key is "", the directory "_"
		}
		return namespaces[i%3]
	}
	app := func(i int) string { return []string{"web", "batch", "api", "web"}[i%4] }
	kept := func(i int) bool { return app(i) != "batch" && i%10 != 9 } // i%10 == 9 has no labels
	bargetest.SendRecords(t, fmt.Sprintf("127.0.0.1:%d", port), "k8s.app", 0, n, func(i int) map[string]any {
		k := map[string]any{"pod_id": fmt.Sprint("pod-", i)}
		if s := ns(i); s != "" {
			k["namespace_name"] = s
		}
		if i%10 != 9 {
			k["labels"] = map[string]any{"app": app(i)}
		}
		return map[string]any{"seq": i, "kubernetes": k}
	})

	want := map[string][]int{} // directory -> seqs
	total := 0
	for i := range n {
		if kept(i) {
			d := ns(i)
			if d == "" {
				d = "_"
			}
			want[d] = append(want[d], i)
			total++
		}
	}
	out := filepath.Join(dir, "out")
	all := bargetest.WaitRecords(t, out, total, 30*time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if len(all) != total {
		t.Fatalf("%d records, want %d", len(all), total)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	if !slices.Equal(dirs, []string{"_", "dev", "kube-system", "prod"}) {
		t.Fatalf("directories %v, want one per namespace and _", dirs)
	}
	for d, seqs := range want {
		var got []int
		for _, r := range bargetest.ReadRecords(t, filepath.Join(out, d)) {
			got = append(got, int(r["seq"].(float64)))
			k, _ := r["kubernetes"].(map[string]any)
			if _, ok := k["pod_id"]; ok {
				t.Errorf("%s: kubernetes.pod_id not removed: %v", d, r)
			}
			if a := k["labels"].(map[string]any)["app"]; a != "web" && a != "api" {
				t.Errorf("%s: app %v passed the grep", d, a)
			}
			wantNS := d
			if d == "_" {
				wantNS = ""
			}
			if k["namespace_name"] != nil && k["namespace_name"] != wantNS || r["ns"] != wantNS {
				t.Errorf("%s: record of namespace %v (ns %q): %v", d, k["namespace_name"], r["ns"], r)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, seqs) {
			t.Errorf("%s: seqs %v, want %v", d, got, seqs)
		}
	}
}
