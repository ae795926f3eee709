package objkey

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanPathValue(t *testing.T) {
	long := strings.Repeat("L", 256)
	tests := []struct{ in, want string }{
		{"app.web", "app.web"},
		{"", "_"},
		{".", "_"},
		{"..", "_"},
		{"...", "..."},
		{"../../etc", ".._.._etc"},
		{`a\b`, "a_b"},
		{"a\x00b", "a_b"},
		{"line\nbreak\r\t", "line_break__"},
		{"del\x7f", "del_"},
		{"c1\u0085x", "c1_x"},
		{"bad\xff\xfeutf8", "bad__utf8"},
		{"日本.ログ", "日本.ログ"},
		{"\uFFFD is fine", "\uFFFD is fine"},
		{strings.Repeat("x", MaxValueLen), strings.Repeat("x", MaxValueLen)},
		{long, strings.Repeat("L", MaxValueLen-hashLen) + "~" + hash16(long)},
	}
	for _, tt := range tests {
		if got := CleanPathValue(tt.in); got != tt.want {
			t.Errorf("CleanPathValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A cut never splits a character: 3-byte characters, 200 bytes long.
	jp := strings.Repeat("日", 100)
	got := CleanPathValue(jp)
	if !utf8.ValidString(got) || len(got) > MaxValueLen || !strings.HasPrefix(got, strings.Repeat("日", (MaxValueLen-hashLen)/3)+"~") {
		t.Errorf("CleanPathValue(300 bytes of 日) = %q (%d bytes)", got, len(got))
	}
	// Values that differ only past the cut keep distinct names.
	if CleanPathValue(long) == CleanPathValue(long+"x") {
		t.Error("values differing past the cut got the same name")
	}
}

func hash16(s string) string { return string(appendHash(nil, s)[1:]) }

// FuzzCleanPathValue checks CleanPathValue's promises on any value; the
// seeds run with the normal tests.
func FuzzCleanPathValue(f *testing.F) {
	for _, s := range []string{"", ".", "..", "app.web", "../x", `a\b`, "a/b", "\x00", "\n", "\xff", "日本", "\u0085",
		strings.Repeat("a", MaxValueLen), strings.Repeat("a", MaxValueLen+1), strings.Repeat("日", 70), strings.Repeat("\xff", 300),
		strings.Repeat("/", 250), strings.Repeat("é", 101) + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := CleanPathValue(s)
		checkClean(t, s, out)
		if again := CleanPathValue(s); again != out {
			t.Fatalf("CleanPathValue(%q) = %q, then %q", s, out, again)
		}
		if CleanPathValue(out) != out {
			t.Fatalf("CleanPathValue(%q) = %q is not a fixed point", s, out)
		}
		if len(s) <= MaxValueLen && cleanPath(s) && s != "" && s != "." && s != ".." && out != s {
			t.Fatalf("safe value %q became %q", s, out)
		}
		if len(s) >= MaxValueLen {
			// Differences past the cut give other names.
			others := []string{s + "x"}
			if len(s) > MaxValueLen {
				others = append(others, s[:len(s)-1]+string(s[len(s)-1]^1))
			}
			for _, other := range others {
				if o := CleanPathValue(other); o == out {
					t.Fatalf("CleanPathValue(%q) = CleanPathValue(%q) = %q", s, other, o)
				}
			}
		}
	})
}

// checkClean fails unless out is a name CleanPathValue may return.
func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) || len(out) == 0 || len(out) > MaxValueLen || out == "." || out == ".." {
		t.Fatalf("CleanPathValue(%q) = %q (%d bytes)", in, out, len(out))
	}
	for _, r := range out {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			t.Fatalf("CleanPathValue(%q) = %q holds %q", in, out, r)
		}
	}
}

func TestCheckObjectKey(t *testing.T) {
	for _, tt := range []struct {
		key string
		ok  bool
	}{
		{"logs/app.web/2026112210_0123.gz", true},
		{strings.Repeat("k", MaxObjectKeyLen), true},
		{strings.Repeat("k", MaxObjectKeyLen+1), false},
		{"bad\xff", false},
	} {
		err := CheckObjectKey(tt.key)
		if (err == nil) != tt.ok || err != nil && (!errors.Is(err, ErrObjectKey) || !strings.Contains(err.Error(), tt.key[:3])) {
			t.Errorf("CheckObjectKey(%.20q...) = %v", tt.key, err)
		}
	}
}

// TestKeyFormatCleansLongTag is the tag that made the file output retry
// forever: a 256-byte tag becomes a path element of 200 bytes, the same on
// every retry.
func TestKeyFormatCleansLongTag(t *testing.T) {
	kf, err := NewKeyFormat(KeyConfig{Path: "out/${tag}/${tag[1]}/${host}/", Clean: CleanPathValue})
	if err != nil {
		t.Fatal(err)
	}
	v := ChunkVars{ID: "0123456789abcdef0123456789abcdef", Tag: "a." + strings.Repeat("L", 256), Keys: map[string]string{"host": "x\ny"}, Hostname: "h/1"}
	key := kf.Key(v)
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] != "out" || len(parts[1]) != MaxValueLen || len(parts[2]) != MaxValueLen || parts[3] != "x_y" || parts[1] == parts[2] {
		t.Fatalf("key %q", key)
	}
	if again := kf.Key(v); again != key {
		t.Errorf("key %q, then %q", key, again)
	}
	kf, _ = NewKeyFormat(KeyConfig{Path: "out/", ObjectKeyFormat: "%{path}%{hostname}/%{chunk_id}", Clean: CleanPathValue})
	if got := kf.Key(v); got != "out/h_1/0123456789abcdef0123456789abcdef" {
		t.Errorf("hostname: key %q", got)
	}
}
