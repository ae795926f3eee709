package objkey

import (
	"testing"
	"time"
)

// TestRecordAccessorPlaceholders: a record accessor chunk key is a ${...}
// placeholder by its text, as in Fluentd ("${$.kubernetes.namespace_name}"),
// its value cleaned as every value from the data.
func TestRecordAccessorPlaceholders(t *testing.T) {
	vars := ChunkVars{
		ID:   "0123456789abcdef0123456789abcdef",
		Tag:  "kube.app",
		Keys: map[string]string{"$.kubernetes.namespace_name": "prod", "$.kubernetes.labels['app.kubernetes.io/name']": "shop/web", "$.ids[0]": "7", "host": "n1"},
		// no time key: %{time_slice} from Created
		Created:       time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		FileExtension: "log",
	}
	tests := []struct {
		name, path   string
		chunkKeys    []string
		wantPath     string
		wantCheckErr string
	}{
		{"dot", "out/${$.kubernetes.namespace_name}/", []string{"$.kubernetes.namespace_name"}, "out/prod/", ""},
		{"with tag and plain key", "out/${tag}/${$.kubernetes.namespace_name}/${host}-", []string{"tag", "$.kubernetes.namespace_name", "host"},
			"out/kube.app/prod/n1-", ""},
		{"index", "out/${$.ids[0]}/", []string{"$.ids[0]"}, "out/7/", ""},
		{"quoted name, value cleaned", "out/${$.kubernetes.labels['app.kubernetes.io/name']}/", []string{"$.kubernetes.labels['app.kubernetes.io/name']"},
			"out/shop_web/", ""},
		{"not a chunk key", "out/${$.kubernetes.namespace_name}/", []string{"tag"}, "",
			`'path' uses ${$.kubernetes.namespace_name} but '$.kubernetes.namespace_name' is not a chunk key`},
		{"matched by text", "out/${$.kubernetes.namespace_name}/", []string{"kubernetes.namespace_name"}, "",
			`'path' uses ${$.kubernetes.namespace_name} but '$.kubernetes.namespace_name' is not a chunk key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf, err := NewKeyFormat(KeyConfig{Path: tt.path, ObjectKeyFormat: "%{path}%{chunk_id}.%{file_extension}", Clean: CleanPathValue})
			if err != nil {
				t.Fatal(err)
			}
			if got := errString(kf.CheckChunkKeys(tt.chunkKeys)); got != tt.wantCheckErr {
				t.Errorf("CheckChunkKeys = %q, want %q", got, tt.wantCheckErr)
			}
			if tt.wantCheckErr != "" {
				return
			}
			if got := kf.Path(vars); got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
			if got, want := kf.Key(vars), tt.wantPath+vars.ID+".log"; got != want {
				t.Errorf("key = %q, want %q", got, want)
			}
		})
	}
}
