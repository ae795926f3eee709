package objkey

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKeyFormat(t *testing.T) {
	tk := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	vars := ChunkVars{
		ID:            "0123456789abcdef0123456789abcdef",
		Tag:           "app.web.frontend",
		Keys:          map[string]string{"host": "node-1", "level": "info"},
		TimeKey:       tk,
		Created:       time.Date(2026, 11, 22, 12, 34, 56, 0, time.UTC),
		Hostname:      "barge-0",
		FileExtension: "gz",
	}
	tests := []struct {
		name      string
		cfg       KeyConfig
		vars      func(*ChunkVars)
		wantPath  string
		wantKey   string
		chunkKeys []string
	}{
		{name: "defaults", cfg: KeyConfig{Path: "./out/${tag}/"}, chunkKeys: []string{"tag", "time"},
			wantPath: "./out/app.web.frontend/", wantKey: "./out/app.web.frontend/2026112210_0123456789abcdef0123456789abcdef.gz"},
		{name: "strftime in path", cfg: KeyConfig{Path: "logs/%Y/%m/%d/${tag[1]}/${tag[-1]}-", TimeSliceFormat: "%H%M"}, chunkKeys: []string{"time", "tag"},
			wantPath: "logs/2026/11/22/web/frontend-", wantKey: "logs/2026/11/22/web/frontend-1000_0123456789abcdef0123456789abcdef.gz"},
		{name: "all placeholders", cfg: KeyConfig{Path: "p/${host}/", ObjectKeyFormat: "%{path}%{hostname}/%{uuid_flush}-%{hex_random}-%{index}-${level}-%H.%{file_extension}", HexRandomLength: 6},
			chunkKeys: []string{"host", "level", "time"},
			wantPath:  "p/node-1/", wantKey: "p/node-1/barge-0/01234567-89ab-cdef-0123-456789abcdef-fedcba-0-info-10.gz"},
		{name: "no time key uses created", cfg: KeyConfig{Path: "x/"}, vars: func(v *ChunkVars) { v.TimeKey = time.Time{} },
			wantPath: "x/", wantKey: "x/2026112212_0123456789abcdef0123456789abcdef.gz"},
		{name: "percent escapes", cfg: KeyConfig{Path: "a%%b/", ObjectKeyFormat: "%{path}%%{chunk_id}_%{chunk_id}"},
			wantPath: "a%b/", wantKey: "a%b/%{chunk_id}_0123456789abcdef0123456789abcdef"},
		{name: "tag index out of range", cfg: KeyConfig{Path: "t/${tag[7]}/"}, chunkKeys: []string{"tag"},
			wantPath: "t//", wantKey: "t//2026112210_0123456789abcdef0123456789abcdef.gz"},
		{name: "clean values", cfg: KeyConfig{Path: "out/${tag}/${host}/", Clean: CleanPathValue},
			vars:      func(v *ChunkVars) { v.Tag = "../../etc"; v.Keys = map[string]string{"host": ".."} },
			chunkKeys: []string{"tag", "host"},
			wantPath:  "out/.._.._etc/_/", wantKey: "out/.._.._etc/_/2026112210_0123456789abcdef0123456789abcdef.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf, err := NewKeyFormat(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := kf.CheckChunkKeys(tt.chunkKeys); err != nil {
				t.Errorf("CheckChunkKeys: %v", err)
			}
			v := vars
			if tt.vars != nil {
				tt.vars(&v)
			}
			if got := kf.Path(v); got != tt.wantPath {
				t.Errorf("path = %q, want %q", got, tt.wantPath)
			}
			if got := kf.Key(v); got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestKeyFormatErrors(t *testing.T) {
	tests := []struct {
		cfg  KeyConfig
		want string
	}{
		{KeyConfig{Path: "x/", ObjectKeyFormat: "%{path}%{time_slice}_%{hex_random}.gz"}, `'object_key_format' "%{path}%{time_slice}_%{hex_random}.gz" must contain %{chunk_id}, %{uuid_flush} or %{index}`},
		{KeyConfig{Path: "x/%{index}/", ObjectKeyFormat: "%{time_slice}.gz"}, `'object_key_format' "%{time_slice}.gz" must contain %{chunk_id}, %{uuid_flush} or %{index}`},
		{KeyConfig{Path: "x/", ObjectKeyFormat: "%{path}%{nope}%{chunk_id}"}, `'object_key_format' has an unknown placeholder %{nope}`},
		{KeyConfig{Path: "x/%{path}"}, `'path' has an unknown placeholder %{path}`},
		{KeyConfig{Path: "x/${tag"}, `'path' has an unclosed ${`},
		{KeyConfig{Path: "x/${tag[a]}/"}, `'path' has a bad tag index in ${tag[a]}`},
		{KeyConfig{Path: "x/${}/"}, `'path' has an empty ${}`},
		{KeyConfig{Path: "x/", ObjectKeyFormat: "%{path}%{chunk_id}/"}, `'object_key_format' "%{path}%{chunk_id}/" ends with / but must name a file or object`},
		{KeyConfig{Path: "x/", HexRandomLength: 33}, `'hex_random_length' 33 is not in 1..32`},
	}
	for _, tt := range tests {
		_, err := NewKeyFormat(tt.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
	_, err := NewKeyFormat(KeyConfig{Path: "x/", ObjectKeyFormat: "%{path}x"})
	if !errors.Is(err, ErrNotUnique) {
		t.Errorf("err = %v, want ErrNotUnique", err)
	}
}

func TestCheckChunkKeys(t *testing.T) {
	tests := []struct {
		cfg       KeyConfig
		chunkKeys []string
		want      string
	}{
		{KeyConfig{Path: "./out/${tag}/"}, []string{"time"}, `'path' uses ${tag} but 'tag' is not a chunk key`},
		{KeyConfig{Path: "./out/${tag[0]}/"}, nil, `'path' uses ${tag} but 'tag' is not a chunk key`},
		{KeyConfig{Path: "./out/${host}/"}, []string{"tag"}, `'path' uses ${host} but 'host' is not a chunk key`},
		{KeyConfig{Path: "./out/%Y/"}, []string{"tag"}, `'path' uses time placeholders (%Y, %m, ...) but 'time' is not a chunk key`},
		{KeyConfig{Path: "./out/", ObjectKeyFormat: "%{path}%H_%{chunk_id}"}, nil, `'object_key_format' uses time placeholders (%Y, %m, ...) but 'time' is not a chunk key`},
		{KeyConfig{Path: "./out/", ObjectKeyFormat: "%{path}%{time_slice}%%_%{chunk_id}"}, nil, ``},
		{KeyConfig{Path: "./out/${tag}/${host}/%Y/"}, []string{"tag", "host", "time"}, ``},
	}
	for _, tt := range tests {
		kf, err := NewKeyFormat(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := errString(kf.CheckChunkKeys(tt.chunkKeys)); got != tt.want {
			t.Errorf("%+v with %v: got %q, want %q", tt.cfg, tt.chunkKeys, got, tt.want)
		}
	}
	err := CheckChunkKeys([]string{"./out/", "./out/${host}/"}, []string{"tag"})
	if got, want := errString(err), `"./out/${host}/" uses ${host} but 'host' is not a chunk key`; got != want {
		t.Errorf("CheckChunkKeys = %q, want %q", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
